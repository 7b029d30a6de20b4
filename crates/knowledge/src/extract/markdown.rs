//! Markdown (and plain text) to blocks, line by line. Not a full CommonMark parser: it knows
//! what matters for chunking — headings, lists, pipe tables, fenced code, paragraphs — and
//! strips inline markup so that passages read as text.

use super::{Block, Extracted};
use crate::text::clean;

/// Plain text: paragraphs separated by blank lines.
pub fn extract_plain(text: &str) -> Extracted {
    let text = clean(text);
    let blocks = text
        .split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .map(Block::Paragraph)
        .collect();
    Extracted { title: None, blocks, ..Extracted::default() }
}

pub fn extract(text: &str) -> Extracted {
    let text = clean(text);
    let (title, body) = front_matter(&text);
    let mut reader = Reader::default();
    let mut lines = body.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if let Some(fence) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
            reader.flush();
            let mut code = Vec::new();
            for inner in lines.by_ref() {
                if inner.trim().starts_with(fence) {
                    break;
                }
                code.push(inner);
            }
            let code = code.join("\n");
            if !code.trim().is_empty() {
                reader.blocks.push(Block::Code(code));
            }
            continue;
        }
        if trimmed.is_empty() {
            reader.flush();
            continue;
        }
        if let Some((level, heading)) = atx_heading(trimmed) {
            reader.flush();
            reader.heading(level, heading);
            continue;
        }
        // Setext headings underline the paragraph line above them.
        if reader.paragraph.len() == 1 && reader.list.is_empty() && is_underline(trimmed) {
            let level = if trimmed.starts_with('=') { 1 } else { 2 };
            let heading = reader.paragraph.remove(0);
            reader.heading(level, &heading);
            continue;
        }
        if is_rule(trimmed) {
            reader.flush();
            continue;
        }
        if trimmed.starts_with('|') {
            reader.flush_text();
            if !is_table_separator(trimmed) {
                let cells: Vec<String> =
                    trimmed.trim_matches('|').split('|').map(|c| inline(c.trim())).collect::<Vec<_>>();
                reader.table.push(cells.join(" | "));
            }
            continue;
        }
        if let Some((indent, marker, item)) = list_item(line) {
            reader.flush_paragraph();
            reader.flush_table();
            let pad = "  ".repeat((indent / 2).min(4));
            reader.list.push(format!("{pad}{marker} {}", inline(item)));
            continue;
        }
        let content = trimmed.trim_start_matches('>').trim();
        if !reader.list.is_empty() && line.starts_with([' ', '\t']) {
            // A continuation line of the last item.
            if let Some(last) = reader.list.last_mut() {
                last.push(' ');
                last.push_str(&inline(content));
            }
            continue;
        }
        reader.flush_list();
        reader.flush_table();
        if !content.is_empty() {
            reader.paragraph.push(inline(content));
        }
    }
    reader.flush();
    let title = title.or_else(|| {
        reader.blocks.iter().find_map(|b| match b {
            Block::Heading { level: 1, text } => Some(text.clone()),
            _ => None,
        })
    });
    Extracted { title, blocks: reader.blocks, ..Extracted::default() }
}

#[derive(Default)]
struct Reader {
    blocks: Vec<Block>,
    paragraph: Vec<String>,
    list: Vec<String>,
    table: Vec<String>,
}

impl Reader {
    fn heading(&mut self, level: u8, text: &str) {
        let text = inline(text);
        if !text.is_empty() {
            self.blocks.push(Block::Heading { level, text });
        }
    }

    fn flush_paragraph(&mut self) {
        if !self.paragraph.is_empty() {
            self.blocks.push(Block::Paragraph(self.paragraph.join(" ")));
            self.paragraph.clear();
        }
    }

    fn flush_list(&mut self) {
        if !self.list.is_empty() {
            self.blocks.push(Block::List(std::mem::take(&mut self.list)));
        }
    }

    fn flush_table(&mut self) {
        if !self.table.is_empty() {
            self.blocks.push(Block::Table(std::mem::take(&mut self.table)));
        }
    }

    fn flush_text(&mut self) {
        self.flush_paragraph();
        self.flush_list();
    }

