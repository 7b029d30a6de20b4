//! Tenants and their workspaces.

use super::*;

pub(crate) const TENANT_COLS: &str = "id, slug, name, status, time_zone, locale, industry, created_at";

pub(crate) fn tenant_from(r: &AnyRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: TenantId::from_db(r.try_get("id")?),
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        status: TenantStatus::parse(&r.try_get::<String, _>("status")?),
        time_zone: r.try_get("time_zone")?,
        locale: r.try_get("locale")?,
        industry: r.try_get("industry")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_tenant(tx: &mut impl Tx, t: &Tenant) -> StoreResult<()> {
    frontdesk_store::query(
        "INSERT INTO tenants (id, slug, name, status, time_zone, locale, industry, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(t.id.as_str())
    .bind(&t.slug)
    .bind(&t.name)
    .bind(t.status.as_str())
    .bind(&t.time_zone)
    .bind(&t.locale)
    .bind(&t.industry)
    .bind(t.created_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn tenant(tx: &mut impl Tx, id: &TenantId) -> StoreResult<Tenant> {
    let row = frontdesk_store::query(&format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    tenant_from(&row)
}

pub async fn tenant_by_slug(tx: &mut impl Tx, slug: &str) -> StoreResult<Option<Tenant>> {
    let row = frontdesk_store::query(&format!("SELECT {TENANT_COLS} FROM tenants WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(tenant_from).transpose()
}

pub async fn update_tenant(tx: &mut TenantTx, t: &Tenant) -> StoreResult<()> {
    let id = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE tenants SET name = $1, time_zone = $2, locale = $3, industry = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(&t.name)
    .bind(&t.time_zone)
    .bind(&t.locale)
    .bind(&t.industry)
    .bind(now_ms())
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_tenant_status(tx: &mut SystemTx, id: &TenantId, status: TenantStatus) -> StoreResult<()> {
    let n = frontdesk_store::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(now_ms())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn list_tenants(tx: &mut SystemTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<TenantSummary>> {
    let rows = frontdesk_store::query(&format!(
        "SELECT {TENANT_COLS}, (SELECT COUNT(*) FROM memberships m WHERE m.tenant_id = tenants.id) AS members
         FROM tenants WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
    ))
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok(TenantSummary { tenant: tenant_from(r)?, members: r.try_get("members")? })).collect()
}

// ---------- workspaces ----------

pub(crate) fn workspace_from(r: &AnyRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: WorkspaceId::from_db(r.try_get("id")?),
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_workspace(tx: &mut impl Tx, tenant: &TenantId, w: &Workspace) -> StoreResult<()> {
    frontdesk_store::query(
        "INSERT INTO workspaces (tenant_id, id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(tenant.as_str())
    .bind(w.id.as_str())
    .bind(&w.name)
    .bind(w.created_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn list_workspaces(tx: &mut TenantTx) -> StoreResult<Vec<Workspace>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query("SELECT id, name, created_at FROM workspaces WHERE tenant_id = $1 ORDER BY id")
        .bind(tid)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(workspace_from).collect()
}

pub async fn workspace(tx: &mut TenantTx, id: &WorkspaceId) -> StoreResult<Workspace> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query("SELECT id, name, created_at FROM workspaces WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    workspace_from(&row)
}

pub async fn rename_workspace(tx: &mut TenantTx, id: &WorkspaceId, name: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query("UPDATE workspaces SET name = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(name)
        .bind(now_ms())
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn delete_workspace(tx: &mut TenantTx, id: &WorkspaceId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query("DELETE FROM workspaces WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
