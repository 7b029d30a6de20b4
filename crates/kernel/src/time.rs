//! Time: every timestamp is stored as UTC milliseconds since the Unix epoch (`BIGINT`), which both
//! engines index and compare natively. Conversions to a tenant's zone happen in code (jiff).

/// Now, in UTC milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// RFC 3339 text for API responses.
pub fn to_rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// Serde helpers: store milliseconds, show RFC 3339.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_rfc3339(*ms))
    }

    /// Reads RFC 3339 back (for values that travel between our own processes, e.g. over Redis).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.serialize_str(&super::super::to_rfc3339(*ms)),
                None => s.serialize_none(),
            }
        }
    }
}
