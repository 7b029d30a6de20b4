//! Identity's rules: sign-up, log-in with throttling and two-factor, tokens and sessions, the
//! tenant's members, invitations and API keys. Every change is audited in its own transaction.

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

    // ---------------- sign-up and tenants ----------------

    /// Creates a tenant with its first workspace and `owner` as OWNER, in the caller's transaction.
    async fn create_tenant_in(
        &self,
        tx: &mut frontdesk_store::SystemTx,
        req: &NewTenantRequest,
        owner: &store::UserRecord,
        actor: &Actor,
    ) -> Result<Tenant> {
        let mut v = Validator::new();
        let name = v.check("tenant_name", DisplayName::parse(&req.tenant_name));
        let slug_input = req.slug.clone().unwrap_or_else(|| Slug::suggest(&req.tenant_name));
        let slug = v.check("slug", Slug::parse(&slug_input));
        let tz = v.check("time_zone", TimeZoneName::parse(req.time_zone.as_deref().unwrap_or("Europe/Berlin")));
        let locale = v.check("locale", Locale::parse(req.locale.as_deref().unwrap_or("en")));
        let industry = req.industry.clone().unwrap_or_else(|| "other".into());
        if !INDUSTRIES.contains(&industry.as_str()) {
            v.push("industry", "invalid", format!("Choose one of {}.", INDUSTRIES.join(", ")));
        }
        v.finish()?;
        let (Some(name), Some(slug), Some(tz), Some(locale)) = (name, slug, tz, locale) else {
            return Err(Error::internal("validated values missing"));
        };
        let tenant = Tenant {
            id: TenantId::new(),
            slug: slug.into_inner(),
            name: name.into_inner(),
            status: TenantStatus::Active,
            time_zone: tz.into_inner(),
            locale: locale.as_str().into(),
            industry,
            created_at: now_ms(),
        };
        store::insert_tenant(tx, &tenant).await.map_err(|e| match e {
            frontdesk_store::StoreError::Conflict(_) => Error::field("slug", "taken", "This slug is already taken."),
            other => other.into(),
        })?;
        let workspace = Workspace { id: WorkspaceId::new(), name: "Main".into(), created_at: tenant.created_at };
        store::insert_workspace(tx, &tenant.id, &workspace).await?;
        let member = store::insert_membership(tx, &tenant.id, &owner.id, Role::Owner).await?;
        audit::record_system(
            tx,
            tenant.id.as_str(),
            actor,
            Change::new("tenant.created", "tenant", Some(tenant.id.as_str())).details(json!({"slug": tenant.slug})),
        )
        .await?;
        audit::record_system(
            tx,
            tenant.id.as_str(),
            actor,
            Change::new("member.added", "member", Some(member.as_str()))
                .details(json!({"role": "OWNER", "user_id": owner.id})),
        )
        .await?;
        Ok(tenant)
    }

    /// Public sign-up: a new business and its owner.
    pub async fn signup(&self, req: SignupRequest, ip: &str) -> Result<(Tenant, TokenPair)> {
        if !self.config.open_signup {
            return Err(Error::forbidden("Sign-up is closed on this installation; ask the operator."));
        }
        self.throttle_ip("signup", ip).await?;
        let mut v = Validator::new();
        let email = v.check("email", EmailAddr::parse(&req.email));
        let name = v.check("name", DisplayName::parse(&req.name));
        let pw = v.check("password", NewPassword::parse(&req.password));
        // Validate the tenant fields too, so one answer lists every problem.
        let tenant_req = NewTenantRequest {
            tenant_name: req.tenant_name.clone(),
            slug: req.slug.clone(),
            time_zone: req.time_zone.clone(),
            locale: req.locale.clone(),
            industry: req.industry.clone(),
        };
        if let Err(Error::Validation(errors)) = validate_tenant(&tenant_req) {
            for e in errors {
                v.push(&e.field, &e.code, e.message);
            }
        }
        v.finish()?;
        let (Some(email), Some(name), Some(pw)) = (email, name, pw) else {
            return Err(Error::internal("validated values missing"));
        };
        let hash = password::hash(pw.expose().to_owned()).await?;
        let mut tx = self.db.system().await?;
        if store::user_by_email(&mut tx, email.as_str()).await?.is_some() {
            return Err(Error::field(
                "email",
                "taken",
                "An account with this e-mail exists; sign in and add a business there.",
            ));
        }
        let user = store::UserRecord {
            id: UserId::new(),
            email: email.into_inner(),
            name: name.into_inner(),
            password_hash: hash,
            locale: req.locale.as_deref().and_then(|l| Locale::parse(l).ok()).map(|l| l.as_str().to_owned()),
            platform_operator: false,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            tokens_valid_after: now_ms(),
        };
        store::insert_user(&mut tx, &user).await.map_err(|e| match e {
            frontdesk_store::StoreError::Conflict(_) => {
                Error::field("email", "taken", "An account with this e-mail exists.")
            }
            other => other.into(),
        })?;
        let actor = Actor {
            kind: "user",
            id: Some(user.id.to_string()),
            label: user.email.clone(),
            via: "api",
            ip: Some(ip.into()),
            request_id: None,
        };
        let tenant = self.create_tenant_in(&mut tx, &tenant_req, &user, &actor).await?;
        let pair = self.issue_tokens_in(&mut tx, &user.id, Some(&tenant.id)).await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant.id, user_id = %user.id, "tenant signed up");
        Ok((tenant, pair))
    }

    /// A signed-in user adds another business, becoming its owner.
    pub async fn create_tenant(&self, principal: &Principal, req: NewTenantRequest, actor: &Actor) -> Result<Tenant> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let mut tx = self.db.system().await?;
        let user = store::user(&mut tx, &user_id).await?;
        let tenant = self.create_tenant_in(&mut tx, &req, &user, actor).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// The operator (CLI) creates a tenant with an owner account, creating the account if needed.
    pub async fn create_tenant_with_owner(
        &self,
        req: NewTenantRequest,
        owner_email: &str,
        owner_name: &str,
        owner_password: Option<&str>,
    ) -> Result<(Tenant, store::UserRecord)> {
        let user = match self.find_user(owner_email).await? {
            Some(u) => u,
            None => {
                let pw = owner_password
                    .ok_or_else(|| Error::field("password", "required", "A new owner needs a password."))?;
                self.create_user(owner_email, owner_name, pw, false).await?
            }
        };
        let mut tx = self.db.system().await?;
        let tenant = self.create_tenant_in(&mut tx, &req, &user, &Actor::cli()).await?;
        tx.commit().await?;
        Ok((tenant, user))
    }

    pub async fn find_user(&self, email: &str) -> Result<Option<store::UserRecord>> {
        let email = EmailAddr::parse(email).map_err(|e| e.on("email"))?;
        let mut tx = self.db.system_read().await?;
        Ok(store::user_by_email(&mut tx, email.as_str()).await?)
    }

    /// Creates an account (CLI, invitations, demo).
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        pw: &str,
        platform_operator: bool,
    ) -> Result<store::UserRecord> {
        let mut v = Validator::new();
        let email = v.check("email", EmailAddr::parse(email));
        let name = v.check("name", DisplayName::parse(name));
        let pw = v.check("password", NewPassword::parse(pw));
        v.finish()?;
        let (Some(email), Some(name), Some(pw)) = (email, name, pw) else {
            return Err(Error::internal("validated values missing"));
        };
        let user = store::UserRecord {
            id: UserId::new(),
            email: email.into_inner(),
            name: name.into_inner(),
            password_hash: password::hash(pw.expose().to_owned()).await?,
            locale: None,
            platform_operator,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            tokens_valid_after: now_ms(),
        };
        let mut tx = self.db.system().await?;
        store::insert_user(&mut tx, &user).await.map_err(|e| match e {
            frontdesk_store::StoreError::Conflict(_) => {
                Error::field("email", "taken", "An account with this e-mail exists.")
            }
            other => other.into(),
        })?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn set_platform_operator(&self, user: &UserId, on: bool) -> Result<()> {
        let mut tx = self.db.system().await?;
        store::set_platform_operator(&mut tx, user, on).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- log-in ----------------

    async fn throttle_ip(&self, what: &str, ip: &str) -> Result<()> {
        match self.limiter.hit(&format!("{what}:ip:{ip}"), self.config.login_per_ip).await {
            Decision::Allow => Ok(()),
            Decision::Deny(wait) => Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) }),
        }
    }

    /// Checks e-mail and password, with throttling per address and per account (failures count
    /// against the account; a throttled account is refused before its password is even checked).
    pub async fn login_password(&self, email: &str, pw: &str, ip: &str) -> Result<LoginStep> {
        self.throttle_ip("login", ip).await?;
        let email = EmailAddr::parse(email).map_err(|_| bad_credentials())?;
        let account_key = format!("login:acct:{}", email.as_str());
        if let Decision::Deny(wait) = self.limiter.peek(&account_key, self.config.login_per_account).await {
            return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) });
        }
        let user = {
            let mut tx = self.db.system_read().await?;
            store::user_by_email(&mut tx, email.as_str()).await?
        };
        let ok = password::verify(pw.to_owned(), user.as_ref().map(|u| u.password_hash.clone())).await?;
        match (ok, user) {
            (true, Some(user)) if user.totp_secret.is_some() => Ok(LoginStep::NeedsSecondFactor(user)),
            (true, Some(user)) => Ok(LoginStep::Done(user)),
            _ => {
                let _ = self.limiter.hit(&account_key, self.config.login_per_account).await;
                tracing::info!(ip, "failed log-in");
                Err(bad_credentials())
            }
        }
    }

    /// Checks the second factor of a user whose password passed: a 6-digit TOTP code, or one of
    /// the recovery codes (either argument may carry either; the shape decides).
    pub async fn verify_second_factor(
        &self,
        user: &store::UserRecord,
        totp_code: Option<&str>,
        recovery: Option<&str>,
    ) -> Result<()> {
        let account_key = format!("login:acct:{}", user.email);
        if let Decision::Deny(wait) = self.limiter.peek(&account_key, self.config.login_per_account).await {
            return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) });
        }
        let Some(sealed) = &user.totp_secret else { return Ok(()) };
        let code = [totp_code, recovery].into_iter().flatten().map(str::trim).find(|c| !c.is_empty());
        let Some(code) = code else {
            return Err(Error::unauthenticated("mfa_required", "Enter the 6-digit code from your authenticator app."));
        };
        let secret = self.open_totp(sealed)?;
        let mut tx = self.db.system().await?;
        let is_totp = code.replace(' ', "").len() == 6 && code.replace(' ', "").bytes().all(|b| b.is_ascii_digit());
        let ok = if is_totp {
            match totp::verify(&secret, code, now_ms() / 1000, user.totp_last_step) {
                Some(step) => store::consume_totp_step(&mut tx, &user.id, step).await?,
                None => false,
            }
        } else {
            store::use_recovery_code(&mut tx, &user.id, &recovery_hash(code)).await?
        };
        tx.commit().await?;
        if ok {
            Ok(())
        } else {
            let _ = self.limiter.hit(&account_key, self.config.login_per_account).await;
            Err(Error::unauthenticated("mfa_invalid", "The code is wrong or was used already."))
        }
    }

    /// `POST /auth/token`: password (and second factor) → token pair.
    pub async fn token_login(&self, req: TokenRequest, ip: &str) -> Result<TokenPair> {
        let user = match self.login_password(&req.email, &req.password, ip).await? {
            LoginStep::Done(u) => u,
            LoginStep::NeedsSecondFactor(u) => {
                self.verify_second_factor(&u, req.totp_code.as_deref(), req.recovery_code.as_deref()).await?;
                u
            }
        };
        let tenant = self.pick_tenant(&user.id, req.tenant_id.as_ref()).await?;
        let mut tx = self.db.system().await?;
        let pair = self.issue_tokens_in(&mut tx, &user.id, tenant.as_ref()).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// The requested tenant if the user is a member, else the first membership.
    async fn pick_tenant(&self, user: &UserId, wanted: Option<&TenantId>) -> Result<Option<TenantId>> {
        let mut tx = self.db.system_read().await?;
        let memberships = store::memberships_of(&mut tx, user).await?;
        match wanted {
            Some(t) => memberships
                .iter()
                .find(|m| &m.tenant_id == t)
                .map(|m| Some(m.tenant_id.clone()))
                .ok_or_else(|| Error::field("tenant_id", "not_a_member", "You are not a member of this tenant.")),
            None => Ok(memberships.first().map(|m| m.tenant_id.clone())),
        }
    }

    async fn issue_tokens_in(
        &self,
        tx: &mut frontdesk_store::SystemTx,
        user: &UserId,
        tenant: Option<&TenantId>,
    ) -> Result<TokenPair> {
        let family = FamilyId::new();
        store::insert_family(tx, &family, user, tenant).await?;
        self.next_tokens_in(tx, &family, user, tenant).await
    }

    async fn next_tokens_in(
        &self,
        tx: &mut frontdesk_store::SystemTx,
        family: &FamilyId,
        user: &UserId,
        tenant: Option<&TenantId>,
    ) -> Result<TokenPair> {
        let now = now_ms();
        let refresh = format!("rt_{}", random_token(32));
        store::insert_refresh_token(
            tx,
            family,
            &sha256_hex(refresh.as_bytes()),
            now + self.config.refresh_ttl.as_millis() as i64,
        )
        .await?;
        let claims = tokens::AccessClaims {
            sub: user.to_string(),
            tid: tenant.map(|t| t.to_string()),
            fam: family.to_string(),
            iat: now / 1000,
            exp: now / 1000 + self.config.access_ttl.as_secs() as i64,
        };
        Ok(TokenPair {
            access_token: tokens::encode(&claims, &self.jwt_key),
            token_type: "Bearer",
            expires_in: self.config.access_ttl.as_secs() as i64,
            refresh_token: refresh,
            tenant_id: tenant.cloned(),
        })
    }

    /// Rotates a refresh token. Presenting a spent token means it leaked: the whole family dies.
    pub async fn refresh(&self, token: &str) -> Result<TokenPair> {
        let hash = sha256_hex(token.trim().as_bytes());
        let mut tx = self.db.system().await?;
        let Some(rec) = store::refresh_token(&mut tx, &hash).await? else {
            return Err(Error::unauthenticated("invalid_refresh_token", "This refresh token is not valid."));
        };
        if rec.used || !store::use_refresh_token(&mut tx, &hash).await? {
            store::revoke_family(&mut tx, rec.family_id.as_str(), "refresh_token_reused").await?;
            tx.commit().await?;
            tracing::warn!(user_id = %rec.user_id, family = %rec.family_id, "refresh token reused: family revoked");
            return Err(Error::unauthenticated(
                "refresh_token_reused",
                "This refresh token was used before; every token of this sign-in is now revoked. Sign in again.",
            ));
        }
        if rec.expired || !rec.family_live {
            return Err(Error::unauthenticated(
                "invalid_refresh_token",
                "This refresh token has expired or was revoked.",
            ));
        }
        let pair = self.next_tokens_in(&mut tx, &rec.family_id, &rec.user_id, rec.tenant_id.as_ref()).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// Tokens for another of the caller's tenants (a new family).
    pub async fn switch_tenant_tokens(&self, principal: &Principal, tenant: &TenantId) -> Result<TokenPair> {
        let user = UserId::from_db(principal.user_id()?.to_owned());
        let tenant = self.pick_tenant(&user, Some(tenant)).await?;
        let mut tx = self.db.system().await?;
        let pair = self.issue_tokens_in(&mut tx, &user, tenant.as_ref()).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// Ends the current sign-in: the session, or the token family of the access token.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        let mut tx = self.db.system().await?;
        match &principal.credential {
            frontdesk_web::Credential::Session { session_id, .. } => {
                store::revoke_session(&mut tx, &SessionId::from_db(session_id.clone())).await?
            }
            frontdesk_web::Credential::AccessToken { family_id } => {
                store::revoke_family(&mut tx, family_id, "logout").await?
            }
            frontdesk_web::Credential::ApiKey { .. } => {
                return Err(Error::bad_request("not_a_session", "An API key is revoked, not logged out."))
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session and token of the caller's account.
    pub async fn revoke_all(&self, principal: &Principal, actor: &Actor) -> Result<()> {
        let user = UserId::from_db(principal.user_id()?.to_owned());
        let mut tx = self.db.system().await?;
        store::revoke_all_tokens(&mut tx, &user).await?;
        if let Some(t) = &principal.tenant_id {
            audit::record_system(
                &mut tx,
                t.as_str(),
                actor,
                Change::new("user.sessions_revoked", "user", Some(user.as_str())),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---------------- dashboard sessions ----------------

    pub async fn create_session(&self, user: &store::UserRecord, ip: &str) -> Result<NewSession> {
        let tenant = self.pick_tenant(&user.id, None).await?;
        let cookie = random_token(32);
        let csrf = random_token(24);
        let mut tx = self.db.system().await?;
        store::insert_session(
            &mut tx,
            &SessionId::new(),
            &sha256_hex(cookie.as_bytes()),
            &user.id,
            tenant.as_ref(),
            &csrf,
            ip,
            now_ms() + self.config.session_ttl.as_millis() as i64,
        )
        .await?;
        tx.commit().await?;
        Ok(NewSession { cookie, csrf_token: csrf, max_age: self.config.session_ttl })
    }

    /// Points the caller's dashboard session at another of their tenants.
    pub async fn switch_session_tenant(&self, principal: &Principal, tenant: &TenantId) -> Result<()> {
        let frontdesk_web::Credential::Session { session_id, .. } = &principal.credential else {
            return Err(Error::bad_request("not_a_session", "Only a dashboard session switches tenants this way."));
        };
        let user = UserId::from_db(principal.user_id()?.to_owned());
        let Some(tenant) = self.pick_tenant(&user, Some(tenant)).await? else { return Err(Error::NotFound) };
        let mut tx = self.db.system().await?;
        store::set_session_tenant(&mut tx, &SessionId::from_db(session_id.clone()), &tenant).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- the signed-in user ----------------

    pub async fn me(&self, principal: &Principal) -> Result<Me> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let mut tx = self.db.system_read().await?;
        let user = store::user(&mut tx, &user_id).await?;
        let memberships = store::memberships_of(&mut tx, &user_id).await?;
        Ok(Me {
            id: user.id,
            email: user.email,
            name: user.name,
            locale: user.locale,
            two_factor: user.totp_secret.is_some(),
            platform_operator: user.platform_operator,
            tenant_id: principal.tenant_id.clone(),
            role: principal.role,
            memberships,
        })
    }

    pub async fn update_me(&self, principal: &Principal, req: UpdateMeRequest, actor: &Actor) -> Result<Me> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let mut v = Validator::new();
        let name = req.name.as_deref().map(|n| v.check("name", DisplayName::parse(n)));
        let locale = req.locale.as_deref().map(|l| v.check("locale", Locale::parse(l)));
        v.finish()?;
        let mut tx = self.db.system().await?;
        let user = store::user(&mut tx, &user_id).await?;
        let name = name.flatten().map(|n| n.into_inner()).unwrap_or(user.name);
        let locale = match locale.flatten() {
            Some(l) => Some(l.as_str().to_owned()),
            None => user.locale,
        };
        store::update_user_profile(&mut tx, &user_id, &name, locale.as_deref()).await?;
        if let Some(t) = &principal.tenant_id {
            audit::record_system(
                &mut tx,
                t.as_str(),
                actor,
                Change::new("user.profile_changed", "user", Some(user_id.as_str())),
            )
            .await?;
        }
        tx.commit().await?;
        self.me(principal).await
    }

    /// Changes the password; every other session and token ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        req: ChangePasswordRequest,
        actor: &Actor,
    ) -> Result<()> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let new = NewPassword::parse(&req.new_password).map_err(|e| e.on("new_password"))?;
        let user = {
            let mut tx = self.db.system_read().await?;
            store::user(&mut tx, &user_id).await?
        };
        if !password::verify(req.current_password, Some(user.password_hash)).await? {
            return Err(Error::field("current_password", "wrong_password", "The current password is wrong."));
        }
        let hash = password::hash(new.expose().to_owned()).await?;
        let mut tx = self.db.system().await?;
        store::set_password(&mut tx, &user_id, &hash).await?;
        store::revoke_all_tokens(&mut tx, &user_id).await?;
        if let Some(t) = &principal.tenant_id {
            audit::record_system(
                &mut tx,
                t.as_str(),
                actor,
                Change::new("user.password_changed", "user", Some(user_id.as_str())),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn open_totp(&self, sealed: &str) -> Result<String> {
        let bytes = self.keys.open("totp", sealed).map_err(Error::internal)?;
        String::from_utf8(bytes).map_err(Error::internal)
    }

    /// Starts two-factor set-up: a new secret, stored sealed until confirmed with a code.
    pub async fn totp_setup(&self, principal: &Principal) -> Result<TotpSetup> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let mut tx = self.db.system().await?;
        let user = store::user(&mut tx, &user_id).await?;
        if user.totp_secret.is_some() {
            return Err(Error::conflict(
                "two_factor_enabled",
                "Two-factor authentication is already on; turn it off first.",
            ));
        }
        let secret = totp::new_secret();
        store::set_totp_pending(&mut tx, &user_id, Some(&self.keys.seal("totp", secret.as_bytes()))).await?;
        tx.commit().await?;
        Ok(TotpSetup { otpauth_uri: totp::otpauth_uri("Frontdesk", &user.email, &secret), secret })
    }

    /// Confirms set-up with a current code; returns the recovery codes (shown once).
    pub async fn totp_confirm(&self, principal: &Principal, code: &str, actor: &Actor) -> Result<RecoveryCodes> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let mut tx = self.db.system().await?;
        let user = store::user(&mut tx, &user_id).await?;
        let Some(pending) = user.totp_pending.as_deref() else {
            return Err(Error::conflict("no_pending_setup", "Start the set-up first."));
        };
        let secret = self.open_totp(pending)?;
        let step = totp::verify(&secret, code, now_ms() / 1000, None).ok_or_else(|| {
            Error::field("code", "invalid_code", "The code does not match; check the time on your phone.")
        })?;
        store::set_totp(&mut tx, &user_id, Some(pending), Some(step)).await?;
        let codes: Vec<String> = (0..10).map(|_| new_recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
        store::replace_recovery_codes(&mut tx, &user_id, &hashes).await?;
        if let Some(t) = &principal.tenant_id {
            audit::record_system(
                &mut tx,
                t.as_str(),
                actor,
                Change::new("user.two_factor_enabled", "user", Some(user_id.as_str())),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    pub async fn totp_disable(&self, principal: &Principal, req: DisableTotpRequest, actor: &Actor) -> Result<()> {
        let user_id = UserId::from_db(principal.user_id()?.to_owned());
        let user = {
            let mut tx = self.db.system_read().await?;
            store::user(&mut tx, &user_id).await?
        };
        if !password::verify(req.password, Some(user.password_hash.clone())).await? {
            return Err(Error::field("password", "wrong_password", "The password is wrong."));
        }
        self.verify_second_factor(&user, Some(&req.code), Some(&req.code))
            .await
            .map_err(|_| Error::field("code", "invalid_code", "The code is wrong."))?;
        let mut tx = self.db.system().await?;
        store::set_totp(&mut tx, &user_id, None, None).await?;
        store::replace_recovery_codes(&mut tx, &user_id, &[]).await?;
        if let Some(t) = &principal.tenant_id {
            audit::record_system(
                &mut tx,
                t.as_str(),
                actor,
                Change::new("user.two_factor_disabled", "user", Some(user_id.as_str())),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---------------- the tenant ----------------

    async fn tx(&self, principal: &Principal) -> Result<TenantTx> {
        Ok(self.db.tenant(principal.tenant()?).await?)
    }

    async fn read_tx(&self, principal: &Principal) -> Result<TenantTx> {
        Ok(self.db.tenant_read(principal.tenant()?).await?)
    }

    pub async fn tenant(&self, principal: &Principal) -> Result<Tenant> {
        let mut tx = self.read_tx(principal).await?;
        let id = tx.tenant().clone();
        Ok(store::tenant(&mut tx, &id).await?)
    }

    pub async fn update_tenant(
        &self,
        principal: &Principal,
        req: UpdateTenantRequest,
        actor: &Actor,
    ) -> Result<Tenant> {
        let mut tx = self.tx(principal).await?;
        let id = tx.tenant().clone();
        let mut t = store::tenant(&mut tx, &id).await?;
        let mut v = Validator::new();
        if let Some(n) = &req.name {
            if let Some(n) = v.check("name", DisplayName::parse(n)) {
                t.name = n.into_inner();
            }
        }
        if let Some(z) = &req.time_zone {
            if let Some(z) = v.check("time_zone", TimeZoneName::parse(z)) {
                t.time_zone = z.into_inner();
            }
        }
        if let Some(l) = &req.locale {
            if let Some(l) = v.check("locale", Locale::parse(l)) {
                t.locale = l.as_str().into();
            }
        }
        if let Some(i) = &req.industry {
            if INDUSTRIES.contains(&i.as_str()) {
                t.industry = i.clone();
            } else {
                v.push("industry", "invalid", format!("Choose one of {}.", INDUSTRIES.join(", ")));
            }
        }
        v.finish()?;
        store::update_tenant(&mut tx, &t).await?;
        audit::record(&mut tx, actor, Change::new("tenant.updated", "tenant", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn workspaces(&self, principal: &Principal) -> Result<Vec<Workspace>> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::list_workspaces(&mut tx).await?)
    }

    pub async fn workspace(&self, principal: &Principal, id: &WorkspaceId) -> Result<Workspace> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::workspace(&mut tx, id).await?)
    }

    pub async fn create_workspace(
        &self,
        principal: &Principal,
        req: WorkspaceRequest,
        actor: &Actor,
    ) -> Result<Workspace> {
        let name = DisplayName::parse(&req.name).map_err(|e| e.on("name"))?;
        let mut tx = self.tx(principal).await?;
        let w = Workspace { id: WorkspaceId::new(), name: name.into_inner(), created_at: now_ms() };
        let tenant = tx.tenant().clone();
        store::insert_workspace(&mut tx, &tenant, &w).await?;
        audit::record(&mut tx, actor, Change::new("workspace.created", "workspace", Some(w.id.as_str()))).await?;
        tx.commit().await?;
        Ok(w)
    }

    pub async fn rename_workspace(
        &self,
        principal: &Principal,
        id: &WorkspaceId,
        req: WorkspaceRequest,
        actor: &Actor,
    ) -> Result<Workspace> {
        let name = DisplayName::parse(&req.name).map_err(|e| e.on("name"))?;
        let mut tx = self.tx(principal).await?;
        store::rename_workspace(&mut tx, id, name.as_str()).await?;
        audit::record(&mut tx, actor, Change::new("workspace.renamed", "workspace", Some(id.as_str()))).await?;
        let w = store::workspace(&mut tx, id).await?;
        tx.commit().await?;
        Ok(w)
    }

    pub async fn delete_workspace(&self, principal: &Principal, id: &WorkspaceId, actor: &Actor) -> Result<()> {
        let mut tx = self.tx(principal).await?;
        store::workspace(&mut tx, id).await?;
        if store::list_workspaces(&mut tx).await?.len() <= 1 {
            return Err(Error::conflict("last_workspace", "A tenant keeps at least one workspace."));
        }
        store::delete_workspace(&mut tx, id).await?;
        audit::record(&mut tx, actor, Change::new("workspace.deleted", "workspace", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- members ----------------

    pub async fn members(&self, principal: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<Member>> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::list_members(&mut tx, after, limit).await?)
    }

    pub async fn member(&self, principal: &Principal, id: &MemberId) -> Result<Member> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::member(&mut tx, id).await?)
    }

    /// Changes a member's role. Only an OWNER may make or unmake an OWNER, and the last OWNER
    /// stays an OWNER.
    pub async fn change_role(&self, principal: &Principal, id: &MemberId, role: Role, actor: &Actor) -> Result<Member> {
        let mut tx = self.tx(principal).await?;
        let member = store::member(&mut tx, id).await?;
        if (member.role == Role::Owner || role == Role::Owner) && !principal.can(Permission::TenantOwn) {
            return Err(Error::forbidden("Only an owner can change who owns the tenant."));
        }
        if member.role == Role::Owner && role != Role::Owner && store::count_owners(&mut tx).await? <= 1 {
            return Err(Error::conflict(
                "last_owner",
                "The tenant needs at least one owner; make someone else owner first.",
            ));
        }
        store::set_member_role(&mut tx, id, role).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("member.role_changed", "member", Some(id.as_str()))
                .details(json!({"from": member.role, "to": role})),
        )
        .await?;
        tx.commit().await?;
        Ok(Member { role, ..member })
    }

    /// Removes a member. The same owner rules as [`Identity::change_role`].
    pub async fn remove_member(&self, principal: &Principal, id: &MemberId, actor: &Actor) -> Result<()> {
        let mut tx = self.tx(principal).await?;
        let member = store::member(&mut tx, id).await?;
        if member.role == Role::Owner {
            if !principal.can(Permission::TenantOwn) {
                return Err(Error::forbidden("Only an owner can remove an owner."));
            }
            if store::count_owners(&mut tx).await? <= 1 {
                return Err(Error::conflict(
                    "last_owner",
                    "The tenant needs at least one owner; it cannot lose its last one.",
                ));
            }
        }
        store::delete_member(&mut tx, id).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("member.removed", "member", Some(id.as_str()))
                .details(json!({"user_id": member.user_id, "role": member.role})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- invitations ----------------

    pub async fn invitations(&self, principal: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<Invitation>> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::list_invitations(&mut tx, after, limit).await?)
    }

    pub async fn invitation(&self, principal: &Principal, id: &InvitationId) -> Result<Invitation> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::invitation(&mut tx, id).await?)
    }

    /// Invites by e-mail: the link goes out through the outbox in the same transaction.
    pub async fn invite(&self, principal: &Principal, req: InviteRequest, actor: &Actor) -> Result<Invitation> {
        let email = EmailAddr::parse(&req.email).map_err(|e| e.on("email"))?;
        if req.role == Role::Owner && !principal.can(Permission::TenantOwn) {
            return Err(Error::forbidden("Only an owner can invite another owner."));
        }
        let mut tx = self.tx(principal).await?;
        let tenant_id = tx.tenant().clone();
        let tenant = store::tenant(&mut tx, &tenant_id).await?;
        if store::list_members(&mut tx, None, 10_000).await?.iter().any(|m| m.email == email.as_str()) {
            return Err(Error::field("email", "already_member", "This person is already a member."));
        }
        if store::pending_invitation_for(&mut tx, email.as_str()).await? {
            return Err(Error::field("email", "already_invited", "This person has a pending invitation."));
        }
        let token = format!("inv_{}", random_token(32));
        let now = now_ms();
        let inv = Invitation {
            id: InvitationId::new(),
            email: email.as_str().to_owned(),
            role: req.role,
            status: "pending".into(),
            created_at: now,
            expires_at: now + self.config.invitation_ttl.as_millis() as i64,
        };
        store::insert_invitation(
            &mut tx,
            &inv,
            &sha256_hex(token.as_bytes()),
            principal.user_id.as_deref().unwrap_or("api_key"),
        )
        .await?;
        let link = format!("{}/invite/{token}", self.config.public_url.trim_end_matches('/'));
        let (subject, body) = invitation_email(&tenant, &principal.label, req.role, &link);
        self.queue_email(&mut tx, inv.email.clone(), subject, body).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("invitation.created", "invitation", Some(inv.id.as_str()))
                .details(json!({"email": inv.email, "role": inv.role})),
        )
        .await?;
        tx.commit().await?;
        Ok(inv)
    }

    pub async fn revoke_invitation(&self, principal: &Principal, id: &InvitationId, actor: &Actor) -> Result<()> {
        let mut tx = self.tx(principal).await?;
        store::invitation(&mut tx, id).await?;
        store::revoke_invitation(&mut tx, id).await?;
        audit::record(&mut tx, actor, Change::new("invitation.revoked", "invitation", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What an invitation link offers (public): tenant name, e-mail, role, whether an account exists.
    pub async fn lookup_invitation(&self, token: &str) -> Result<(Tenant, Invitation, bool)> {
        let mut tx = self.db.system_read().await?;
        let (tenant_id, inv) =
            store::invitation_by_token(&mut tx, &sha256_hex(token.trim().as_bytes())).await?.ok_or(Error::NotFound)?;
        if inv.status != "pending" {
            return Err(Error::NotFound);
        }
        let tenant = store::tenant(&mut tx, &tenant_id).await?;
        let exists = store::user_by_email(&mut tx, &inv.email).await?.is_some();
        Ok((tenant, inv, exists))
    }

    /// Accepts an invitation: joins an existing account (its password proves it) or creates one.
    pub async fn accept_invitation(
        &self,
        req: AcceptInvitationRequest,
        ip: &str,
    ) -> Result<(Tenant, store::UserRecord)> {
        self.throttle_ip("invite", ip).await?;
        let (tenant, inv, exists) = self.lookup_invitation(&req.token).await?;
        let user = if exists {
            // Joining with an existing account proves it like a log-in does, second factor included.
            match self.login_password(&inv.email, &req.password, ip).await? {
                LoginStep::Done(u) => u,
                LoginStep::NeedsSecondFactor(u) => {
                    self.verify_second_factor(&u, req.code.as_deref(), None).await?;
                    u
                }
            }
        } else {
            let name = req.name.clone().unwrap_or_default();
            self.create_user(&inv.email, &name, &req.password, false).await?
        };
        let mut tx = self.db.system().await?;
        if !store::mark_invitation_accepted(&mut tx, &tenant.id, &inv.id).await? {
            return Err(Error::NotFound);
        }
        let member = store::insert_membership(&mut tx, &tenant.id, &user.id, inv.role).await.map_err(|e| match e {
            frontdesk_store::StoreError::Conflict(_) => {
                Error::conflict("already_member", "You are already a member of this tenant.")
            }
            other => other.into(),
        })?;
        let actor = Actor {
            kind: "user",
            id: Some(user.id.to_string()),
            label: user.email.clone(),
            via: "api",
            ip: Some(ip.into()),
            request_id: None,
        };
        audit::record_system(
            &mut tx,
            tenant.id.as_str(),
            &actor,
            Change::new("member.added", "member", Some(member.as_str()))
                .details(json!({"role": inv.role, "invitation_id": inv.id})),
        )
        .await?;
        tx.commit().await?;
        Ok((tenant, user))
    }

    // ---------------- API keys ----------------

    pub async fn api_keys(&self, principal: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<ApiKey>> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::list_api_keys(&mut tx, after, limit).await?)
    }

    pub async fn api_key(&self, principal: &Principal, id: &ApiKeyId) -> Result<ApiKey> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::api_key(&mut tx, id).await?)
    }

    /// Creates a key with at most the creator's permissions. The secret is returned once.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        req: CreateApiKeyRequest,
        actor: &Actor,
    ) -> Result<ApiKeyCreated> {
        let tenant = principal.tenant()?.clone();
        self.create_api_key_for(&tenant, principal.permissions, principal.user_id.as_deref(), req, actor).await
    }

    /// Creates a key for a tenant (the CLI passes every permission).
    pub async fn create_api_key_for(
        &self,
        tenant: &TenantId,
        allowed: PermissionSet,
        created_by: Option<&str>,
        req: CreateApiKeyRequest,
        actor: &Actor,
    ) -> Result<ApiKeyCreated> {
        let mut v = Validator::new();
        let name = v.check("name", DisplayName::parse(&req.name));
        let permissions = match &req.permissions {
            None => allowed,
            Some(list) => {
                let mut set = PermissionSet::default();
                for (i, p) in list.iter().enumerate() {
                    match Permission::parse(p) {
                        Some(p) if allowed.contains(p) => set.insert(p),
                        Some(_) => {
                            v.push(&format!("permissions[{i}]"), "not_allowed", format!("You cannot grant {p}."))
                        }
                        None => v.push(&format!("permissions[{i}]"), "unknown", format!("{p} is not a permission.")),
                    }
                }
                set
            }
        };
        if permissions == PermissionSet::default() {
            v.push("permissions", "empty", "A key needs at least one permission.");
        }
        if let Some(days) = req.expires_in_days {
            if !(1..=3650).contains(&days) {
                v.push("expires_in_days", "out_of_range", "Between 1 and 3650 days.");
            }
        }
        v.finish()?;
        let name = name.ok_or_else(|| Error::internal("validated name missing"))?;
        let id = ApiKeyId::new();
        let secret_part = random_token(32);
        // fdk_<tenant body><key body>_<secret>: the tenant and key are found without a scan.
        let secret = format!("fdk_{}{}_{}", &tenant.as_str()[4..], &id.as_str()[4..], secret_part);
        let now = now_ms();
        let key = ApiKey {
            id,
            name: name.into_inner(),
            prefix: secret.chars().take(12).collect(),
            permissions: permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            created_at: now,
            last_used_at: None,
            expires_at: req.expires_in_days.map(|d| now + d as i64 * 86_400_000),
            revoked_at: None,
        };
        let mut tx = self.db.tenant(tenant).await?;
        store::insert_api_key(&mut tx, &key, &sha256_hex(secret_part.as_bytes()), created_by).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("api_key.created", "api_key", Some(key.id.as_str()))
                .details(json!({"name": key.name, "permissions": key.permissions})),
        )
        .await?;
        tx.commit().await?;
        Ok(ApiKeyCreated { key, secret })
    }

    pub async fn revoke_api_key(&self, principal: &Principal, id: &ApiKeyId, actor: &Actor) -> Result<()> {
        let mut tx = self.tx(principal).await?;
        store::api_key(&mut tx, id).await?;
        store::revoke_api_key(&mut tx, id).await?;
        audit::record(&mut tx, actor, Change::new("api_key.revoked", "api_key", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- outbox ----------------

    /// Puts an e-mail in the outbox and queues its delivery, inside the caller's transaction.
    pub async fn queue_email(&self, tx: &mut TenantTx, to: String, subject: String, body: String) -> Result<EmailId> {
        let email = Email { id: EmailId::new(), to, subject, body, status: "queued".into(), created_at: now_ms() };
        let tenant = tx.tenant().clone();
        store::insert_email(tx, &tenant, &email).await?;
        jobs::enqueue(tx, NewJob::new(EMAIL_JOB, &json!({"email_id": email.id}))?.max_attempts(8)).await?;
        Ok(email.id)
    }

    pub async fn emails(&self, principal: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<Email>> {
        let mut tx = self.read_tx(principal).await?;
        Ok(store::list_emails(&mut tx, after, limit).await?)
    }

    // ---------------- platform ----------------

    pub async fn platform_tenants(&self, after: Option<&str>, limit: u32) -> Result<Vec<TenantSummary>> {
        let mut tx = self.db.system_read().await?;
        Ok(store::list_tenants(&mut tx, after, limit).await?)
    }

    pub async fn set_tenant_status(&self, tenant: &TenantId, status: TenantStatus, actor: &Actor) -> Result<Tenant> {
        let mut tx = self.db.system().await?;
        store::set_tenant_status(&mut tx, tenant, status).await?;
        let action = match status {
            TenantStatus::Suspended => "tenant.suspended",
            TenantStatus::Active => "tenant.reactivated",
        };
        audit::record_system(&mut tx, tenant.as_str(), actor, Change::new(action, "tenant", Some(tenant.as_str())))
            .await?;
        let t = store::tenant(&mut tx, tenant).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        let mut tx = self.db.system_read().await?;
        Ok(store::tenant_by_slug(&mut tx, slug).await?)
    }
}

fn validate_tenant(req: &NewTenantRequest) -> Result<()> {
    let mut v = Validator::new();
    v.check("tenant_name", DisplayName::parse(&req.tenant_name));
    let slug = req.slug.clone().unwrap_or_else(|| Slug::suggest(&req.tenant_name));
    v.check("slug", Slug::parse(&slug));
    v.check("time_zone", TimeZoneName::parse(req.time_zone.as_deref().unwrap_or("Europe/Berlin")));
    v.check("locale", Locale::parse(req.locale.as_deref().unwrap_or("en")));
    if let Some(i) = &req.industry {
        if !INDUSTRIES.contains(&i.as_str()) {
            v.push("industry", "invalid", format!("Choose one of {}.", INDUSTRIES.join(", ")));
        }
    }
    v.finish()
}

fn bad_credentials() -> Error {
    Error::unauthenticated("invalid_credentials", "The e-mail or password is wrong.")
}

/// `xxxx-xxxx-xxxx` from an alphabet without look-alike characters.
fn new_recovery_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..3)
        .map(|_| (0..4).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn recovery_hash(code: &str) -> String {
    sha256_hex(code.trim().to_lowercase().replace(' ', "").as_bytes())
}

fn invitation_email(tenant: &Tenant, inviter: &str, role: Role, link: &str) -> (String, String) {
    if tenant.locale == "de" {
        (
            format!("Einladung zu {} auf Frontdesk", tenant.name),
            format!(
                "Hallo,\n\n{inviter} lädt Sie ein, {} auf Frontdesk als {role} beizutreten.\n\nEinladung annehmen: {link}\n\nDer Link ist 7 Tage gültig.\n",
                tenant.name
            ),
        )
    } else {
        (
            format!("You're invited to {} on Frontdesk", tenant.name),
            format!(
                "Hello,\n\n{inviter} invites you to join {} on Frontdesk as {role}.\n\nAccept the invitation: {link}\n\nThe link is valid for 7 days.\n",
                tenant.name
            ),
        )
    }
}
