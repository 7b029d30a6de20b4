//! Text extraction: every format becomes the same list of structural [`Block`]s (headings,
//! paragraphs, lists, tables, code) that the chunker keeps together.
//!
//! - [`markdown`] and plain text: a line-based reader (front matter, ATX/setext headings, fenced
//!   code, lists, pipe tables; inline markup stripped).
//! - [`html`]: the WHATWG tokenizer of `html5gum`; navigation, scripts, styles, footers and
//!   forms are dropped, headings, lists and tables kept, links collected for crawling.
//! - [`pdf`]: page text through `lopdf`, one section per page.
//! - [`catalog`]: product catalogs (JSON), one document per good item, bad items reported.

pub mod catalog;
pub mod html;
pub mod markdown;
pub mod pdf;

/// One structural piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading {
        level: u8,
        text: String,
    },
    Paragraph(String),
    /// Items, already prefixed (`- ` or `1. `); nested items are indented.
    List(Vec<String>),
    /// Rows with cells joined by ` | `; the first row is the header when there is one.
    Table(Vec<String>),
    Code(String),
}

impl Block {
    /// The block as plain text (as it appears in a passage).
    pub fn text(&self) -> String {
        match self {
            Block::Heading { text, .. } | Block::Paragraph(text) | Block::Code(text) => text.clone(),
            Block::List(items) | Block::Table(items) => items.join("\n"),
        }
    }
}

/// What a document yields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub title: Option<String>,
    pub blocks: Vec<Block>,
    /// Link targets as written (HTML only; resolved by the crawler).
    pub links: Vec<String>,
    /// Problems that did not stop extraction (a page of a PDF that could not be read, …).
    pub warnings: Vec<String>,
}

impl Extracted {
    /// Characters of text, for the "nothing to index" check.
    pub fn text_len(&self) -> usize {
        self.blocks.iter().map(|b| b.text().trim().len()).sum()
    }
}

/// The formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Text,
    Html,
    Pdf,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown",
            Format::Text => "text/plain",
            Format::Html => "text/html",
            Format::Pdf => "application/pdf",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("unsupported content type {0} (use Markdown, plain text, HTML or PDF)")]
    Unsupported(String),
    #[error("{0}")]
    Malformed(String),
    #[error("the document has no text to index")]
    Empty,
}

/// Decides the format from the file name, the declared content type and the first bytes.
pub fn detect_format(filename: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Result<Format, ExtractError> {
    let head = &body[..body.len().min(512)];
    if head.starts_with(b"%PDF-") {
        return Ok(Format::Pdf);
    }
    let mime = content_type.and_then(|c| c.split(';').next()).map(|m| m.trim().to_ascii_lowercase());
    let ext = filename.and_then(|f| f.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match (mime.as_deref(), ext.as_str()) {
        (Some("application/pdf"), _) | (_, "pdf") => Ok(Format::Pdf),
        (Some("text/html" | "application/xhtml+xml"), _) | (_, "html" | "htm" | "xhtml") => Ok(Format::Html),
        (Some("text/markdown" | "text/x-markdown"), _) | (_, "md" | "markdown" | "mdown") => Ok(Format::Markdown),
        (Some("text/plain"), _) | (_, "txt" | "text") => Ok(Format::Text),
        (None | Some("application/octet-stream" | ""), "") => {
            let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
            if lower.trim_start().starts_with("<!doctype html") || lower.contains("<html") {
                Ok(Format::Html)
            } else if std::str::from_utf8(head).is_ok() || head.is_empty() {
                Ok(Format::Text)
            } else {
                Err(ExtractError::Unsupported("application/octet-stream".into()))
            }
        }
        (Some(other), _) if other.starts_with("text/") => Ok(Format::Text),
        (Some(other), _) => Err(ExtractError::Unsupported(other.to_owned())),
        (None, ext) => Err(ExtractError::Unsupported(format!(".{ext} files"))),
    }
}

/// Extracts the blocks of a document. CPU-bound: call from a blocking task.
pub fn extract(format: Format, body: &[u8], charset: Option<&str>) -> Result<Extracted, ExtractError> {
    let extracted = match format {
        Format::Pdf => pdf::extract(body)?,
        Format::Html => {
            let declared = charset.map(str::to_owned).or_else(|| html::meta_charset(body));
            html::extract(&decode(body, declared.as_deref()))?
        }
        Format::Markdown => markdown::extract(&decode(body, charset)),
        Format::Text => markdown::extract_plain(&decode(body, charset)),
    };
    if extracted.text_len() == 0 {
        return Err(ExtractError::Empty);
    }
    Ok(extracted)
}

/// Bytes to text: a byte-order mark or the declared charset wins; otherwise UTF-8, falling back
/// to Windows-1252 when the bytes are not UTF-8 at all.
pub fn decode(body: &[u8], charset: Option<&str>) -> String {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(body) {
        return encoding.decode_without_bom_handling(&body[bom..]).0.into_owned();
    }
    if let Some(encoding) = charset.and_then(|c| encoding_rs::Encoding::for_label(c.trim().as_bytes())) {
        return encoding.decode_without_bom_handling(body).0.into_owned();
    }
    match std::str::from_utf8(body) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(body).0.into_owned(),
    }
}

/// The `charset` parameter of a Content-Type header.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names_types_and_magic() {
        assert_eq!(detect_format(Some("a.md"), None, b"# x"), Ok(Format::Markdown));
        assert_eq!(detect_format(Some("a.bin"), Some("application/pdf"), b"x"), Ok(Format::Pdf));
        assert_eq!(detect_format(None, None, b"%PDF-1.4 ..."), Ok(Format::Pdf));
        assert_eq!(detect_format(None, None, b"<!DOCTYPE html><p>x"), Ok(Format::Html));
        assert_eq!(detect_format(Some("notes.txt"), Some("text/plain; charset=utf-8"), b"x"), Ok(Format::Text));
        assert!(matches!(detect_format(Some("x.docx"), None, b"PK\x03\x04"), Err(ExtractError::Unsupported(_))));
        assert!(matches!(
            detect_format(None, Some("image/png"), b"\x89PNG"),
            Err(ExtractError::Unsupported(t)) if t == "image/png"
        ));
    }

    #[test]
    fn decodes_declared_and_legacy_charsets() {
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("iso-8859-1")), "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", None), "Grüße");
        assert_eq!(decode("Grüße".as_bytes(), None), "Grüße");
        assert_eq!(charset_of("text/html; Charset=\"ISO-8859-1\""), Some("ISO-8859-1".into()));
    }
}
