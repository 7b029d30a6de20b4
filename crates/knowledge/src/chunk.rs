//! Structure-aware chunking: passages follow the document's headings (each passage knows its
//! section path for citation), lists, tables and code stay whole unless they alone exceed the
//! size (then they split between items or rows, a table repeating its header), and long
//! paragraphs split between sentences with a configurable overlap of words.

use crate::extract::Block;
use crate::text::word_count;

/// Passage size and overlap, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Largest passage (a single longer sentence or row is split by words).
    pub max_words: usize,
    /// Words of the previous passage repeated at the start of the next when prose is split.
    pub overlap_words: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self { max_words: 160, overlap_words: 30 }
    }
}

impl ChunkConfig {
    /// Sizes that make sense (overlap below half a passage).
    pub fn normalized(self) -> Self {
        let max_words = self.max_words.clamp(20, 2000);
        Self { max_words, overlap_words: self.overlap_words.min(max_words / 2) }
    }
}

/// One passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Heading path (`Prices › Courses`), empty before the first heading.
    pub section: String,
    pub text: String,
}

pub fn chunk(blocks: &[Block], config: ChunkConfig) -> Vec<Chunk> {
    let config = config.normalized();
    let mut c = Chunker { config, path: Vec::new(), parts: Vec::new(), content_words: 0, words: 0, out: Vec::new() };
    for block in blocks {
        match block {
            Block::Heading { level, text } => {
                c.flush(None);
                c.path.retain(|(l, _)| l < level);
                c.path.push((*level, text.clone()));
            }
            Block::Paragraph(text) => c.prose(text),
            Block::List(lines) => c.structure(lines, false),
            Block::Table(rows) => c.structure(rows, true),
            Block::Code(code) => c.structure(&code.lines().map(str::to_owned).collect::<Vec<_>>(), false),
        }
    }
    c.flush(None);
    c.out
}

struct Chunker {
    config: ChunkConfig,
    path: Vec<(u8, String)>,
    parts: Vec<String>,
    /// Words of new content (not counting the carried overlap).
    content_words: usize,
    words: usize,
    out: Vec<Chunk>,
}

impl Chunker {
    fn section(&self) -> String {
        self.path.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" › ")
    }

    fn push(&mut self, text: String) {
        let n = word_count(&text);
        self.words += n;
        self.content_words += n;
        self.parts.push(text);
    }

    /// Ends the current passage; `carry` starts the next one (overlap).
    fn flush(&mut self, carry: Option<String>) {
        if self.content_words > 0 {
            let text = self.parts.join("\n");
            self.out.push(Chunk { section: self.section(), text });
        }
        self.parts.clear();
        self.content_words = 0;
        self.words = 0;
        if let Some(carry) = carry.filter(|c| !c.is_empty()) {
            self.words = word_count(&carry);
            self.parts.push(carry);
        }
    }

    /// The last `overlap_words` words of the passage so far.
    fn tail(&self) -> Option<String> {
        if self.config.overlap_words == 0 {
            return None;
        }
        let text = self.parts.last()?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let from = words.len().saturating_sub(self.config.overlap_words);
        Some(words[from..].join(" "))
    }

    fn prose(&mut self, text: &str) {
        let n = word_count(text);
        let max = self.config.max_words;
        if self.words + n <= max {
            self.push(text.to_owned());
            return;
        }
        if self.content_words > 0 {
            let carry = self.tail();
            self.flush(carry);
        }
        if self.words + n <= max {
            self.push(text.to_owned());
            return;
        }
        // Too long for one passage: sentence by sentence (a giant sentence word by word).
        for piece in sentences(text).into_iter().flat_map(|s| split_words(&s, max)) {
            let pn = word_count(&piece);
            if self.words + pn > max && self.content_words > 0 {
                let carry = self.tail_of(&self.parts.join(" "));
                self.flush(carry);
            }
            if self.words + pn > max {
                // The carried overlap does not fit next to this piece.
                self.parts.clear();
                self.words = 0;
            }
            self.push(piece);
        }
    }

    fn tail_of(&self, text: &str) -> Option<String> {
        if self.config.overlap_words == 0 {
            return None;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        Some(words[words.len().saturating_sub(self.config.overlap_words)..].join(" "))
    }

    /// Lists, tables and code: whole when they fit, else split between lines.
    fn structure(&mut self, lines: &[String], is_table: bool) {
        let text = lines.join("\n");
        let n = word_count(&text);
        let max = self.config.max_words;
        if self.words + n > max && self.content_words > 0 {
            self.flush(None);
        }
        if self.words + n <= max {
            self.push(text);
            return;
        }
        self.flush(None);
        let header = if is_table && lines.len() > 1 { Some(lines[0].clone()) } else { None };
        let mut piece: Vec<String> = Vec::new();
        let mut words = 0;
        let body = if header.is_some() { &lines[1..] } else { lines };
        for line in body.iter().flat_map(|l| split_words(l, max / 2)) {
            let ln = word_count(&line);
            if words + ln > max && !piece.is_empty() {
                self.push(piece.join("\n"));
                self.flush(None);
                piece.clear();
                words = 0;
            }
            if piece.is_empty() {
                if let Some(h) = &header {
                    words += word_count(h);
                    piece.push(h.clone());
                }
            }
            words += ln;
            piece.push(line);
        }
        if !piece.is_empty() {
            self.push(piece.join("\n"));
        }
    }
}

