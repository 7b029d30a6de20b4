//! HTML to blocks with the WHATWG tokenizer of `html5gum`, which reads any tag soup without
//! failing. What a visitor does not read as content — navigation, scripts, styles, footers,
//! forms, hidden elements — is dropped; headings, paragraphs, lists, tables and preformatted
//! text become blocks; `<a href>` targets are collected for the crawler.

use super::{Block, ExtractError, Extracted};
use html5gum::{DefaultEmitter, Token, Tokenizer};

/// Elements whose whole content is skipped.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "footer", "aside", "form", "button", "select", "svg", "iframe",
    "object", "canvas",
];

/// Elements that end a paragraph.
const BREAKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "blockquote",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "hr",
    "address",
    "details",
    "summary",
    "body",
    "center",
];

/// Elements that never have an end tag.
const VOID: &[&str] = &["br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"];

/// Most tokens processed per document (a defence against pathological input).
const MAX_TOKENS: usize = 2_000_000;

pub fn extract(html: &str) -> Result<Extracted, ExtractError> {
    let mut emitter = DefaultEmitter::default();
    // Script and style content is raw text, not markup.
    emitter.naively_switch_states(true);
    let mut w = Walker::default();
    for (n, token) in Tokenizer::new_with_emitter(html, emitter).enumerate() {
        if n >= MAX_TOKENS {
            w.warnings.push("the page is too large; the rest was not read".into());
            break;
        }
        let Ok(token) = token;
        match token {
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                if name == "title" {
                    w.start(&name);
                    continue;
                }
                let attr =
                    |key: &str| tag.attributes.get(key.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned());
                let hidden = attr("hidden").is_some()
                    || attr("aria-hidden").is_some_and(|v| v == "true")
                    || attr("role").is_some_and(|v| v == "navigation" || v == "contentinfo");
                if !w.skip.is_empty() || SKIP.contains(&name.as_str()) || (hidden && !VOID.contains(&name.as_str())) {
                    if !tag.self_closing && !VOID.contains(&name.as_str()) {
                        w.skip.push(name);
                    }
                    continue;
                }
                if name == "a" {
                    if let Some(href) = attr("href") {
                        w.links.push(href);
                    }
                }
                if name == "img" {
                    if let Some(alt) = attr("alt").filter(|a| !a.trim().is_empty()) {
                        w.text(&format!(" {alt} "));
                    }
                }
                w.start(&name);
            }
            Token::EndTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                if name == "title" {
                    w.in_title = false;
                    continue;
                }
                if !w.skip.is_empty() {
                    if let Some(pos) = w.skip.iter().rposition(|s| *s == name) {
                        w.skip.truncate(pos);
                    }
                    continue;
                }
                w.end(&name);
            }
            Token::String(s) if w.skip.is_empty() || w.in_title => w.text(&String::from_utf8_lossy(&s)),
            _ => {}
        }
    }
    // Whatever is still open at the end of the input is content too.
    w.close_heading();
    w.end("pre");
    w.flush_paragraph();
    w.finish_list();
    w.finish_table();
    let title = w.title.map(|t| crate::text::squash(&t)).filter(|t| !t.is_empty()).or_else(|| {
        w.blocks.iter().find_map(|b| match b {
            Block::Heading { level: 1, text } => Some(text.clone()),
            _ => None,
        })
    });
    Ok(Extracted { title, blocks: w.blocks, links: w.links, warnings: w.warnings })
}

/// `<meta charset>` or `http-equiv` Content-Type in the first kilobytes.
pub fn meta_charset(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let value: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!value.is_empty()).then_some(value)
}

#[derive(Default)]
struct Walker {
    blocks: Vec<Block>,
    links: Vec<String>,
    warnings: Vec<String>,
    skip: Vec<String>,
    title: Option<String>,
    in_title: bool,
    paragraph: String,
    heading: Option<(u8, String)>,
    pre: Option<String>,
    list_depth: usize,
    items: Vec<String>,
    item: Option<String>,
    table_depth: usize,
    rows: Vec<String>,
    cells: Vec<String>,
    cell: Option<String>,
}