    fn flush(&mut self) {
        self.flush_paragraph();
        self.flush_list();
        self.flush_table();
    }
}

/// YAML front matter: skipped, its `title:` kept.
fn front_matter(text: &str) -> (Option<String>, &str) {
    let Some(rest) = text.strip_prefix("---\n") else { return (None, text) };
    let Some(end) = rest.find("\n---") else { return (None, text) };
    let title = rest[..end]
        .lines()
        .find_map(|l| l.strip_prefix("title:").map(|t| t.trim().trim_matches(|c| c == '"' || c == '\'').to_owned()));
    let after = &rest[end + 4..];
    (title.filter(|t| !t.is_empty()), after.split_once('\n').map(|(_, b)| b).unwrap_or(""))
}

fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some((level as u8, rest.trim().trim_end_matches('#').trim()))
}

fn is_underline(line: &str) -> bool {
    line.len() >= 2 && (line.bytes().all(|b| b == b'=') || line.bytes().all(|b| b == b'-'))
}

fn is_rule(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.len() >= 3 && ["-", "*", "_"].iter().any(|m| compact.chars().all(|c| c.to_string() == *m))
}

fn is_table_separator(line: &str) -> bool {
    line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// `(indent, marker, text)` of a list item line.
fn list_item(line: &str) -> Option<(usize, String, &str)> {
    let indent = line.len() - line.trim_start().len();
    let t = line.trim_start();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            return Some((indent, "-".into(), rest.trim()));
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &t[digits..];
        if let Some(item) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some((indent, format!("{}.", &t[..digits]), item.trim()));
        }
    }
    None
}

/// Strips inline markup: images to their alt text, links to their text, emphasis and code marks.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let image = c == '!' && chars.get(i + 1) == Some(&'[');
        if c == '[' || image {
            let open = if image { i + 1 } else { i };
            if let Some((label, next)) = link_at(&chars, open) {
                out.push_str(&label);
                i = next;
                continue;
            }
        }
        match c {
            '*' | '`' => {}
            '_' if chars.get(i + 1) == Some(&'_') => i += 1,
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 1;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `[label](target)` starting at `open`: the label and the index after the link.
fn link_at(chars: &[char], open: usize) -> Option<(String, usize)> {
    let close = open + chars[open..].iter().position(|&c| c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 1 + chars[close + 1..].iter().position(|&c| c == ')')?;
    Some((chars[open + 1..close].iter().collect(), end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_structure() {
        let doc =
            "---\ntitle: \"Studio Guide\"\n---\n# Welcome\n\nWe are **open** daily.\nSee [prices](https://x/p).\n\n\
                   ## Prices\n\n| Plan | Price |\n|---|---|\n| Basic | 29 € |\n| Premium | 49 € |\n\n\
                   Classes\n-------\n\n- Yoga\n  with mats\n- Spinning\n  1. nested\n\n```\ncode block\n```\n";
        let e = extract(doc);
        assert_eq!(e.title.as_deref(), Some("Studio Guide"));
        assert_eq!(
            e.blocks,
            vec![
                Block::Heading { level: 1, text: "Welcome".into() },
                Block::Paragraph("We are open daily. See prices.".into()),
                Block::Heading { level: 2, text: "Prices".into() },
                Block::Table(vec!["Plan | Price".into(), "Basic | 29 €".into(), "Premium | 49 €".into()]),
                Block::Heading { level: 2, text: "Classes".into() },
                Block::List(vec!["- Yoga with mats".into(), "- Spinning".into(), "  1. nested".into()]),
                Block::Code("code block".into()),
            ]
        );
    }

    #[test]
    fn inline_markup_is_stripped() {
        assert_eq!(
            inline("![logo](l.png) **Bold** `code` and __strong__ snake_case"),
            "logo Bold code and strong snake_case"
        );
        assert_eq!(inline("[unclosed link"), "[unclosed link");
    }

    #[test]
    fn plain_text_paragraphs() {
        let e = extract_plain("First line\nsame paragraph\n\n\nSecond");
        assert_eq!(
            e.blocks,
            vec![Block::Paragraph("First line same paragraph".into()), Block::Paragraph("Second".into())]
        );
    }
}
