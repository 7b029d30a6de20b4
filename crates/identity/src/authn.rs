//! Authentication of every request: session cookie, JWT access token or API key → principal.
//! Each check reads the database, so a revoked key, a removed member or a changed role takes
//! effect on the very next request.

use crate::model::{ApiKeyId, FamilyId, TenantStatus, UserId};
use crate::service::Identity;
use crate::{store, tokens};
use frontdesk_kernel::crypto::{constant_time_eq, sha256_hex};
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, TenantId};
use frontdesk_web::access::TenantChoice;
use frontdesk_web::{Authenticator, Credential, PermissionSet, Presented, Principal};
use futures_util::future::BoxFuture;

/// `last_used_at` and session activity are written at most this often per key or session.
const TOUCH_EVERY_MS: i64 = 60_000;

fn invalid(detail: &str) -> Error {
    Error::unauthenticated("invalid_credentials", detail)
}

impl Authenticator for Identity {
    fn authenticate<'a>(&'a self, presented: &'a Presented, _ip: &'a str) -> BoxFuture<'a, Result<Principal, Error>> {
        Box::pin(async move {
            match presented {
                Presented::Bearer(token) if token.starts_with("fdk_") => self.authenticate_api_key(token).await,
                Presented::Bearer(token) if tokens::looks_like_jwt(token) => self.authenticate_jwt(token).await,
                Presented::Bearer(_) => Err(invalid("The bearer token is neither an access token nor an API key.")),
                Presented::Session(cookie) => self.authenticate_session(cookie).await,
            }
        })
    }
}

impl Identity {
    async fn authenticate_api_key(&self, token: &str) -> Result<Principal, Error> {
        // fdk_<26 tenant><26 key>_<secret>
        let body = &token[4..];
        let (ids, secret) = body.split_once('_').ok_or_else(|| invalid("Malformed API key."))?;
        if ids.len() != 52 {
            return Err(invalid("Malformed API key."));
        }
        let tenant = TenantId::parse(&format!("ten_{}", &ids[..26])).ok_or_else(|| invalid("Malformed API key."))?;
        let key_id = ApiKeyId::parse(&format!("key_{}", &ids[26..])).ok_or_else(|| invalid("Malformed API key."))?;
        let mut tx = self.db.tenant_read(&tenant).await?;
        let found = store::api_key_for_auth(&mut tx, &key_id).await?;
        drop(tx);
        let Some((key, hash, status, tenant_name)) = found else {
            return Err(invalid("Unknown API key."));
        };
        let now = now_ms();
        if !constant_time_eq(sha256_hex(secret.as_bytes()).as_bytes(), hash.as_bytes()) {
            return Err(invalid("Unknown API key."));
        }
        if key.revoked_at.is_some() {
            return Err(Error::unauthenticated("api_key_revoked", "This API key was revoked."));
        }
        if key.expires_at.is_some_and(|e| e <= now) {
            return Err(Error::unauthenticated("api_key_expired", "This API key has expired."));
        }
        if status == TenantStatus::Suspended {
            return Err(Error::forbidden("This tenant is suspended."));
        }
        if key.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
            let mut tx = self.db.tenant(&tenant).await?;
            store::touch_api_key(&mut tx, &key_id, now).await?;
            tx.commit().await?;
        }
        let permissions = PermissionSet::from_csv(&key.permissions.join(","));
        let principal = Principal::api_key(tenant, key_id.as_str(), format!("key:{}", key.name), permissions);
        Ok(Principal { tenant_name: Some(tenant_name), ..principal })
    }

    async fn authenticate_jwt(&self, token: &str) -> Result<Principal, Error> {
        let claims = tokens::decode(token, &self.jwt_key, now_ms() / 1000).ok_or_else(|| {
            Error::unauthenticated("invalid_token", "The access token is invalid or expired; refresh it.")
        })?;
        let user_id = UserId::parse(&claims.sub).ok_or_else(|| invalid("Malformed access token."))?;
        let family = FamilyId::parse(&claims.fam).ok_or_else(|| invalid("Malformed access token."))?;
        let tenant = claims
            .tid
            .as_deref()
            .map(|t| TenantId::parse(t).ok_or_else(|| invalid("Malformed access token.")))
            .transpose()?;
        let mut tx = self.db.system_read().await?;
        if !store::family_is_live(&mut tx, family.as_str(), &user_id).await? {
            return Err(Error::unauthenticated("token_revoked", "This sign-in was ended; sign in again."));
        }
        let user = store::user(&mut tx, &user_id).await?;
        self.principal_for(&mut tx, user, tenant, Credential::AccessToken { family_id: family.to_string() }, false)
            .await
    }

    async fn authenticate_session(&self, cookie: &str) -> Result<Principal, Error> {
        let mut tx = self.db.system_read().await?;
        let session = store::live_session(&mut tx, &sha256_hex(cookie.as_bytes()))
            .await?
            .ok_or_else(|| Error::unauthenticated("session_expired", "Your session has ended; sign in again."))?;
        let user = store::user(&mut tx, &session.user_id).await?;
        let (session_id, last_seen_at) = (session.id.clone(), session.last_seen_at);
        let credential = Credential::Session { session_id: session.id.to_string(), csrf_token: session.csrf_token };
        let principal = self.principal_for(&mut tx, user, session.tenant_id, credential, true).await?;
        drop(tx);
        let now = now_ms();
        if now - last_seen_at > TOUCH_EVERY_MS {
            // Sliding expiry: active sessions stay signed in.
            let mut tx = self.db.system().await?;
            store::touch_session(&mut tx, &session_id, now + self.config.session_ttl.as_millis() as i64).await?;
            tx.commit().await?;
        }
        Ok(principal)
    }

    /// A user's principal in `tenant` (their role there), or without a tenant when they have
    /// no membership in it (any longer).
    async fn principal_for(
        &self,
        tx: &mut frontdesk_store::SystemTx,
        user: store::UserRecord,
        tenant: Option<TenantId>,
        credential: Credential,
        with_memberships: bool,
    ) -> Result<Principal, Error> {
        let (tenant_id, role, tenant_name) = match tenant {
            Some(t) => match store::role_in(tx, &t, &user.id).await? {
                Some((_, TenantStatus::Suspended, _)) => return Err(Error::forbidden("This tenant is suspended.")),
                Some((role, TenantStatus::Active, name)) => (Some(t), Some(role), Some(name)),
                None => (None, None, None),
            },
            None => (None, None, None),
        };
        let memberships = if with_memberships {
            store::memberships_of(tx, &user.id)
                .await?
                .into_iter()
                .map(|m| TenantChoice { tenant_id: m.tenant_id, name: m.tenant_name, slug: m.slug, role: m.role })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Principal {
            user_id: Some(user.id.to_string()),
            label: user.email,
            tenant_id,
            role,
            permissions: role.map(|r| r.permissions()).unwrap_or_default(),
            platform_operator: user.platform_operator,
            credential,
            locale: user.locale.as_deref().and_then(|l| Locale::parse(l).ok()),
            tenant_name,
            memberships,
        })
    }
}
