//! API keys.

use super::*;

impl Identity {
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
}
