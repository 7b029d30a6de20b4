//! Memberships: who belongs to which tenant, with which role.

use super::*;

/// The user's memberships in every tenant (system look-up for log-in and the switcher).
pub async fn memberships_of(tx: &mut impl Tx, user: &UserId) -> StoreResult<Vec<MyMembership>> {
    let rows = frontdesk_store::query(
        "SELECT m.tenant_id, m.role, t.name, t.slug FROM memberships m JOIN tenants t ON t.id = m.tenant_id
         WHERE m.user_id = $1 AND t.status = 'active' ORDER BY m.created_at, m.tenant_id",
    )
    .bind(user.as_str())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MyMembership {
                tenant_id: TenantId::from_db(r.try_get("tenant_id")?),
                tenant_name: r.try_get("name")?,
                slug: r.try_get("slug")?,
                role: role_of(r, "role")?,
            })
        })
        .collect()
}

pub async fn insert_membership(
    tx: &mut impl Tx,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
) -> StoreResult<MemberId> {
    let id = MemberId::new();
    let now = now_ms();
    frontdesk_store::query(
        "INSERT INTO memberships (tenant_id, id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(user.as_str())
    .bind(role.as_str())
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(id)
}

pub(crate) const MEMBER_SQL: &str = "SELECT m.id, m.user_id, m.role, m.created_at, u.email, u.name, u.totp_enabled_at
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1";

pub(crate) fn member_from(r: &AnyRow) -> StoreResult<Member> {
    Ok(Member {
        id: MemberId::from_db(r.try_get("id")?),
        user_id: UserId::from_db(r.try_get("user_id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: role_of(r, "role")?,
        two_factor: r.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some(),
        joined_at: r.try_get("created_at")?,
    })
}

pub async fn list_members(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<Member>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!("{MEMBER_SQL} AND ($2 IS NULL OR m.id > $2) ORDER BY m.id LIMIT $3"))
        .bind(tid)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(member_from).collect()
}

pub async fn member(tx: &mut TenantTx, id: &MemberId) -> StoreResult<Member> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("{MEMBER_SQL} AND m.id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    member_from(&row)
}

pub async fn member_by_user(tx: &mut TenantTx, user: &UserId) -> StoreResult<Option<Member>> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("{MEMBER_SQL} AND m.user_id = $2"))
        .bind(tid)
        .bind(user.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(member_from).transpose()
}

pub async fn count_owners(tx: &mut TenantTx) -> StoreResult<i64> {
    let tid = tx.tid().to_owned();
    Ok(frontdesk_store::query_scalar("SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'OWNER'")
        .bind(tid)
        .fetch_one(tx.conn())
        .await?)
}

pub async fn set_member_role(tx: &mut TenantTx, id: &MemberId, role: Role) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query("UPDATE memberships SET role = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(role.as_str())
        .bind(now_ms())
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn delete_member(tx: &mut TenantTx, id: &MemberId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query("DELETE FROM memberships WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The role of `user` in `tenant`, with the tenant's status and name. Authentication runs it
/// in the system transaction that also checked the credential, before any tenant is trusted.
pub async fn role_in(
    tx: &mut impl Tx,
    tenant: &TenantId,
    user: &UserId,
) -> StoreResult<Option<(Role, TenantStatus, String)>> {
    let tid = tenant.as_str().to_owned();
    let row = frontdesk_store::query(
        "SELECT m.role, t.status, t.name FROM memberships m JOIN tenants t ON t.id = m.tenant_id
         WHERE m.tenant_id = $1 AND m.user_id = $2",
    )
    .bind(tid)
    .bind(user.as_str())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| Ok((role_of(&r, "role")?, TenantStatus::parse(&r.try_get::<String, _>("status")?), r.try_get("name")?)))
        .transpose()
}
