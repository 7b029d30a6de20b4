//! Standard Webhooks signatures (<https://www.standardwebhooks.com>).
//!
//! Every request carries `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{payload}"))>`. During a
//! secret rotation the header lists one signature per secret, separated by spaces; a receiver
//! accepts the request when any of them verifies with any secret it knows.

use axum::http::HeaderMap;
use frontdesk_kernel::crypto::{constant_time_eq, hmac_sha256};
use rand::RngCore;
use std::fmt;
use std::time::Duration;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// What receivers accept by default: a timestamp at most this far from their clock.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const PREFIX: &str = "whsec_";
const STANDARD: data_encoding::Encoding = data_encoding::BASE64;

/// A signing secret: `whsec_<base64 of 24–64 random bytes>`; the key is the decoded bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with whsec_ followed by base64")]
    Malformed,
    #[error("a webhook secret's key is 24 to 64 bytes")]
    Length,
}

impl WebhookSecret {
    /// A fresh secret of 32 random bytes from the OS generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key }
    }

    /// Parses `whsec_…` (the prefix is optional, as in the reference libraries).
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let body = s.trim().strip_prefix(PREFIX).unwrap_or(s.trim());
        let key = STANDARD.decode(body.as_bytes()).map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Length);
        }
        Ok(Self { key })
    }

    /// The `whsec_…` form shown to the user once.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// One signature, `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, payload: &[u8]) -> String {
        let mut content = Vec::with_capacity(id.len() + payload.len() + 24);
        content.extend_from_slice(format!("{id}.{timestamp}.").as_bytes());
        content.extend_from_slice(payload);
        format!("v1,{}", STANDARD.encode(&hmac_sha256(&self.key, &content)))
    }
}

/// The `webhook-signature` value: one signature per secret, space separated.
pub fn signature_header(secrets: &[WebhookSecret], id: &str, timestamp: i64, payload: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(id, timestamp, payload)).collect::<Vec<_>>().join(" ")
}

/// The three headers of a signed request, as (name, value) pairs.
pub fn signed_headers(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    payload: &[u8],
) -> [(&'static str, String); 3] {
    [
        (HEADER_ID, id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, signature_header(secrets, id, timestamp, payload)),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing or unreadable {0} header")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp is too old")]
    TooOld,
    #[error("webhook-timestamp is in the future")]
    TooNew,
    #[error("no signature matches")]
    NoMatch,
}

/// Verifies a received webhook against the secrets the receiver knows, with the timestamp
/// within `tolerance` of now.
pub fn verify(
    headers: &HeaderMap,
    payload: &[u8],
    secrets: &[WebhookSecret],
    tolerance: Duration,
) -> Result<(), VerifyError> {
    verify_at(headers, payload, secrets, tolerance, frontdesk_kernel::time::now_ms() / 1000)
}

/// [`verify`] with an explicit clock (unix seconds).
pub fn verify_at(
    headers: &HeaderMap,
    payload: &[u8],
    secrets: &[WebhookSecret],
    tolerance: Duration,
    now_secs: i64,
) -> Result<(), VerifyError> {
    let header =
        |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(VerifyError::MissingHeader(name));
    let id = header(HEADER_ID)?;
    let timestamp: i64 = header(HEADER_TIMESTAMP)?.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    let signatures = header(HEADER_SIGNATURE)?;
    let tolerance = tolerance.as_secs() as i64;
    if timestamp < now_secs - tolerance {
        return Err(VerifyError::TooOld);
    }
    if timestamp > now_secs + tolerance {
        return Err(VerifyError::TooNew);
    }
    let expected: Vec<String> = secrets.iter().map(|s| s.sign(id, timestamp, payload)).collect();
    let matched = signatures
        .split(' ')
        .filter(|s| s.starts_with("v1,"))
        .any(|candidate| expected.iter().any(|e| constant_time_eq(e.as_bytes(), candidate.as_bytes())));
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}
