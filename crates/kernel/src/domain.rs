//! Newtypes that parse untrusted input once, at the edge. A value of these types is valid.

use crate::error::FieldErrorKind;
use serde::{Deserialize, Serialize};
use std::fmt;

type Parse<T> = Result<T, FieldErrorKind>;

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Wraps a value read back from our own database (validated when it was written).
            pub fn from_db(s: String) -> Self {
                Self(s)
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// An e-mail address, trimmed and lower-cased.
    Email
);

string_newtype!(
    /// A phone number in E.164 (`+4930123456`): `+`, then 8 to 15 digits, the first not 0.
    PhoneNumber
);

impl PhoneNumber {
    /// Accepts the usual separators (spaces, `-`, `(`, `)`, `/`) and drops them.
    pub fn parse(input: &str) -> Parse<Self> {
        let s: String = input.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '/')).collect();
        if s.is_empty() {
            return Err(FieldErrorKind::new("required", "A phone number is required."));
        }
        if !is_e164(&s) {
            return Err(FieldErrorKind::new(
                "invalid_phone",
                "Enter the number in international format (E.164), like +4930123456.",
            ));
        }
        Ok(Self(s))
    }
}

/// E.164: `+`, then 8 to 15 digits, the first not 0.
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

impl Email {
    pub fn parse(input: &str) -> Parse<Self> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err(FieldErrorKind::new("required", "An e-mail address is required."));
        }
        if s.len() > 254 {
            return Err(FieldErrorKind::new("too_long", "An e-mail address has at most 254 characters."));
        }
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && domain.contains('.')
                    && !domain.contains("..")
                    && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.')
                    && !local.chars().any(|c| c.is_whitespace() || c == '@' || c.is_control())
            }
            None => false,
        };
        if valid {
            Ok(Self(s))
        } else {
            Err(FieldErrorKind::new("invalid_format", "This is not a valid e-mail address."))
        }
    }
}

string_newtype!(
    /// A URL-safe tenant handle: 3–40 characters `a-z`, `0-9`, `-`, starting with a letter.
    Slug
);

/// Slugs that would collide with our own paths or confuse customers.
const RESERVED_SLUGS: &[&str] =
    &["admin", "api", "app", "assets", "dashboard", "health", "login", "metrics", "platform", "static", "www"];

impl Slug {
    pub fn parse(input: &str) -> Parse<Self> {
        let s = input.trim().to_lowercase();
        let ok_chars = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if s.len() < 3 || s.len() > 40 {
            return Err(FieldErrorKind::new("invalid_length", "A slug has 3 to 40 characters."));
        }
        if !ok_chars || !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') || s.contains("--") {
            return Err(FieldErrorKind::new(
                "invalid_format",
                "A slug uses a-z, 0-9 and single hyphens, and starts with a letter.",
            ));
        }
        if RESERVED_SLUGS.contains(&s.as_str()) {
            return Err(FieldErrorKind::new("reserved", "This slug is reserved."));
        }
        Ok(Self(s))
    }

    /// A slug derived from a business name ("Studio Nord GmbH" → "studio-nord-gmbh").
    pub fn suggest(name: &str) -> String {
        let mut out = String::new();
        for c in name.trim().to_lowercase().chars() {
            let c = match c {
                'ä' => 'a',
                'ö' => 'o',
                'ü' => 'u',
                'ß' => 's',
                c => c,
            };
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        out.trim_end_matches('-').chars().take(40).collect()
    }
}

string_newtype!(
    /// A human name or title: trimmed, 1 to 120 characters, no control characters.
    DisplayName
);

impl DisplayName {
    pub fn parse(input: &str) -> Parse<Self> {
        let s = input.trim();
        if s.is_empty() {
            return Err(FieldErrorKind::new("required", "A name is required."));
        }
        if s.chars().count() > 120 {
            return Err(FieldErrorKind::new("too_long", "A name has at most 120 characters."));
        }
        if s.chars().any(char::is_control) {
            return Err(FieldErrorKind::new("invalid_format", "A name cannot contain control characters."));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// An IANA time zone name that this build knows (`Europe/Berlin`).
    TimeZoneName
);

impl TimeZoneName {
    pub fn parse(input: &str) -> Parse<Self> {
        let s = input.trim();
        match jiff::tz::TimeZone::get(s) {
            Ok(_) if !s.is_empty() => Ok(Self(s.to_owned())),
            _ => Err(FieldErrorKind::new("unknown_time_zone", "This is not an IANA time zone such as Europe/Berlin.")),
        }
    }

    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// The languages the product speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    De,
}

impl Locale {
    pub fn parse(input: &str) -> Parse<Self> {
        match input.trim().to_ascii_lowercase().get(..2) {
            Some("en") => Ok(Locale::En),
            Some("de") => Ok(Locale::De),
            _ => Err(FieldErrorKind::new("unsupported_locale", "Supported languages are en and de.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
        }
    }

    /// The best supported language from an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        header.split(',').find_map(|part| Self::parse(part.split(';').next().unwrap_or("")).ok())
    }
}

/// A new password: 10 to 256 characters, not all one character. (Length beats composition rules.)
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(input: &str) -> Parse<Self> {
        let n = input.chars().count();
        if n < 10 {
            return Err(FieldErrorKind::new("too_short", "A password has at least 10 characters."));
        }
        if n > 256 {
            return Err(FieldErrorKind::new("too_long", "A password has at most 256 characters."));
        }
        let first = input.chars().next();
        if input.chars().all(|c| Some(c) == first) {
            return Err(FieldErrorKind::new("too_weak", "This password is too easy to guess."));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_e164_without_separators() {
        assert_eq!(PhoneNumber::parse(" +49 30 123-456 ").map(PhoneNumber::into_inner), Ok("+4930123456".into()));
        assert_eq!(PhoneNumber::parse("+1 (415) 555-2671").map(PhoneNumber::into_inner), Ok("+14155552671".into()));
        for bad in ["030123456", "+0301234567", "+1234", "4930123456", "+49301234567890123", "+4930abc456", ""] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("  Ada@Example.COM ").map(|e| e.0), Ok("ada@example.com".into()));
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@exa..mple.com"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("studio-nord").is_ok());
        for bad in ["ab", "-abc", "abc-", "a--b", "1abc", "api", "Ab C"] {
            assert!(Slug::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(Slug::suggest("Fitness Studio Müller GmbH"), "fitness-studio-muller-gmbh");
    }

    #[test]
    fn time_zones_and_locales() {
        assert!(TimeZoneName::parse("Europe/Berlin").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert_eq!(Locale::from_accept_language("de-DE,de;q=0.9,en;q=0.8"), Some(Locale::De));
        assert_eq!(Locale::from_accept_language("fr-FR"), None);
    }

    #[test]
    fn passwords() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("aaaaaaaaaaaa").is_err());
        assert!(NewPassword::parse("correct horse battery").is_ok());
    }
}
