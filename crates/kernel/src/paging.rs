//! Cursor paging. Ids are time-ordered, so a cursor is the last id of the previous page, sealed
//! in opaque base64url so clients treat it as a token rather than something to construct.

use crate::error::{Error, FieldErrorKind};
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// `?limit=&cursor=` on every list endpoint.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// Items per page (1–200, default 50).
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn limit(&self) -> Result<u32, Error> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(FieldErrorKind::new("out_of_range", "limit is between 1 and 200.").on("limit")),
        }
    }

    /// The id after which the page starts (ids descending: newest first).
    pub fn after(&self) -> Result<Option<String>, Error> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => decode_cursor(c)
                .map(Some)
                .ok_or_else(|| FieldErrorKind::new("invalid_cursor", "This cursor is not valid.").on("cursor")),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only tells that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> &str) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|r| encode_cursor(id_of(r))) } else { None };
        Page { items: rows, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

pub fn encode_cursor(id: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(id.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = data_encoding::BASE64URL_NOPAD.decode(cursor.as_bytes()).ok()?;
    let s = String::from_utf8(bytes).ok()?;
    (s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_cursors() {
        let rows: Vec<String> = (0..4).map(|i| format!("id_{i}")).collect();
        let page = Page::from_rows(rows, 3, |s| s.as_str());
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.next_cursor.as_deref().and_then(decode_cursor), Some("id_2".into()));
        assert!(decode_cursor("!!").is_none());
        let bad = PageRequest { limit: Some(0), cursor: None };
        assert!(bad.limit().is_err());
    }
}
