//! The signed-in user's own account: profile, password, two-factor authentication.

use super::*;

impl Identity {
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

    pub(crate) fn open_totp(&self, sealed: &str) -> Result<String> {
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
}

/// `xxxx-xxxx-xxxx` from an alphabet without look-alike characters.
pub(crate) fn new_recovery_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..3)
        .map(|_| (0..4).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

pub(crate) fn recovery_hash(code: &str) -> String {
    sha256_hex(code.trim().to_lowercase().replace(' ', "").as_bytes())
}
