//! Stored outcomes of requests sent with an `Idempotency-Key` (the HTTP layer decides when).

use crate::error::{StoreError, StoreResult};
use crate::tx::{SystemTx, TenantTx, Tx};
use frontdesk_kernel::time::now_ms;
use sqlx::Row;

/// How long a key and its response are kept.
pub const RETENTION_MS: i64 = 24 * 3600 * 1000;

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Another request with this key is still being processed.
    Running { request_hash: String },
    /// The response to replay.
    Done { request_hash: String, status: u16, content_type: Option<String>, body: String },
}

/// Claims `key` for a request; `Ok(None)` when the caller now owns it, else what it holds.
pub async fn begin(tx: &mut TenantTx, key: &str, request_hash: &str) -> StoreResult<Option<Existing>> {
    let tenant = tx.tid().to_owned();
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, state, created_at)
         VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (tenant_id, idem_key) DO NOTHING",
    )
    .bind(&tenant)
    .bind(key)
    .bind(request_hash)
    .bind(now_ms())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT request_hash, state, status, content_type, body FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2",
    )
    .bind(&tenant)
    .bind(key)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    let request_hash: String = row.try_get("request_hash")?;
    Ok(Some(match row.try_get::<String, _>("state")?.as_str() {
        "done" => Existing::Done {
            request_hash,
            status: row.try_get::<Option<i64>, _>("status")?.unwrap_or(200) as u16,
            content_type: row.try_get("content_type")?,
            body: row.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
        },
        _ => Existing::Running { request_hash },
    }))
}

/// Stores the response for replay.
pub async fn finish(
    tx: &mut TenantTx,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) -> StoreResult<()> {
    let tenant = tx.tid().to_owned();
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', status = $1, content_type = $2, body = $3
         WHERE tenant_id = $4 AND idem_key = $5",
    )
    .bind(status as i64)
    .bind(content_type)
    .bind(body)
    .bind(tenant)
    .bind(key)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Forgets a key whose request failed on our side, so the client may retry it.
pub async fn release(tx: &mut TenantTx, key: &str) -> StoreResult<()> {
    let tenant = tx.tid().to_owned();
    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2")
        .bind(tenant)
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deletes keys past their retention (a maintenance job).
pub async fn purge_expired(tx: &mut SystemTx) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now_ms() - RETENTION_MS)
        .execute(tx.conn())
        .await?
        .rows_affected())
}
