//! The e-mail outbox and the platform operator's tenant controls.

use super::*;

impl Identity {
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

    /// A tenant by id, for capabilities that serve it publicly (the web chat); `None` if unknown.
    pub async fn tenant_by_id(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let mut tx = self.db.system_read().await?;
        match store::tenant(&mut tx, id).await {
            Ok(t) => Ok(Some(t)),
            Err(frontdesk_store::StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
