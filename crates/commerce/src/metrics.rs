//! The business metrics commerce reports (insights' business feed collects them): revenue and
//! failed payments per bucket, counted from the payments Stripe reported, by when they were
//! received — so a payment provider that starts failing the tenant's customers shows as an
//! anomaly like any other metric, and a workflow can act on it.

use frontdesk_kernel::{Result, TenantId};
use frontdesk_store::{query, Db, Row, StoreError, Tx};

/// Paid amounts in minor units of the Stripe account's default currency (payments in other
/// currencies are not added: a sum across currencies means nothing).
pub const REVENUE: &str = "frontdesk.revenue";
/// Failed payments (a failed invoice attempt, a failed asynchronous Checkout payment).
pub const PAYMENTS_FAILED: &str = "frontdesk.payments_failed";

/// Every metric counted here.
pub const METRICS: &[&str] = &[REVENUE, PAYMENTS_FAILED];

pub use frontdesk_kernel::metrics::BucketCount;

/// Tenants with a payment received at or after `since_ms` (`payments_recent`).
pub async fn active_tenants(db: &Db, since_ms: i64) -> Result<Vec<TenantId>> {
    Ok(db.tenants_active_since("payments", "created_at", since_ms).await?)
}

/// The tenant's revenue and failed payments in each bucket of `[from_ms, to_ms)` (buckets of
/// `bucket_ms` from `from_ms`); empty buckets are left out.
pub async fn counts(db: &Db, tenant: &TenantId, from_ms: i64, to_ms: i64, bucket_ms: i64) -> Result<Vec<BucketCount>> {
    let mut tx = db.tenant_read(tenant).await?;
    let currency: Option<String> =
        frontdesk_store::query_scalar("SELECT default_currency FROM stripe_accounts WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(tx.conn())
            .await
            .map_err(StoreError::from)?;
    let rows = query(
        "SELECT (created_at - $2) / $3 AS b, state, currency, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total FROM payments
         WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $4
         GROUP BY 1, 2, 3",
    )
    .bind(tenant.as_str())
    .bind(from_ms)
    .bind(bucket_ms)
    .bind(to_ms)
    .fetch_all(tx.conn())
    .await
    .map_err(StoreError::from)?;
    let mut out: Vec<BucketCount> = Vec::with_capacity(rows.len());
    for r in &rows {
        let b: i64 = r.try_get("b").map_err(StoreError::from)?;
        let state: String = r.try_get("state").map_err(StoreError::from)?;
        let code: String = r.try_get("currency").map_err(StoreError::from)?;
        let (metric, value) = if state == "failed" {
            (PAYMENTS_FAILED, r.try_get::<i64, _>("n").map_err(StoreError::from)? as f64)
        } else if currency.as_deref() == Some(code.as_str()) {
            (REVENUE, r.try_get::<i64, _>("total").map_err(StoreError::from)? as f64)
        } else {
            continue;
        };
        let bucket = from_ms + b * bucket_ms;
        // Failed payments of several currencies share a bucket: add them up.
        match out.iter_mut().find(|c| c.metric == metric && c.bucket == bucket) {
            Some(c) => c.value += value,
            None => out.push(BucketCount { metric, bucket, value }),
        }
    }
    Ok(out)
}
