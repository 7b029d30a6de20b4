//! The tenant's settings and workspaces.

use super::*;

impl Identity {
    pub(crate) async fn tx(&self, principal: &Principal) -> Result<TenantTx> {
        Ok(self.db.tenant(principal.tenant()?).await?)
    }

    pub(crate) async fn read_tx(&self, principal: &Principal) -> Result<TenantTx> {
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
}
