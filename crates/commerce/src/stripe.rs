//! Stripe, as its API reference documents it: webhook signatures, and the three calls Frontdesk
//! makes with the tenant's key.
//!
//! - **Webhook signatures.** Stripe signs each delivery with the endpoint's signing secret
//!   (`whsec_…`): `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`, where `v1` is
//!   HMAC-SHA256 keyed with the whole secret string over `"{t}.{raw body}"`. Several `v1` appear
//!   while a secret is being rolled; any one matching is enough. The timestamp must be within a
//!   tolerance (Stripe's libraries use 300 s) so a captured delivery cannot be replayed later.
//! - **API calls** (`https://api.stripe.com`, `Authorization: Bearer <secret key>`,
//!   form-encoded bodies, `Idempotency-Key` on POSTs): `GET /v1/account` (checks the key and
//!   gives the account's id, name and default currency), `GET /v1/invoices/{id}` and
//!   `POST /v1/invoices/{id}/pay` (attempt to collect an open invoice now).
//!
//! Errors are Stripe's error object `{"error": {"type", "code", "decline_code", "message"}}`,
//! sorted into declined (a card error: the customer's bank said no), worth retrying (network,
//! timeouts, 5xx, 429, lock timeouts) and refused (anything else: a bad key, a missing invoice).
//! The key never appears in an error text.

use frontdesk_kernel::crypto::{constant_time_eq, hmac_sha256};
use frontdesk_web::outbound::{self, OutboundError, OutboundPolicy, OutboundRequest};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use url::Url;

/// The API version Frontdesk's calls are made with (the fields read here exist in every version
/// since 2020; webhook payloads follow the endpoint's version, which may differ).
pub const API_VERSION: &str = "2024-06-20";
/// How far a signature's timestamp may be from now (Stripe's libraries' default).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Why a webhook's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// No `t=` or no `v1=` in the header, or no header.
    Malformed,
    /// The timestamp is further from now than the tolerance.
    Stale,
    /// No `v1` signature matches the payload under the secret.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Malformed => "the Stripe-Signature header is missing or malformed",
            SignatureError::Stale => "the Stripe-Signature timestamp is outside the tolerance",
            SignatureError::Mismatch => "no signature matches the payload",
        })
    }
}

/// The `v1` signature of `payload` sent at `timestamp` (unix seconds), lower-case hex.
pub fn signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    data_encoding::HEXLOWER.encode(&hmac_sha256(secret.as_bytes(), &signed))
}

/// The header Stripe would send for `payload` at `timestamp` (for stand-ins and tests).
pub fn signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, payload))
}

/// Checks a `Stripe-Signature` header against `payload`, at `now` (unix seconds).
pub fn verify(header: Option<&str>, payload: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => candidates.push(s),
            _ => {} // v0 (test-mode legacy) and future schemes are ignored, as Stripe asks
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = signature(secret, timestamp, payload);
    if !candidates.iter().any(|c| constant_time_eq(c.as_bytes(), expected.as_bytes())) {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// A card error (HTTP 402): the payment was attempted and declined.
    Declined(String),
    /// Might work later: network, timeout, 5xx, 429, Stripe's lock timeout.
    Retry(String),
    /// Will not work as it is: a bad key, a missing invoice, a request Stripe refuses.
    Refused { status: u16, message: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Declined(m) | CallError::Retry(m) | CallError::Refused { message: m, .. } => f.write_str(m),
        }
    }
}

/// The tenant's key and where Stripe is.
pub struct Client<'a> {
    pub http: &'a reqwest::Client,
    pub policy: &'a OutboundPolicy,
    pub base: &'a Url,
    pub secret_key: &'a str,
}

impl Client<'_> {
    /// `GET /v1/account`: the account the key belongs to.
    pub async fn account(&self) -> Result<Value, CallError> {
        self.call("v1/account", None).await
    }

    /// `GET /v1/invoices/{id}`.
    pub async fn invoice(&self, invoice_id: &str) -> Result<Value, CallError> {
        self.call(&format!("v1/invoices/{}", path_segment(invoice_id)?), None).await
    }

    /// `POST /v1/invoices/{id}/pay`: tries to collect the invoice now with the customer's
    /// default payment method. `idempotency_key` makes a repeated attempt (a retried job) one
    /// attempt in Stripe.
    pub async fn pay_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<Value, CallError> {
        self.call(&format!("v1/invoices/{}/pay", path_segment(invoice_id)?), Some(idempotency_key)).await
    }

    async fn call(&self, path: &str, post_with_key: Option<&str>) -> Result<Value, CallError> {
        let exchange = async {
            let url = self
                .base
                .join(path)
                .map_err(|e| CallError::Refused { status: 0, message: format!("cannot build the Stripe URL: {e}") })?;
            let mut headers = HeaderMap::new();
            let bearer = HeaderValue::from_str(&format!("Bearer {}", self.secret_key))
                .map_err(|_| CallError::Refused { status: 0, message: "the Stripe key is not valid text".into() })?;
            headers.insert(AUTHORIZATION, bearer);
            headers.insert("stripe-version", HeaderValue::from_static(API_VERSION));
            let request = match post_with_key {
                Some(key) => {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
                    let key = HeaderValue::from_str(key)
                        .map_err(|_| CallError::Refused { status: 0, message: "bad idempotency key".into() })?;
                    headers.insert("idempotency-key", key);
                    OutboundRequest::post(url, headers, Vec::new())
                }
                None => {
                    let mut r = OutboundRequest::get(url);
                    r.headers = headers;
                    r
                }
            };
            let response = outbound::send(self.http, self.policy, request).await.map_err(|e| match e {
                OutboundError::Forbidden { .. } | OutboundError::InvalidUrl(_) => {
                    CallError::Refused { status: 0, message: e.to_string() }
                }
                _ => CallError::Retry(format!("Stripe is unreachable: {e}")),
            })?;
            let status = response.status.as_u16();
            let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            outcome(status, body)
        };
        exchange.await.map_err(|e| scrub(e, self.secret_key))
    }
}

