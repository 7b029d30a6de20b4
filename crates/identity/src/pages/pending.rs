//! The signed hand-over from the password step to the second-factor step of a log-in: who passed
//! the password, until when, and where to go afterwards. Nothing is stored on the server; the
//! token is `base64url(json) "." base64url(HMAC-SHA256(key, base64url(json)))`.

use data_encoding::BASE64URL_NOPAD;
use frontdesk_kernel::crypto::{constant_time_eq, hmac_sha256};
use serde::{Deserialize, Serialize};

/// The key purpose (`Keyring::derive`) of pending log-ins.
pub const PURPOSE: &str = "login-2fa";
/// How long the second step may take.
pub const VALID_MS: i64 = 5 * 60 * 1000;

/// A log-in whose password was right and whose second factor is still due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub user_id: String,
    pub email: String,
    pub expires_ms: i64,
    pub next: String,
}

impl PendingLogin {
    pub fn new(user_id: &str, email: &str, next: &str, now_ms: i64) -> Self {
        Self {
            user_id: user_id.to_owned(),
            email: email.to_owned(),
            expires_ms: now_ms + VALID_MS,
            next: next.to_owned(),
        }
    }

    pub fn sign(&self, key: &[u8]) -> String {
        // A struct of strings and a number always serialises.
        let payload = BASE64URL_NOPAD.encode(&serde_json::to_vec(self).unwrap_or_default());
        let mac = BASE64URL_NOPAD.encode(&hmac_sha256(key, payload.as_bytes()));
        format!("{payload}.{mac}")
    }

    /// The pending log-in of `token` if it was signed with `key` and has not expired.
    pub fn verify(key: &[u8], token: &str, now_ms: i64) -> Option<Self> {
        let (payload, mac) = token.trim().split_once('.')?;
        let mac = BASE64URL_NOPAD.decode(mac.as_bytes()).ok()?;
        if !constant_time_eq(&mac, &hmac_sha256(key, payload.as_bytes())) {
            return None;
        }
        let login: Self = serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).ok()?).ok()?;
        (now_ms < login.expires_ms).then_some(login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_700_000_000_000;

    fn login() -> PendingLogin {
        PendingLogin::new("usr_1", "ada|x@example.com", "/app/team?x=1|2", NOW)
    }

    #[test]
    fn round_trip_within_five_minutes() {
        let token = login().sign(KEY);
        assert_eq!(PendingLogin::verify(KEY, &token, NOW), Some(login()));
        assert_eq!(PendingLogin::verify(KEY, &token, NOW + VALID_MS - 1), Some(login()));
    }

    #[test]
    fn expires() {
        let token = login().sign(KEY);
        assert_eq!(PendingLogin::verify(KEY, &token, NOW + VALID_MS), None);
    }

    #[test]
    fn tampering_and_other_keys_fail() {
        let token = login().sign(KEY);
        let (payload, mac) = token.split_once('.').expect("two parts");
        let mut forged = login();
        forged.email = "eve@example.com".into();
        let forged_payload =
            forged.sign(b"another key, also thirty-two bytes").split_once('.').map(|(p, _)| p.to_owned());
        let cases = [
            format!("{}.{mac}", forged_payload.unwrap_or_default()),
            format!("{payload}x.{mac}"),
            format!("{payload}.{}", &mac[1..]),
            format!("{payload}.{mac}A"),
            payload.to_owned(),
            String::new(),
            "..".to_owned(),
        ];
        for bad in cases {
            assert_eq!(PendingLogin::verify(KEY, &bad, NOW), None, "{bad:?}");
        }
        assert_eq!(PendingLogin::verify(b"another key, also thirty-two bytes", &token, NOW), None);
    }
}
