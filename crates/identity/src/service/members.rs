//! Members, their roles, and invitations.

use super::*;

impl Identity {
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
        let actor = Actor::user(user.id.as_str(), &user.email, ip);
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
}

pub(crate) fn invitation_email(tenant: &Tenant, inviter: &str, role: Role, link: &str) -> (String, String) {
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
