//! Dashboard sessions, API token families and refresh tokens (all user-level).

use super::*;

pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    pub csrf_token: String,
    pub last_seen_at: i64,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_session(
    tx: &mut SystemTx,
    id: &SessionId,
    token_hash: &str,
    user: &UserId,
    tenant: Option<&TenantId>,
    csrf: &str,
    ip: &str,
    expires_at: i64,
) -> StoreResult<()> {
    let now = now_ms();
    frontdesk_store::query(
        "INSERT INTO sessions (id, token_hash, user_id, tenant_id, csrf_token, ip, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(id.as_str())
    .bind(token_hash)
    .bind(user.as_str())
    .bind(tenant.map(|t| t.as_str()))
    .bind(csrf)
    .bind(ip)
    .bind(now)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A live session by its token hash (not revoked, not expired, issued after revoke-all).
pub async fn live_session(tx: &mut SystemTx, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
    let row = frontdesk_store::query(
        "SELECT s.id, s.user_id, s.tenant_id, s.csrf_token, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.created_at >= u.tokens_valid_after",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| {
        Ok(SessionRecord {
            id: SessionId::from_db(r.try_get("id")?),
            user_id: UserId::from_db(r.try_get("user_id")?),
            tenant_id: r.try_get::<Option<String>, _>("tenant_id")?.map(TenantId::from_db),
            csrf_token: r.try_get("csrf_token")?,
            last_seen_at: r.try_get("last_seen_at")?,
        })
    })
    .transpose()
}

pub async fn touch_session(tx: &mut SystemTx, id: &SessionId, expires_at: i64) -> StoreResult<()> {
    frontdesk_store::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3")
        .bind(now_ms())
        .bind(expires_at)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_session_tenant(tx: &mut SystemTx, id: &SessionId, tenant: &TenantId) -> StoreResult<()> {
    frontdesk_store::query("UPDATE sessions SET tenant_id = $1 WHERE id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn revoke_session(tx: &mut SystemTx, id: &SessionId) -> StoreResult<()> {
    frontdesk_store::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn insert_family(
    tx: &mut SystemTx,
    id: &FamilyId,
    user: &UserId,
    tenant: Option<&TenantId>,
) -> StoreResult<()> {
    frontdesk_store::query("INSERT INTO token_families (id, user_id, tenant_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(tenant.map(|t| t.as_str()))
        .bind(now_ms())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// True when the family exists, is not revoked and was issued after the user's revoke-all.
pub async fn family_is_live(tx: &mut impl Tx, id: &str, user: &UserId) -> StoreResult<bool> {
    Ok(frontdesk_store::query(
        "SELECT 1 FROM token_families f JOIN users u ON u.id = f.user_id
         WHERE f.id = $1 AND f.user_id = $2 AND f.revoked_at IS NULL AND f.created_at >= u.tokens_valid_after",
    )
    .bind(id)
    .bind(user.as_str())
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}

pub async fn revoke_family(tx: &mut SystemTx, id: &str, reason: &str) -> StoreResult<()> {
    frontdesk_store::query(
        "UPDATE token_families SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(reason)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    tx: &mut SystemTx,
    family: &FamilyId,
    token_hash: &str,
    expires_at: i64,
) -> StoreResult<()> {
    frontdesk_store::query(
        "INSERT INTO refresh_tokens (id, family_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(format!("rtk_{}", frontdesk_kernel::id::new_body()))
    .bind(family.as_str())
    .bind(token_hash)
    .bind(now_ms())
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub struct RefreshRecord {
    pub family_id: FamilyId,
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    pub used: bool,
    pub expired: bool,
    pub family_live: bool,
}

pub async fn refresh_token(tx: &mut SystemTx, token_hash: &str) -> StoreResult<Option<RefreshRecord>> {
    let row = frontdesk_store::query(
        "SELECT r.family_id, r.used_at, r.expires_at, f.user_id, f.tenant_id, f.revoked_at, f.created_at, u.tokens_valid_after
         FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id JOIN users u ON u.id = f.user_id
         WHERE r.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| {
        let created: i64 = r.try_get("created_at")?;
        let valid_after: i64 = r.try_get("tokens_valid_after")?;
        Ok(RefreshRecord {
            family_id: FamilyId::from_db(r.try_get("family_id")?),
            user_id: UserId::from_db(r.try_get("user_id")?),
            tenant_id: r.try_get::<Option<String>, _>("tenant_id")?.map(TenantId::from_db),
            used: r.try_get::<Option<i64>, _>("used_at")?.is_some(),
            expired: r.try_get::<i64, _>("expires_at")? <= now_ms(),
            family_live: r.try_get::<Option<i64>, _>("revoked_at")?.is_none() && created >= valid_after,
        })
    })
    .transpose()
}

/// Marks a refresh token used; false if a concurrent refresh used it first.
pub async fn use_refresh_token(tx: &mut SystemTx, token_hash: &str) -> StoreResult<bool> {
    let n = frontdesk_store::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
        .bind(now_ms())
        .bind(token_hash)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Deletes sessions and refresh tokens that can no longer be used (a day after they ended).
pub async fn purge_expired(tx: &mut SystemTx) -> StoreResult<u64> {
    let cutoff = now_ms() - 24 * 3600 * 1000;
    let sessions = frontdesk_store::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
        .bind(cutoff)
        .execute(tx.conn())
        .await?
        .rows_affected();
    let tokens = frontdesk_store::query(
        "DELETE FROM refresh_tokens WHERE expires_at < $1
            OR family_id IN (SELECT id FROM token_families WHERE revoked_at < $1)",
    )
    .bind(cutoff)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(sessions + tokens)
}
