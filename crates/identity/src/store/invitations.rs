//! Invitations to join a tenant.

use super::*;

pub(crate) const INVITATION_COLS: &str = "id, email, role, created_at, expires_at, accepted_at, revoked_at";

pub(crate) fn invitation_from(r: &AnyRow) -> StoreResult<Invitation> {
    let expires_at: i64 = r.try_get("expires_at")?;
    let status = if r.try_get::<Option<i64>, _>("accepted_at")?.is_some() {
        "accepted"
    } else if r.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        "revoked"
    } else if expires_at <= now_ms() {
        "expired"
    } else {
        "pending"
    };
    Ok(Invitation {
        id: InvitationId::from_db(r.try_get("id")?),
        email: r.try_get("email")?,
        role: role_of(r, "role")?,
        status: status.into(),
        created_at: r.try_get("created_at")?,
        expires_at,
    })
}

pub async fn insert_invitation(
    tx: &mut TenantTx,
    inv: &Invitation,
    token_hash: &str,
    invited_by: &str,
) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tid)
    .bind(inv.id.as_str())
    .bind(&inv.email)
    .bind(inv.role.as_str())
    .bind(token_hash)
    .bind(invited_by)
    .bind(inv.created_at)
    .bind(inv.expires_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn list_invitations(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<Invitation>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {INVITATION_COLS} FROM invitations WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(invitation_from).collect()
}

pub async fn invitation(tx: &mut TenantTx, id: &InvitationId) -> StoreResult<Invitation> {
    let tid = tx.tid().to_owned();
    let row =
        frontdesk_store::query(&format!("SELECT {INVITATION_COLS} FROM invitations WHERE tenant_id = $1 AND id = $2"))
            .bind(tid)
            .bind(id.as_str())
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
    invitation_from(&row)
}

pub async fn pending_invitation_for(tx: &mut TenantTx, email: &str) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    Ok(frontdesk_store::query(
        "SELECT 1 FROM invitations WHERE tenant_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(tid)
    .bind(email)
    .bind(now_ms())
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}

pub async fn revoke_invitation(tx: &mut TenantTx, id: &InvitationId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE invitations SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Finds a pending invitation by its token hash, in any tenant.
pub async fn invitation_by_token(tx: &mut SystemTx, token_hash: &str) -> StoreResult<Option<(TenantId, Invitation)>> {
    let row =
        frontdesk_store::query(&format!("SELECT tenant_id, {INVITATION_COLS} FROM invitations WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(tx.conn())
            .await?;
    row.map(|r| Ok((TenantId::from_db(r.try_get("tenant_id")?), invitation_from(&r)?))).transpose()
}

pub async fn mark_invitation_accepted(tx: &mut SystemTx, tenant: &TenantId, id: &InvitationId) -> StoreResult<bool> {
    let n = frontdesk_store::query(
        "UPDATE invitations SET accepted_at = $1 WHERE tenant_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(tenant.as_str())
    .bind(id.as_str())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}
