//! Log-in with throttling and a second factor; API tokens; dashboard sessions.

use super::*;

impl Identity {
    pub(crate) async fn throttle_ip(&self, what: &str, ip: &str) -> Result<()> {
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
    pub(crate) async fn pick_tenant(&self, user: &UserId, wanted: Option<&TenantId>) -> Result<Option<TenantId>> {
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

    pub(crate) async fn issue_tokens_in(
        &self,
        tx: &mut frontdesk_store::SystemTx,
        user: &UserId,
        tenant: Option<&TenantId>,
    ) -> Result<TokenPair> {
        let family = FamilyId::new();
        store::insert_family(tx, &family, user, tenant).await?;
        self.next_tokens_in(tx, &family, user, tenant).await
    }

    pub(crate) async fn next_tokens_in(
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
}

pub(crate) fn bad_credentials() -> Error {
    Error::unauthenticated("invalid_credentials", "The e-mail or password is wrong.")
}