impl Walker {
    fn start(&mut self, name: &str) {
        // A block inside an unclosed heading ends the heading (tag soup such as `<h2>x<p>y`).
        if self.heading.is_some() && (BREAKS.contains(&name) || matches!(name, "table" | "ul" | "ol" | "pre")) {
            self.close_heading();
        }
        match name {
            "title" if self.title.is_none() => {
                self.in_title = true;
                self.title = Some(String::new());
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.close_heading();
                self.flush_paragraph();
                let level = name[1..].parse().unwrap_or(6);
                self.heading = Some((level, String::new()));
            }
            "pre" => {
                self.flush_paragraph();
                self.pre = Some(String::new());
            }
            "ul" | "ol" => {
                self.flush_paragraph();
                self.finish_item();
                self.list_depth += 1;
            }
            "li" => {
                self.finish_item();
                self.item = Some(String::new());
            }
            "table" => {
                self.flush_paragraph();
                self.table_depth += 1;
            }
            "tr" => self.finish_row(),
            "td" | "th" => {
                self.finish_cell();
                self.cell = Some(String::new());
            }
            "br" => self.text("\n"),
            _ if BREAKS.contains(&name) => self.flush_paragraph(),
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        match name {
            "title" => self.in_title = false,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => self.close_heading(),
            "pre" => {
                if let Some(code) = self.pre.take().filter(|c| !c.trim().is_empty()) {
                    self.blocks.push(Block::Code(code.trim_matches('\n').to_owned()));
                }
            }
            "li" => self.finish_item(),
            "ul" | "ol" => {
                self.finish_item();
                self.list_depth = self.list_depth.saturating_sub(1);
                if self.list_depth == 0 {
                    self.finish_list();
                }
            }
            "td" | "th" => self.finish_cell(),
            "tr" => self.finish_row(),
            "table" => {
                self.finish_row();
                self.table_depth = self.table_depth.saturating_sub(1);
                if self.table_depth == 0 {
                    self.finish_table();
                }
            }
            _ if BREAKS.contains(&name) => self.flush_paragraph(),
            _ => {}
        }
    }

    /// Text goes to the innermost open container.
    fn text(&mut self, s: &str) {
        if self.in_title {
            if let Some(t) = &mut self.title {
                t.push_str(s);
            }
        } else if let Some(pre) = &mut self.pre {
            pre.push_str(s);
        } else if let Some((_, h)) = &mut self.heading {
            h.push_str(s);
        } else if let Some(cell) = &mut self.cell {
            cell.push_str(s);
        } else if let Some(item) = &mut self.item {
            item.push_str(s);
        } else if self.table_depth == 0 {
            self.paragraph.push_str(s);
        }
    }

    fn close_heading(&mut self) {
        if let Some((level, text)) = self.heading.take() {
            let text = crate::text::squash(&text);
            if !text.is_empty() {
                self.blocks.push(Block::Heading { level, text });
            }
        }
    }

    fn flush_paragraph(&mut self) {
        let text = crate::text::squash(&self.paragraph);
        self.paragraph.clear();
        if !text.is_empty() {
            self.blocks.push(Block::Paragraph(text));
        }
    }

    fn finish_item(&mut self) {
        if let Some(item) = self.item.take() {
            let text = crate::text::squash(&item);
            if !text.is_empty() {
                let pad = "  ".repeat(self.list_depth.saturating_sub(1).min(4));
                self.items.push(format!("{pad}- {text}"));
            }
        }
    }

    fn finish_list(&mut self) {
        self.finish_item();
        if !self.items.is_empty() {
            self.blocks.push(Block::List(std::mem::take(&mut self.items)));
        }
    }

    fn finish_cell(&mut self) {
        if let Some(cell) = self.cell.take() {
            self.cells.push(crate::text::squash(&cell));
        }
    }

    fn finish_row(&mut self) {
        self.finish_cell();
        if self.cells.iter().any(|c| !c.is_empty()) {
            self.rows.push(self.cells.join(" | "));
        }
        self.cells.clear();
    }

    fn finish_table(&mut self) {
        self.finish_row();
        if !self.rows.is_empty() {
            self.blocks.push(Block::Table(std::mem::take(&mut self.rows)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_content_and_drops_chrome() {
        let html = r#"<!doctype html><html><head><title>Studio &amp; Spa</title><style>p{color:red}</style>
            <script>var x = "<p>not text</p>";</script></head><body>
            <nav><a href="/home">Home</a> <a href="/about">About</a></nav>
            <h1>Opening hours</h1><p>We are open <b>every</b> day.<br>Closed on holidays.</p>
            <ul><li>Monday: 6–22</li><li>Sunday: 8–20<ul><li>Sauna until 19</li></ul></li></ul>
            <table><tr><th>Plan</th><th>Price</th></tr><tr><td>Basic</td><td>29 €</td></tr></table>
            <div hidden>secret</div><p>See <a href="prices.html">prices</a>.</p>
            <footer>© 2026 <a href="/imprint">Imprint</a></footer></body></html>"#;
        let e = extract(html).unwrap();
        assert_eq!(e.title.as_deref(), Some("Studio & Spa"));
        assert_eq!(
            e.blocks,
            vec![
                Block::Heading { level: 1, text: "Opening hours".into() },
                Block::Paragraph("We are open every day. Closed on holidays.".into()),
                Block::List(vec!["- Monday: 6–22".into(), "- Sunday: 8–20".into(), "  - Sauna until 19".into()]),
                Block::Table(vec!["Plan | Price".into(), "Basic | 29 €".into()]),
                Block::Paragraph("See prices.".into()),
            ]
        );
        assert_eq!(e.links, vec!["prices.html".to_owned()]);
    }

    #[test]
    fn malformed_markup_still_yields_text() {
        let e = extract("<p>Unclosed <b>bold <i>and <p>next</div></span> text <h2>Head").unwrap();
        let all: Vec<String> = e.blocks.iter().map(Block::text).collect();
        assert!(all.join(" ").contains("Unclosed bold and"), "{all:?}");
        assert!(all.join(" ").contains("next"), "{all:?}");
        let e = extract("<<<>>>&&&<!-- unterminated").unwrap();
        assert!(e.blocks.iter().all(|b| !b.text().contains("unterminated")));
    }

    #[test]
    fn charset_from_meta() {
        assert_eq!(meta_charset(br#"<meta charset="ISO-8859-1">"#), Some("iso-8859-1".into()));
        assert_eq!(
            meta_charset(b"<meta http-equiv=Content-Type content='text/html; charset=windows-1252'>"),
            Some("windows-1252".into())
        );
        assert_eq!(meta_charset(b"<p>none</p>"), None);
    }
}
