//! Identity's SQL, written once for SQLite and PostgreSQL. Tenant data goes through `TenantTx`;
//! the user-level tables (users, sessions, token families) and cross-tenant look-ups through
//! `SystemTx`.

use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::TenantId;
use frontdesk_store::{AnyRow, Row, StoreError, StoreResult, SystemTx, TenantTx, Tx};
use frontdesk_web::Role;

fn role_of(r: &AnyRow, col: &str) -> StoreResult<Role> {
    let s: String = r.try_get(col)?;
    Role::parse(&s).ok_or_else(|| StoreError::Config(format!("unknown role {s} in the database")))
}

// ---------- tenants ----------

const TENANT_COLS: &str = "id, slug, name, status, time_zone, locale, industry, created_at";

fn tenant_from(r: &AnyRow) -> StoreResult<Tenant> {
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

fn workspace_from(r: &AnyRow) -> StoreResult<Workspace> {
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

// ---------- users ----------

/// A user row with the secrets the service needs.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub locale: Option<String>,
    pub platform_operator: bool,
    pub totp_secret: Option<String>,
    pub totp_pending: Option<String>,
    pub totp_last_step: Option<i64>,
    pub tokens_valid_after: i64,
}

const USER_COLS: &str = "id, email, name, password_hash, locale, platform_role, totp_secret, totp_pending, \
                         totp_enabled_at, totp_last_step, tokens_valid_after";

fn user_from(r: &AnyRow) -> StoreResult<UserRecord> {
    let enabled: Option<i64> = r.try_get("totp_enabled_at")?;
    Ok(UserRecord {
        id: UserId::from_db(r.try_get("id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        locale: r.try_get("locale")?,
        platform_operator: r.try_get::<Option<String>, _>("platform_role")?.as_deref() == Some("operator"),
        totp_secret: if enabled.is_some() { r.try_get("totp_secret")? } else { None },
        totp_pending: r.try_get("totp_pending")?,
        totp_last_step: r.try_get("totp_last_step")?,
        tokens_valid_after: r.try_get("tokens_valid_after")?,
    })
}

pub async fn insert_user(tx: &mut SystemTx, u: &UserRecord) -> StoreResult<()> {
    let now = now_ms();
    frontdesk_store::query(
        "INSERT INTO users (id, email, name, password_hash, locale, platform_role, tokens_valid_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)",
    )
    .bind(u.id.as_str())
    .bind(&u.email)
    .bind(&u.name)
    .bind(&u.password_hash)
    .bind(&u.locale)
    .bind(u.platform_operator.then_some("operator"))
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn user_by_email(tx: &mut SystemTx, email: &str) -> StoreResult<Option<UserRecord>> {
    let row = frontdesk_store::query(&format!("SELECT {USER_COLS} FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn user(tx: &mut impl Tx, id: &UserId) -> StoreResult<UserRecord> {
    let row = frontdesk_store::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    user_from(&row)
}

pub async fn update_user_profile(tx: &mut SystemTx, id: &UserId, name: &str, locale: Option<&str>) -> StoreResult<()> {
    frontdesk_store::query("UPDATE users SET name = $1, locale = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(locale)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Sets the password hash and, with `revoke_before`, invalidates every token issued earlier.
pub async fn set_password(tx: &mut SystemTx, id: &UserId, hash: &str) -> StoreResult<()> {
    frontdesk_store::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_platform_operator(tx: &mut SystemTx, id: &UserId, on: bool) -> StoreResult<()> {
    frontdesk_store::query("UPDATE users SET platform_role = $1, updated_at = $2 WHERE id = $3")
        .bind(on.then_some("operator"))
        .bind(now_ms())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_totp_pending(tx: &mut SystemTx, id: &UserId, sealed: Option<&str>) -> StoreResult<()> {
    frontdesk_store::query("UPDATE users SET totp_pending = $1, updated_at = $2 WHERE id = $3")
        .bind(sealed)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Turns two-factor on with `sealed` (or off with `None`), recording `step` as used.
pub async fn set_totp(tx: &mut SystemTx, id: &UserId, sealed: Option<&str>, step: Option<i64>) -> StoreResult<()> {
    let now = now_ms();
    frontdesk_store::query(
        "UPDATE users SET totp_secret = $1, totp_pending = NULL, totp_enabled_at = $2, totp_last_step = $3,
                          updated_at = $4 WHERE id = $5",
    )
    .bind(sealed)
    .bind(sealed.map(|_| now))
    .bind(step)
    .bind(now)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records a used TOTP step; fails (returns false) if a concurrent log-in used it already.
pub async fn consume_totp_step(tx: &mut SystemTx, id: &UserId, step: i64) -> StoreResult<bool> {
    let n = frontdesk_store::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn revoke_all_tokens(tx: &mut SystemTx, id: &UserId) -> StoreResult<()> {
    let now = now_ms();
    frontdesk_store::query("UPDATE users SET tokens_valid_after = $1 WHERE id = $2")
        .bind(now)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    frontdesk_store::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    frontdesk_store::query(
        "UPDATE token_families SET revoked_at = $1, revoked_reason = 'revoke_all' WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn replace_recovery_codes(tx: &mut SystemTx, id: &UserId, hashes: &[String]) -> StoreResult<()> {
    frontdesk_store::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    for (i, h) in hashes.iter().enumerate() {
        frontdesk_store::query("INSERT INTO recovery_codes (user_id, id, code_hash) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(format!("rc{i:02}"))
            .bind(h)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Uses a recovery code once; true when it matched an unused code.
pub async fn use_recovery_code(tx: &mut SystemTx, id: &UserId, hash: &str) -> StoreResult<bool> {
    let n = frontdesk_store::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(id.as_str())
    .bind(hash)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

// ---------- memberships ----------

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

const MEMBER_SQL: &str = "SELECT m.id, m.user_id, m.role, m.created_at, u.email, u.name, u.totp_enabled_at
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1";

fn member_from(r: &AnyRow) -> StoreResult<Member> {
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

/// The role of `user` in the transaction's tenant, and the tenant's status.
pub async fn role_in(tx: &mut TenantTx, user: &UserId) -> StoreResult<Option<(Role, TenantStatus, String)>> {
    let tid = tx.tid().to_owned();
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

// ---------- invitations ----------

const INVITATION_COLS: &str = "id, email, role, created_at, expires_at, accepted_at, revoked_at";

fn invitation_from(r: &AnyRow) -> StoreResult<Invitation> {
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

// ---------- API keys ----------

const KEY_COLS: &str = "id, name, prefix, permissions, created_at, last_used_at, expires_at, revoked_at";

fn key_from(r: &AnyRow) -> StoreResult<ApiKey> {
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

// ---------- sessions and token families ----------

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

// ---------- outbox ----------

pub async fn insert_email(tx: &mut impl Tx, tenant: &TenantId, e: &Email) -> StoreResult<()> {
    frontdesk_store::query(
        "INSERT INTO outbox_emails (tenant_id, id, to_addr, subject, body_text, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(e.id.as_str())
    .bind(&e.to)
    .bind(&e.subject)
    .bind(&e.body)
    .bind(&e.status)
    .bind(e.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn email_from(r: &AnyRow) -> StoreResult<Email> {
    Ok(Email {
        id: EmailId::from_db(r.try_get("id")?),
        to: r.try_get("to_addr")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body_text")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn list_emails(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<Email>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(
        "SELECT id, to_addr, subject, body_text, status, created_at FROM outbox_emails
         WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(email_from).collect()
}

pub async fn email(tx: &mut TenantTx, id: &EmailId) -> StoreResult<Email> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(
        "SELECT id, to_addr, subject, body_text, status, created_at FROM outbox_emails WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tid)
    .bind(id.as_str())
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    email_from(&row)
}

pub async fn set_email_status(tx: &mut TenantTx, id: &EmailId, status: &str, error: Option<&str>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE outbox_emails SET status = $1, error = $2, sent_at = CASE WHEN $1 = 'sent' THEN $3 ELSE sent_at END
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(status)
    .bind(error)
    .bind(now_ms())
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}
