//! Identity's rules: sign-up, log-in with throttling and two-factor, tokens and sessions, the
//! tenant's members, invitations and API keys. Every change is audited in its own transaction.

mod account;
mod api_keys;
mod login;
mod members;
mod platform;
mod settings;
mod tenants;

use crate::model::*;
use crate::{password, store, tokens, totp};
use frontdesk_kernel::crypto::{random_token, sha256_hex, Keyring};
use frontdesk_kernel::domain::{DisplayName, Email as EmailAddr, Locale, NewPassword, Slug, TimeZoneName};
use frontdesk_kernel::error::Validator;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::jobs::{self, NewJob};
use frontdesk_store::{Db, TenantTx};
use frontdesk_web::ratelimit::{Decision, Quota, RateLimiter};
use frontdesk_web::{Permission, PermissionSet, Principal, Role};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The job that delivers an outbox e-mail.
pub const EMAIL_JOB: &str = "identity.email.deliver";

#[derive(Clone, Debug)]
pub struct IdentityConfig {
    pub public_url: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub session_ttl: Duration,
    pub invitation_ttl: Duration,
    /// Failed log-ins allowed per account before it is throttled.
    pub login_per_account: Quota,
    /// Log-in attempts per client address.
    pub login_per_ip: Quota,
    /// Whether anyone may sign up (otherwise only the operator creates tenants).
    pub open_signup: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            login_per_account: Quota::new(5, Duration::from_secs(15 * 60)),
            login_per_ip: Quota::per_minute(30),
            open_signup: true,
        }
    }
}

/// The identity capability's service. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    pub(crate) db: Db,
    pub(crate) keys: Keyring,
    pub(crate) jwt_key: [u8; 32],
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) config: Arc<IdentityConfig>,
}

/// Result of the first log-in step.
pub enum LoginStep {
    Done(store::UserRecord),
    /// The password was right; the second factor is still needed.
    NeedsSecondFactor(store::UserRecord),
}

/// A new dashboard session: the cookie value and its CSRF token.
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
    pub max_age: Duration,
}

impl Identity {
    pub fn new(db: Db, keys: Keyring, limiter: Arc<RateLimiter>, config: IdentityConfig) -> Self {
        let jwt_key = keys.derive("jwt");
        Self { db, keys, jwt_key, limiter, config: Arc::new(config) }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }
}

pub(crate) use account::recovery_hash;
