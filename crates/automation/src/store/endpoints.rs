//! Webhook endpoints (secrets stay sealed here; only the service opens them).

use super::*;

const COLS: &str = "id, url, description, event_types, secret, previous_secret, previous_secret_until, disabled_at, \
                    created_at, updated_at";

/// An endpoint with its sealed secrets, for signing.
#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
    pub previous_secret: Option<String>,
}

fn endpoint_from(r: &AnyRow) -> StoreResult<EndpointRecord> {
    Ok(EndpointRecord {
        endpoint: WebhookEndpoint {
            id: WebhookEndpointId::from_db(r.try_get("id")?),
            url: r.try_get("url")?,
            description: r.try_get("description")?,
            event_types: json_list(r, "event_types")?,
            disabled_at: r.try_get("disabled_at")?,
            previous_secret_until: r.try_get("previous_secret_until")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        },
        secret: r.try_get("secret")?,
        previous_secret: r.try_get("previous_secret")?,
    })
}

pub async fn insert_endpoint(tx: &mut TenantTx, e: &WebhookEndpoint, sealed_secret: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO webhook_endpoints (tenant_id, id, url, description, event_types, secret, disabled_at,
                                        created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tid)
    .bind(e.id.as_str())
    .bind(&e.url)
    .bind(&e.description)
    .bind(serde_json::json!(e.event_types).to_string())
    .bind(sealed_secret)
    .bind(e.disabled_at)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn list_endpoints(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<WebhookEndpoint>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {COLS} FROM webhook_endpoints WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| endpoint_from(r).map(|e| e.endpoint)).collect()
}

/// Enabled endpoints, for fan-out when an event is published.
/// Whether the tenant has an enabled webhook endpoint at all.
pub async fn any_enabled_endpoint(tx: &mut TenantTx) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let found: Option<i64> = frontdesk_store::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM webhook_endpoints WHERE tenant_id = $1 AND disabled_at IS NULL LIMIT 1",
    )
    .bind(tid)
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

pub async fn enabled_endpoints(tx: &mut TenantTx) -> StoreResult<Vec<WebhookEndpoint>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {COLS} FROM webhook_endpoints WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY id"
    ))
    .bind(tid)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| endpoint_from(r).map(|e| e.endpoint)).collect()
}

pub async fn endpoint(tx: &mut TenantTx, id: &WebhookEndpointId) -> StoreResult<EndpointRecord> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("SELECT {COLS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    endpoint_from(&row)
}

/// Saves the editable fields (url, description, event types, disabled_at, updated_at).
pub async fn update_endpoint(tx: &mut TenantTx, e: &WebhookEndpoint) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, disabled_at = $4, updated_at = $5
         WHERE tenant_id = $6 AND id = $7",
    )
    .bind(&e.url)
    .bind(&e.description)
    .bind(serde_json::json!(e.event_types).to_string())
    .bind(e.disabled_at)
    .bind(e.updated_at)
    .bind(tid)
    .bind(e.id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Replaces the signing secret, keeping `previous` (sealed) valid until `previous_until`.
pub async fn set_secrets(
    tx: &mut TenantTx,
    id: &WebhookEndpointId,
    secret: &str,
    previous: Option<&str>,
    previous_until: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE webhook_endpoints SET secret = $1, previous_secret = $2, previous_secret_until = $3, updated_at = $4
         WHERE tenant_id = $5 AND id = $6",
    )
    .bind(secret)
    .bind(previous)
    .bind(previous_until)
    .bind(now)
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes the endpoint and (by cascade) its delivery log.
pub async fn delete_endpoint(tx: &mut TenantTx, id: &WebhookEndpointId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let tid2 = tid.clone();
    // SQLite enforces the cascade only with foreign keys on; delete the log explicitly for both.
    frontdesk_store::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2")
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    let n = frontdesk_store::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
        .bind(tid2)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
