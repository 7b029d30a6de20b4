//! Users (global: one person may belong to several tenants), their two-factor state and recovery codes.

use super::*;

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

pub(crate) const USER_COLS: &str = "id, email, name, password_hash, locale, platform_role, totp_secret, totp_pending, \
                         totp_enabled_at, totp_last_step, tokens_valid_after";

pub(crate) fn user_from(r: &AnyRow) -> StoreResult<UserRecord> {
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
