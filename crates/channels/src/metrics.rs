//! The business metrics channels reports (insights' business feed collects them): outbound
//! messages sent and failed per bucket, counted from the outbox when a bucket closes — so a
//! provider that starts refusing or failing the tenant's messages shows as an anomaly like any
//! other metric, and a workflow can act on it.

use crate::model::MessageState;
use frontdesk_kernel::{Result, TenantId};
use frontdesk_store::{query, Db, Row, StoreError, Tx};

pub const MESSAGES_SENT: &str = "frontdesk.channel_messages_sent";
pub const MESSAGES_FAILED: &str = "frontdesk.channel_messages_failed";

/// Every metric counted here.
pub const METRICS: &[&str] = &[MESSAGES_SENT, MESSAGES_FAILED];

pub use frontdesk_kernel::metrics::BucketCount;

/// Tenants with an outbound message that changed at or after `since_ms` (`outbound_messages_recent`).
pub async fn active_tenants(db: &Db, since_ms: i64) -> Result<Vec<TenantId>> {
    Ok(db.tenants_active_since("outbound_messages", "updated_at", since_ms).await?)
}

/// The tenant's messages that ended sent or failed in each bucket of `[from_ms, to_ms)`
/// (buckets of `bucket_ms` from `from_ms`, by the time they ended); empty buckets are left out.
pub async fn counts(db: &Db, tenant: &TenantId, from_ms: i64, to_ms: i64, bucket_ms: i64) -> Result<Vec<BucketCount>> {
    let mut tx = db.tenant_read(tenant).await?;
    let rows = query(
        "SELECT (updated_at - $2) / $3 AS b, state, COUNT(*) AS n FROM outbound_messages
         WHERE tenant_id = $1 AND updated_at >= $2 AND updated_at < $4 AND state IN ('sent', 'failed')
         GROUP BY 1, 2",
    )
    .bind(tenant.as_str())
    .bind(from_ms)
    .bind(bucket_ms)
    .bind(to_ms)
    .fetch_all(tx.conn())
    .await
    .map_err(StoreError::from)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let b: i64 = r.try_get("b").map_err(StoreError::from)?;
        let n: i64 = r.try_get("n").map_err(StoreError::from)?;
        let state: String = r.try_get("state").map_err(StoreError::from)?;
        let metric = if MessageState::parse(&state) == MessageState::Sent { MESSAGES_SENT } else { MESSAGES_FAILED };
        out.push(BucketCount { metric, bucket: from_ms + b * bucket_ms, value: n as f64 });
    }
    Ok(out)
}
