//! Product catalogs: a JSON array of items (or an object with an `items` / `products` array),
//! each with `id`, `name`, `description`, `price`, `currency` and `image`. Every item is
//! checked on its own: good items become documents, bad ones are reported with their position
//! and reason, and a catalog with no good item at all is an error.

use super::{Block, ExtractError};
use frontdesk_kernel::money::{Currency, Money};
use serde::Serialize;
use serde_json::Value;

/// Items read at most from one catalog.
pub const MAX_ITEMS: usize = 20_000;

/// A valid catalog item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub image: Option<String>,
    pub url: Option<String>,
}

impl CatalogItem {
    /// The item as a passage: its description and its price.
    pub fn blocks(&self) -> Vec<Block> {
        let mut blocks = vec![Block::Heading { level: 1, text: self.name.clone() }];
        if let Some(d) = self.description.as_deref().filter(|d| !d.trim().is_empty()) {
            blocks.push(Block::Paragraph(crate::text::squash(d)));
        }
        if let Some(p) = &self.price {
            blocks.push(Block::Paragraph(format!("Price: {}", p.display())));
        }
        blocks
    }
}

/// Why one item was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemProblem {
    /// Position in the catalog (0-based).
    pub index: usize,
    pub id: Option<String>,
    pub reason: String,
}

pub fn parse(body: &[u8]) -> Result<(Vec<CatalogItem>, Vec<ItemProblem>), ExtractError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ExtractError::Malformed(format!("the catalog is not valid JSON: {e}")))?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut o) => match ["items", "products", "data"].iter().find_map(|k| o.remove(*k)) {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(ExtractError::Malformed(
                    "the catalog must be a JSON array of items, or an object with an \"items\" array".into(),
                ))
            }
        },
        _ => return Err(ExtractError::Malformed("the catalog must be a JSON array of items".into())),
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, raw) in items.into_iter().enumerate() {
        if index >= MAX_ITEMS {
            bad.push(ItemProblem { index, id: None, reason: format!("only the first {MAX_ITEMS} items are read") });
            break;
        }
        let id = raw.get("id").and_then(id_of);
        match item(&raw) {
            Ok(item) if !seen.insert(item.id.clone()) => {
                bad.push(ItemProblem { index, id, reason: format!("duplicate id {}", item.id) })
            }
            Ok(item) => good.push(item),
            Err(reason) => bad.push(ItemProblem { index, id, reason }),
        }
    }
    if good.is_empty() {
        return Err(ExtractError::Malformed(match bad.first() {
            Some(p) => format!("the catalog has no valid item (item {}: {})", p.index, p.reason),
            None => "the catalog has no items".into(),
        }));
    }
    Ok((good, bad))
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s.len() <= 200 => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text_field(raw: &Value, key: &str, max: usize) -> Result<Option<String>, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(Value::String(_)) => Err(format!("{key} is longer than {max} characters")),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn item(raw: &Value) -> Result<CatalogItem, String> {
    if !raw.is_object() {
        return Err("an item must be a JSON object".into());
    }
    let id = raw.get("id").and_then(id_of).ok_or("id is missing (a string or number)")?;
    let name = text_field(raw, "name", 300)?.ok_or("name is missing")?;
    let description = text_field(raw, "description", 20_000)?;
    let price = match raw.get("price") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let currency = text_field(raw, "currency", 3)?.ok_or("currency is missing for the price")?;
            let currency = Currency::parse(&currency).map_err(|e| e.message)?;
            Some(Money { minor: minor_units(p, currency)?, currency })
        }
    };
    let link = |key: &str| -> Result<Option<String>, String> {
        match text_field(raw, key, 2000)? {
            None => Ok(None),
            Some(u) => match url::Url::parse(&u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Some(u)),
                _ => Err(format!("{key} must be an http(s) URL")),
            },
        }
    };
    Ok(CatalogItem { id, name, description, price, image: link("image")?, url: link("url")? })
}

/// A decimal price (`19.99`, `"19.99"`) in the currency's minor units, without floats.
fn minor_units(price: &Value, currency: Currency) -> Result<i64, String> {
    let text = match price {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return Err("price must be a number".into()),
    };
    let bad = || format!("price {text:?} is not a non-negative decimal amount");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let exp = currency.exponent() as usize;
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > exp {
        return Err(format!("price {text} has more decimals than {} allows", currency.as_str()));
    }
    let digits = format!("{whole}{fraction:0<exp$}");
    digits.parse::<i64>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_items_are_kept_and_bad_ones_reported() {
        let body = br#"{"items": [
            {"id": 1, "name": "Yoga mat", "description": "Non-slip", "price": 29.9, "currency": "eur", "image": "https://x/m.png"},
            {"id": "2", "name": "", "price": 5, "currency": "EUR"},
            {"id": "3", "name": "Towel", "price": "abc", "currency": "EUR"},
            {"id": "4", "name": "Bottle", "price": 9.999, "currency": "EUR"},
            {"id": "5", "name": "Shaker", "price": 12, "currency": "EURO"},
            {"name": "No id"},
            {"id": "7", "name": "Gift card", "image": "javascript:alert(1)"},
            "not an object",
            {"id": "9", "name": "Protein bar", "price": "2.50", "currency": "EUR"},
            {"id": 1, "name": "Duplicate"}
        ]}"#;
        let (good, bad) = parse(body).unwrap();
        assert_eq!(good.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), vec!["1", "9"]);
        assert_eq!(good[0].price.map(|p| p.display()), Some("29.90 EUR".into()));
        assert_eq!(good[1].price.map(|p| p.minor), Some(250));
        assert_eq!(bad.iter().map(|p| p.index).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6, 7, 9]);
        assert!(bad[0].reason.contains("name"), "{:?}", bad[0]);
        assert!(bad[2].reason.contains("decimals"), "{:?}", bad[2]);
        let blocks = good[0].blocks();
        assert_eq!(blocks.last(), Some(&Block::Paragraph("Price: 29.90 EUR".into())));
    }

    #[test]
    fn unusable_catalogs_are_errors() {
        assert!(parse(b"{not json").is_err());
        assert!(parse(b"{\"foo\": 1}").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(br#"[{"id": 1}]"#).is_err());
    }
}
