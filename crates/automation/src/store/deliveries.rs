//! The delivery log.

use super::*;

const COLS: &str = "id, endpoint_id, event_id, event_type, payload, state, attempts, next_attempt_at, last_status, \
                    last_error, response_ms, replay_of, created_at, updated_at";

fn delivery_from(r: &AnyRow) -> StoreResult<WebhookDelivery> {
    let payload: String = r.try_get("payload")?;
    let state: String = r.try_get("state")?;
    Ok(WebhookDelivery {
        id: WebhookDeliveryId::from_db(r.try_get("id")?),
        endpoint_id: WebhookEndpointId::from_db(r.try_get("endpoint_id")?),
        event_id: EventId::from_db(r.try_get("event_id")?),
        event_type: r.try_get("event_type")?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Config(format!("delivery payload: {e}")))?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Config(format!("unknown delivery state {state} in the database")))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        response_ms: r.try_get("response_ms")?,
        replay_of: r.try_get::<Option<String>, _>("replay_of")?.map(WebhookDeliveryId::from_db),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_delivery(tx: &mut TenantTx, d: &WebhookDelivery) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, payload, state, attempts,
                                         next_attempt_at, replay_of, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tid)
    .bind(d.id.as_str())
    .bind(d.endpoint_id.as_str())
    .bind(d.event_id.as_str())
    .bind(&d.event_type)
    .bind(d.payload.to_string())
    .bind(d.state.as_str())
    .bind(d.attempts)
    .bind(d.next_attempt_at)
    .bind(d.replay_of.as_ref().map(|r| r.as_str().to_owned()))
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn delivery(tx: &mut TenantTx, id: &WebhookDeliveryId) -> StoreResult<WebhookDelivery> {
    let tid = tx.tid().to_owned();
    let row =
        frontdesk_store::query(&format!("SELECT {COLS} FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2"))
            .bind(tid)
            .bind(id.as_str())
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
    delivery_from(&row)
}

/// The payload text exactly as stored, so every attempt sends the same bytes.
pub async fn delivery_body(tx: &mut TenantTx, id: &WebhookDeliveryId) -> StoreResult<String> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query_scalar("SELECT payload FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// An endpoint's deliveries, newest first.
pub async fn list_deliveries(
    tx: &mut TenantTx,
    endpoint: &WebhookEndpointId,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<WebhookDelivery>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {COLS} FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(tid)
    .bind(endpoint.as_str())
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(delivery_from).collect()
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub response_ms: Option<i64>,
    pub at: i64,
}

/// Records an attempt on a queued delivery; `false` when it was no longer queued (a concurrent
/// run recorded first).
pub async fn record_attempt(tx: &mut TenantTx, id: &WebhookDeliveryId, a: &Attempt) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let error: Option<String> = a.last_error.as_ref().map(|e| e.chars().take(1000).collect());
    let n = frontdesk_store::query(
        "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4,
                last_error = $5, response_ms = $6, updated_at = $7
         WHERE tenant_id = $8 AND id = $9 AND state = 'queued'",
    )
    .bind(a.state.as_str())
    .bind(a.attempts)
    .bind(a.next_attempt_at)
    .bind(a.last_status)
    .bind(error)
    .bind(a.response_ms)
    .bind(a.at)
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n > 0)
}
