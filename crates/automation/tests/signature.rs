//! Standard Webhooks signatures: the published test vector, and verification.

use axum::http::{HeaderMap, HeaderValue};
use frontdesk_automation::signature::*;
use std::time::Duration;

// The reference libraries' fixed vector (standard-webhooks and svix test suites).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1614265330;
const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(HEADER_ID, HeaderValue::from_str(id).unwrap());
    h.insert(HEADER_TIMESTAMP, HeaderValue::from_str(&ts.to_string()).unwrap());
    h.insert(HEADER_SIGNATURE, HeaderValue::from_str(signature).unwrap());
    h
}

#[test]
fn reproduces_the_published_test_vector() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    assert_eq!(secret.sign(ID, TIMESTAMP, PAYLOAD), EXPECTED);
    // The prefix is optional, as in the reference libraries; the secret round-trips.
    assert_eq!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(), secret);
    assert_eq!(secret.expose(), SECRET);
    let h = headers(ID, TIMESTAMP, EXPECTED);
    assert_eq!(verify_at(&h, PAYLOAD, &[secret], DEFAULT_TOLERANCE, TIMESTAMP + 10), Ok(()));
}

#[test]
fn tampering_old_timestamps_and_unknown_secrets_are_refused() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let s = [secret.clone()];
    let h = headers(ID, TIMESTAMP, EXPECTED);
    let tol = DEFAULT_TOLERANCE;
    assert_eq!(verify_at(&h, br#"{"test": 2432232315}"#, &s, tol, TIMESTAMP), Err(VerifyError::NoMatch));
    assert_eq!(verify_at(&h, PAYLOAD, &s, tol, TIMESTAMP + 301), Err(VerifyError::TooOld));
    assert_eq!(verify_at(&h, PAYLOAD, &s, tol, TIMESTAMP - 301), Err(VerifyError::TooNew));
    // A signature for another timestamp or id does not transfer.
    let moved = headers(ID, TIMESTAMP + 1, EXPECTED);
    assert_eq!(verify_at(&moved, PAYLOAD, &s, tol, TIMESTAMP), Err(VerifyError::NoMatch));
    let other = headers("msg_other", TIMESTAMP, EXPECTED);
    assert_eq!(verify_at(&other, PAYLOAD, &s, tol, TIMESTAMP), Err(VerifyError::NoMatch));
    assert_eq!(verify_at(&h, PAYLOAD, &[WebhookSecret::generate()], tol, TIMESTAMP), Err(VerifyError::NoMatch));
    let mut missing = h.clone();
    missing.remove(HEADER_SIGNATURE);
    assert_eq!(verify_at(&missing, PAYLOAD, &s, tol, TIMESTAMP), Err(VerifyError::MissingHeader(HEADER_SIGNATURE)));
    // verify() uses the real clock: a 2021 timestamp is far too old.
    assert_eq!(verify(&h, PAYLOAD, &s, tol), Err(VerifyError::TooOld));
    // Another scheme's signature is ignored.
    let v2 = headers(ID, TIMESTAMP, &EXPECTED.replace("v1,", "v2,"));
    assert_eq!(verify_at(&v2, PAYLOAD, &s, tol, TIMESTAMP), Err(VerifyError::NoMatch));
}

#[test]
fn during_rotation_either_secret_verifies_the_double_signature() {
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let ts = 1_700_000_000;
    let header = signature_header(&[new.clone(), old.clone()], "msg_x", ts, b"{}");
    assert_eq!(header.split(' ').count(), 2);
    let h = headers("msg_x", ts, &header);
    let tol = Duration::from_secs(300);
    assert_eq!(verify_at(&h, b"{}", std::slice::from_ref(&old), tol, ts), Ok(()));
    assert_eq!(verify_at(&h, b"{}", std::slice::from_ref(&new), tol, ts), Ok(()));
    assert_eq!(verify_at(&h, b"{}", &[WebhookSecret::generate()], tol, ts), Err(VerifyError::NoMatch));
}

#[test]
fn secrets_are_whsec_base64_of_24_to_64_bytes() {
    let s = WebhookSecret::generate().expose();
    assert!(s.starts_with("whsec_"));
    assert_eq!(WebhookSecret::parse(&s).unwrap().expose(), s);
    assert_eq!(WebhookSecret::parse("whsec_not base64!"), Err(SecretError::Malformed));
    assert_eq!(WebhookSecret::parse("whsec_c2hvcnQ="), Err(SecretError::Length));
}
