//! API keys (secrets stored as SHA-256).

use super::*;

pub(crate) const KEY_COLS: &str = "id, name, prefix, permissions, created_at, last_used_at, expires_at, revoked_at";

pub(crate) fn key_from(r: &AnyRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_db(r.try_get("id")?),
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        permissions: r
            .try_get::<String, _>("permissions")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub async fn insert_api_key(
    tx: &mut TenantTx,
    key: &ApiKey,
    secret_hash: &str,
    created_by: Option<&str>,
) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, permissions, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tid)
    .bind(key.id.as_str())
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(secret_hash)
    .bind(key.permissions.join(","))
    .bind(created_by)
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn list_api_keys(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<ApiKey>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(key_from).collect()
}

pub async fn api_key(tx: &mut TenantTx, id: &ApiKeyId) -> StoreResult<ApiKey> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    key_from(&row)
}

/// The key with its secret hash and the tenant's status, for authentication.
pub async fn api_key_for_auth(
    tx: &mut TenantTx,
    id: &ApiKeyId,
) -> StoreResult<Option<(ApiKey, String, TenantStatus, String)>> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!(
        "SELECT k.{}, k.secret_hash, t.status, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
         WHERE k.tenant_id = $1 AND k.id = $2",
        KEY_COLS.replace(", ", ", k.")
    ))
    .bind(tid)
    .bind(id.as_str())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| {
        Ok((
            key_from(&r)?,
            r.try_get("secret_hash")?,
            TenantStatus::parse(&r.try_get::<String, _>("status")?),
            r.try_get("tenant_name")?,
        ))
    })
    .transpose()
}

pub async fn touch_api_key(tx: &mut TenantTx, id: &ApiKeyId, at: i64) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query("UPDATE api_keys SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(at)
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn revoke_api_key(tx: &mut TenantTx, id: &ApiKeyId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}
