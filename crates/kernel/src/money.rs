//! Money: integer minor units and an ISO 4217 currency. Never floats.

use crate::error::FieldErrorKind;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Amount in the currency's minor unit (cents for EUR).
    pub minor: i64,
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
}

/// Upper-case ISO 4217 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(input: &str) -> Result<Self, FieldErrorKind> {
        let b = input.trim().as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()]))
        } else {
            Err(FieldErrorKind::new("invalid_currency", "A currency is a three-letter ISO 4217 code."))
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (ISO 4217 exponent) for the currencies we format.
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "JPY" | "KRW" | "CLP" | "ISK" | "VND" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
            _ => 2,
        }
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl Money {
    /// Checked addition; `None` on overflow or mixed currencies.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.minor.checked_add(other.minor))
            .flatten()
            .map(|minor| Money { minor, currency: self.currency })
    }

    /// `12.50 EUR`
    pub fn display(&self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs} {}", self.currency.as_str());
        }
        let unit = 10u64.pow(exp);
        format!("{sign}{}.{:0width$} {}", abs / unit, abs % unit, self.currency.as_str(), width = exp as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_and_adds_safely() {
        let eur = Currency::parse("eur").unwrap();
        let a = Money { minor: 1250, currency: eur };
        assert_eq!(a.display(), "12.50 EUR");
        assert_eq!(Money { minor: -5, currency: eur }.display(), "-0.05 EUR");
        let usd = Currency::parse("USD").unwrap();
        assert!(a.checked_add(Money { minor: 1, currency: usd }).is_none());
        assert_eq!(a.checked_add(a).map(|m| m.minor), Some(2500));
        assert!(Money { minor: i64::MAX, currency: eur }.checked_add(a).is_none());
    }
}
