//! PDF text through `lopdf`: each page becomes a section (`p. 3`, so citations name the page),
//! its lines joined into paragraphs with hyphenation undone. A page that cannot be read is
//! reported and skipped; a file that is not a readable PDF (or is encrypted) is an error.

use super::{Block, ExtractError, Extracted};

/// Pages read at most.
const MAX_PAGES: usize = 2000;
/// Decompressed content per page at most (a small stream must not inflate without bound).
const MAX_PAGE_CONTENT: usize = 16 * 1024 * 1024;

pub fn extract(body: &[u8]) -> Result<Extracted, ExtractError> {
    // The parser is defensive, but a panic on hostile input must not take the worker down.
    let doc = std::panic::catch_unwind(|| lopdf::Document::load_mem(body))
        .map_err(|_| ExtractError::Malformed("the PDF could not be parsed".into()))?
        .map_err(|e| ExtractError::Malformed(format!("not a readable PDF: {e}")))?;
    if doc.is_encrypted() {
        return Err(ExtractError::Malformed("the PDF is encrypted; upload an unprotected copy".into()));
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut out = Extracted { title: title(&doc), ..Extracted::default() };
    if pages.len() > MAX_PAGES {
        out.warnings.push(format!("only the first {MAX_PAGES} of {} pages were read", pages.len()));
    }
    let mut failed = Vec::new();
    for &page in pages.iter().take(MAX_PAGES) {
        let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.extract_text_with_limit(&[page], MAX_PAGE_CONTENT)
        }));
        match text {
            Ok(Ok(text)) => {
                let paragraphs = paragraphs(&text);
                if !paragraphs.is_empty() {
                    out.blocks.push(Block::Heading { level: 1, text: format!("p. {page}") });
                    out.blocks.extend(paragraphs.into_iter().map(Block::Paragraph));
                }
            }
            _ => failed.push(page),
        }
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().take(20).map(u32::to_string).collect();
        out.warnings.push(format!("{} page(s) could not be read: {}", failed.len(), list.join(", ")));
    }
    if out.text_len() == 0 {
        return Err(if failed.is_empty() {
            ExtractError::Malformed("the PDF has no extractable text (is it a scan?)".into())
        } else {
            ExtractError::Malformed("no page of the PDF could be read".into())
        });
    }
    Ok(out)
}

/// The document's Title from its Info dictionary.
fn title(doc: &lopdf::Document) -> Option<String> {
    let info = doc.trailer.get_deref(b"Info", doc).ok()?.as_dict().ok()?;
    let raw = info.get_deref(b"Title", doc).ok()?;
    let text = lopdf::decode_text_string(raw).ok()?;
    let text = crate::text::squash(&text);
    (!text.is_empty()).then_some(text)
}

/// Lines to paragraphs: blank lines separate; a line ending in a hyphen joins the next word.
fn paragraphs(text: &str) -> Vec<String> {
    let text = crate::text::clean(text);
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut para = String::new();
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if para.ends_with('-') && line.starts_with(|c: char| c.is_lowercase()) {
                para.pop();
            } else if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(line);
        }
        if !para.is_empty() {
            out.push(para);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_files_are_errors() {
        assert!(matches!(extract(b"%PDF-1.4\n garbage"), Err(ExtractError::Malformed(_))));
        assert!(matches!(extract(b"not a pdf at all"), Err(ExtractError::Malformed(_))));
        assert!(matches!(extract(b""), Err(ExtractError::Malformed(_))));
    }

    #[test]
    fn hyphenated_lines_are_joined() {
        assert_eq!(
            paragraphs("Member-\nship fees\nare monthly.\n\nNext"),
            vec!["Membership fees are monthly.", "Next"]
        );
    }
}
