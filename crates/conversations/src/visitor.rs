//! Visitor tokens: how the web chat recognises a returning visitor without cookies. A token is
//! sealed (AES-256-GCM, the platform keyring, so it survives key rotation) and names its tenant:
//! a token of one tenant is worthless at another, and a client cannot forge or alter one.

use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::TenantId;

const PURPOSE: &str = "web-visitor";

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    /// The visitor's address on the web channel.
    pub id: String,
}

/// A new visitor of `tenant`, and its token.
pub fn issue(keys: &Keyring, tenant: &TenantId) -> (Visitor, String) {
    let id = format!("vis_{}", frontdesk_kernel::id::new_body());
    let token = keys.seal(PURPOSE, format!("{}|{}", tenant.as_str(), id).as_bytes());
    (Visitor { id }, token)
}

/// The token again for an existing visitor (e.g. after a key rotation).
pub fn token_for(keys: &Keyring, tenant: &TenantId, visitor: &Visitor) -> String {
    keys.seal(PURPOSE, format!("{}|{}", tenant.as_str(), visitor.id).as_bytes())
}

/// The visitor of a token presented to `tenant`; `None` when the token is malformed, forged,
/// sealed by an unknown key, or belongs to another tenant.
pub fn verify(keys: &Keyring, tenant: &TenantId, token: &str) -> Option<Visitor> {
    if token.len() > 512 {
        return None;
    }
    let plain = keys.open(PURPOSE, token.trim()).ok()?;
    let plain = String::from_utf8(plain).ok()?;
    let (owner, id) = plain.split_once('|')?;
    (owner == tenant.as_str() && id.starts_with("vis_")).then(|| Visitor { id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_tenant_and_tamper_proof() {
        let keys = Keyring::new(b"0123456789abcdef0123456789abcdef", &[]).expect("keyring");
        let a = TenantId::new();
        let b = TenantId::new();
        let (visitor, token) = issue(&keys, &a);
        assert_eq!(verify(&keys, &a, &token), Some(visitor));
        assert_eq!(verify(&keys, &b, &token), None, "another tenant refuses the token");
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(verify(&keys, &a, &String::from_utf8(tampered).unwrap_or_default()), None);
        assert_eq!(verify(&keys, &a, "garbage"), None);
    }
}
