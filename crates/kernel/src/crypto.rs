//! Secrets: one master key from configuration, from which every purpose derives its own key
//! (HMAC-SHA256 of the purpose). Secrets at rest are sealed with AES-256-GCM and carry the id of
//! the key that sealed them, so keys can rotate: new values use the current key, old values open
//! with the previous keys listed in configuration.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Random bytes from the OS generator, as unpadded base64url (for tokens and secrets).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    data_encoding::BASE64URL_NOPAD.encode(&buf)
}

/// SHA-256 as lower-case hex: how high-entropy tokens (sessions, API keys) are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(data))
}

/// Equality that takes the same time whatever the inputs share.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// How a stored secret is shown once sealed: only its last four characters (`…Dsaw`).
pub fn secret_hint(secret: &str) -> String {
    let tail: Vec<char> = secret.chars().rev().take(4).collect();
    format!("…{}", tail.into_iter().rev().collect::<String>())
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("a secret key must be at least 32 bytes of base64/hex or text")]
    WeakKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("sealed value failed authentication")]
    Tampered,
}

#[derive(Clone)]
struct Key {
    id: String,
    master: Vec<u8>,
}

impl Key {
    fn new(master: &[u8]) -> Result<Self, CryptoError> {
        if master.len() < 32 {
            return Err(CryptoError::WeakKey);
        }
        let id = data_encoding::HEXLOWER.encode(&Sha256::digest(master)[..4]);
        Ok(Self { id, master: master.to_vec() })
    }

    fn derive(&self, purpose: &str) -> [u8; 32] {
        hmac_sha256(&self.master, purpose.as_bytes())
    }
}

/// The master key and its predecessors.
#[derive(Clone)]
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyring(current={}, previous={})", self.current.id, self.previous.len())
    }
}

impl Keyring {
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Result<Self, CryptoError> {
        Ok(Self {
            current: Key::new(current)?,
            previous: previous.iter().map(|k| Key::new(k)).collect::<Result<_, _>>()?,
        })
    }

    /// Id of the current key (shown to operators; not secret).
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// A 32-byte key for one purpose (`jwt`, `cookie`, …) derived from the current master key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        self.current.derive(purpose)
    }

    /// Seals a secret for storage: `v1.<key id>.<base64url(nonce ‖ ciphertext)>`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let cipher = Aes256Gcm::new(&self.current.derive(&format!("seal:{purpose}")).into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ciphertext = cipher.encrypt(Nonce::from_slice(&nonce), plaintext).unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("v1.{}.{}", self.current.id, data_encoding::BASE64URL_NOPAD.encode(&blob))
    }

    /// Opens a value sealed by [`Keyring::seal`] with the same purpose.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))?;
        let blob = data_encoding::BASE64URL_NOPAD.decode(body.as_bytes()).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let cipher = Aes256Gcm::new(&key.derive(&format!("seal:{purpose}")).into());
        cipher.decrypt(Nonce::from_slice(&blob[..12]), &blob[12..]).map_err(|_| CryptoError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_rotate() {
        let old = Keyring::new(&[7u8; 32], &[]).unwrap();
        let sealed = old.seal("totp", b"JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with(&format!("v1.{}.", old.key_id())));
        assert_eq!(old.open("totp", &sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        // Another purpose cannot open it.
        assert_eq!(old.open("stripe", &sealed), Err(CryptoError::Tampered));
        // After rotation the old value still opens; new values use the new key.
        let new = Keyring::new(&[9u8; 32], &[vec![7u8; 32]]).unwrap();
        assert_eq!(new.open("totp", &sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(new.seal("totp", b"x").contains(new.key_id()));
        // Without the old key it is refused clearly.
        let unrelated = Keyring::new(&[9u8; 32], &[]).unwrap();
        assert!(matches!(unrelated.open("totp", &sealed), Err(CryptoError::UnknownKey(_))));
        // Change one character inside the ciphertext (to a different one, whatever it was).
        let mut chars: Vec<char> = sealed.chars().collect();
        let i = chars.len() - 10;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(old.open("totp", &tampered).is_err());
        assert_eq!(Keyring::new(b"short", &[]).unwrap_err(), CryptoError::WeakKey);
    }
}
