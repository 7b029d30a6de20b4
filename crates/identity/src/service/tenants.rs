//! Sign-up and new tenants.

use super::*;

impl Identity {
    /// Creates a tenant with its first workspace and `owner` as OWNER, in the caller's transaction.
    pub(crate) async fn create_tenant_in(
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
        let actor = Actor::user(user.id.as_str(), &user.email, ip);
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
}

pub(crate) fn validate_tenant(req: &NewTenantRequest) -> Result<()> {
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
