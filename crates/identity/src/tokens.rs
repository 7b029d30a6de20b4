//! API access tokens: compact JWTs (HS256) that live 15 minutes, paired with opaque refresh
//! tokens that rotate on every use. Each access token names its token family, so logging out
//! or detecting a refresh-token reuse revokes the family and every access token in it at once.

use frontdesk_kernel::crypto::{constant_time_eq, hmac_sha256};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The tenant the token acts in (absent for a user without membership).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// The token family (one log-in).
    pub fam: String,
    pub iat: i64,
    pub exp: i64,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn b64(data: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(data)
}

pub fn encode(claims: &AccessClaims, key: &[u8; 32]) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!("{}.{}", b64(HEADER.as_bytes()), b64(&payload));
    let sig = hmac_sha256(key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig))
}

/// Verifies signature, algorithm and expiry. Any failure is `None`: callers answer 401.
pub fn decode(token: &str, key: &[u8; 32], now_secs: i64) -> Option<AccessClaims> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(h.as_bytes()).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None; // never "none", never an asymmetric algorithm with our HMAC key
    }
    let expected = hmac_sha256(key, format!("{h}.{p}").as_bytes());
    let sig = data_encoding::BASE64URL_NOPAD.decode(s.as_bytes()).ok()?;
    if !constant_time_eq(&sig, &expected) {
        return None;
    }
    let claims: AccessClaims =
        serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(p.as_bytes()).ok()?).ok()?;
    (claims.exp > now_secs).then_some(claims)
}

/// True when `token` looks like a JWT (three dot-separated parts) rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims { sub: "usr_x".into(), tid: Some("ten_y".into()), fam: "fam_z".into(), iat: 100, exp }
    }

    #[test]
    fn round_trip_and_rejections() {
        let key = [1u8; 32];
        let token = encode(&claims(1000), &key);
        assert_eq!(decode(&token, &key, 500), Some(claims(1000)));
        assert_eq!(decode(&token, &key, 1000), None, "expired");
        assert_eq!(decode(&token, &[2u8; 32], 500), None, "other key");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_payload =
            b64(&serde_json::to_vec(&AccessClaims { sub: "usr_admin".into(), ..claims(1000) }).unwrap());
        parts[1] = &forged_payload;
        assert_eq!(decode(&parts.join("."), &key, 500), None, "tampered payload");
        let none_alg = format!("{}.{}.", b64(br#"{"alg":"none"}"#), token.split('.').nth(1).unwrap());
        assert_eq!(decode(&none_alg, &key, 500), None, "alg none");
    }

    /// RFC 7515 appendix A.1: HS256 over the RFC's own signing input and key.
    #[test]
    fn rfc7515_hs256_vector() {
        let key_b64 = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
        let key = data_encoding::BASE64URL_NOPAD.decode(key_b64.as_bytes()).unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        assert_eq!(b64(&hmac_sha256(&key, input.as_bytes())), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    }
}