/// Sentences: split after `.`, `!` or `?` followed by a space and a capital letter or digit.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        current.push(ch);
        if matches!(ch, '.' | '!' | '?') && chars.peek() == Some(&' ') {
            let mut ahead = chars.clone();
            ahead.next();
            if ahead.peek().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()) {
                out.push(current.trim().to_owned());
                current.clear();
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// A text in pieces of at most `max` words.
fn split_words(text: &str, max: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= max.max(1) {
        return vec![text.to_owned()];
    }
    words.chunks(max.max(1)).map(|w| w.join(" ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize, word: &str) -> String {
        (0..n).map(|i| format!("{word}{i}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn sections_follow_headings() {
        let blocks = vec![
            Block::Heading { level: 1, text: "Guide".into() },
            Block::Paragraph("Intro text.".into()),
            Block::Heading { level: 2, text: "Prices".into() },
            Block::Table(vec!["Plan | Price".into(), "Basic | 29".into()]),
            Block::Heading { level: 3, text: "Students".into() },
            Block::Paragraph("Half price.".into()),
            Block::Heading { level: 2, text: "Hours".into() },
            Block::List(vec!["- Mon 6-22".into(), "- Sun 8-20".into()]),
        ];
        let chunks = chunk(&blocks, ChunkConfig::default());
        let got: Vec<(&str, &str)> = chunks.iter().map(|c| (c.section.as_str(), c.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("Guide", "Intro text."),
                ("Guide › Prices", "Plan | Price\nBasic | 29"),
                ("Guide › Prices › Students", "Half price."),
                ("Guide › Hours", "- Mon 6-22\n- Sun 8-20"),
            ]
        );
    }

    #[test]
    fn long_prose_splits_with_overlap_and_bounded_size() {
        let sentence = |i: usize| format!("Sentence {i} {}.", words(18, "w"));
        let text = (0..20).map(sentence).collect::<Vec<_>>().join(" ");
        let config = ChunkConfig { max_words: 60, overlap_words: 10 };
        let chunks = chunk(&[Block::Paragraph(text)], config);
        assert!(chunks.len() >= 7, "{}", chunks.len());
        for pair in chunks.windows(2) {
            assert!(word_count(&pair[0].text) <= 60);
            let tail: Vec<&str> = pair[0].text.split_whitespace().rev().take(10).collect();
            let head: Vec<&str> = pair[1].text.split_whitespace().take(10).collect();
            assert_eq!(tail.into_iter().rev().collect::<Vec<_>>(), head, "overlap of 10 words");
        }
        let none = chunk(&[Block::Paragraph(words(130, "x"))], ChunkConfig { max_words: 60, overlap_words: 0 });
        assert_eq!(none.iter().map(|c| word_count(&c.text)).sum::<usize>(), 130);
    }

    #[test]
    fn big_tables_split_between_rows_and_repeat_the_header() {
        let mut rows = vec!["Item | Price".to_owned()];
        rows.extend((0..50).map(|i| format!("Product number {i} | {i}.00 EUR")));
        let chunks = chunk(
            &[Block::Paragraph("Before.".into()), Block::Table(rows)],
            ChunkConfig { max_words: 40, overlap_words: 5 },
        );
        assert_eq!(chunks[0].text, "Before.");
        assert!(chunks.len() > 3);
        for c in &chunks[1..] {
            assert!(c.text.starts_with("Item | Price\nProduct number"), "{}", c.text);
            assert!(word_count(&c.text) <= 40);
        }
        let all: String = chunks.iter().map(|c| c.text.clone()).collect::<Vec<_>>().join("\n");
        assert!((0..50).all(|i| all.contains(&format!("Product number {i} |"))));
    }

    #[test]
    fn small_blocks_share_a_passage() {
        let blocks = vec![
            Block::Paragraph("One.".into()),
            Block::List(vec!["- a".into(), "- b".into()]),
            Block::Paragraph("Two.".into()),
        ];
        assert_eq!(
            chunk(&blocks, ChunkConfig::default()),
            vec![Chunk { section: String::new(), text: "One.\n- a\n- b\nTwo.".into() }]
        );
    }
}
