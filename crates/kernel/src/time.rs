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
    use serde::Serializer;

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_rfc3339(*ms))
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