/// An id used in a URL path: Stripe ids are letters, digits and underscores.
fn path_segment(id: &str) -> Result<&str, CallError> {
    let ok = !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(id).ok_or_else(|| CallError::Refused { status: 0, message: format!("{id:?} is not a Stripe id") })
}

/// Sorts Stripe's answer.
fn outcome(status: u16, body: Value) -> Result<Value, CallError> {
    if (200..300).contains(&status) {
        return if body.is_object() {
            Ok(body)
        } else {
            Err(CallError::Retry(format!("Stripe answered HTTP {status} without a JSON object")))
        };
    }
    let error = &body["error"];
    let mut message = error["message"].as_str().map_or_else(|| format!("Stripe answered HTTP {status}"), str::to_owned);
    if let Some(code) = error["decline_code"].as_str().or(error["code"].as_str()) {
        message = format!("{message} ({code})");
    }
    let retry = status >= 500 || status == 429 || error["code"].as_str() == Some("lock_timeout");
    Err(if status == 402 && error["type"].as_str() == Some("card_error") {
        CallError::Declined(message)
    } else if retry {
        CallError::Retry(message)
    } else {
        CallError::Refused { status, message }
    })
}

fn scrub(e: CallError, secret: &str) -> CallError {
    let clean = |m: String| if secret.len() < 4 { m } else { m.replace(secret, "[secret]") };
    match e {
        CallError::Declined(m) => CallError::Declined(clean(m)),
        CallError::Retry(m) => CallError::Retry(clean(m)),
        CallError::Refused { status, message } => CallError::Refused { status, message: clean(message) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Computed independently of this code (Python's hmac module, and `openssl dgst -sha256 -hmac`), as
    // stripe-python's `WebhookSignature._compute_signature` does:
    //   hmac.new(b"whsec_test_secret", b"1700000000." + payload, hashlib.sha256).hexdigest()
    const SECRET: &str = "whsec_test_secret";
    const PAYLOAD: &str = r#"{"id": "evt_test_webhook", "object": "event"}"#;
    const T: i64 = 1_700_000_000;
    const V1: &str = "aafb6f8becb4b5db5da0da34d6fb419de5f0866d738651a835f821a8a96cf1f3";

    #[test]
    fn signature_matches_the_reference_computation() {
        assert_eq!(signature(SECRET, T, PAYLOAD.as_bytes()), V1);
        let header = format!("t={T},v1={V1}");
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), SECRET, T + 10), Ok(()));
    }

    #[test]
    fn verification_refuses_what_stripe_libraries_refuse() {
        let body = PAYLOAD.as_bytes();
        let good = signature_header(SECRET, T, body);
        assert_eq!(verify(None, body, SECRET, T), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("v1=abc"), body, SECRET, T), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&format!("t={T}")), body, SECRET, T), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&good), b"{\"id\": \"evt_other\"}", SECRET, T), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&good), body, "whsec_other", T), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&good), body, SECRET, T + SIGNATURE_TOLERANCE_SECS + 1), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&good), body, SECRET, T - SIGNATURE_TOLERANCE_SECS - 1), Err(SignatureError::Stale));
        // While a secret is rolled, Stripe signs with both: one match is enough; v0 is ignored.
        let rolled =
            format!("t={T},v1={},v1={},v0=deadbeef", signature("whsec_old", T, body), signature(SECRET, T, body));
        assert_eq!(verify(Some(&rolled), body, SECRET, T), Ok(()));
    }

    #[test]
    fn stripe_errors_are_sorted() {
        let declined = json!({"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}});
        assert_eq!(
            outcome(402, declined),
            Err(CallError::Declined("Your card has insufficient funds. (insufficient_funds)".into()))
        );
        let missing = json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
            "message": "No such invoice: 'in_123'", "param": "invoice"}});
        assert!(matches!(outcome(404, missing), Err(CallError::Refused { status: 404, .. })));
        let locked = json!({"error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "locked"}});
        assert!(matches!(outcome(409, locked), Err(CallError::Retry(_))));
        assert!(matches!(outcome(503, Value::Null), Err(CallError::Retry(_))));
        assert!(matches!(outcome(429, Value::Null), Err(CallError::Retry(_))));
        assert_eq!(outcome(200, json!({"id": "in_1"})), Ok(json!({"id": "in_1"})));
        let key = "sk_test_abcdefghijklmnop";
        let leaked = CallError::Retry(format!("Stripe is unreachable: url https://x/?k={key}"));
        assert!(!scrub(leaked, key).to_string().contains(key));
    }

    #[test]
    fn ids_in_paths_are_plain() {
        assert!(path_segment("in_1MtHbELkdIwHu7ixl4OzzPMv").is_ok());
        assert!(path_segment("in_1/../../v1/charges").is_err());
        assert!(path_segment("").is_err());
    }
}
