//! The business metrics of AI usage (insights' business feed collects them): model calls and
//! tokens per bucket, counted from `llm_usage` (`llm_usage_at`) when a bucket closes.
//!
//! Which tenants to visit is left to the other sources: a tenant's model is called for its
//! conversations, so the tenants with conversation activity are the ones with usage, and
//! `llm_usage` has no index that finds them without visiting every tenant.

use frontdesk_kernel::{Result, TenantId};
use frontdesk_store::{query, Db, Row, StoreError, Tx};

pub const AI_CALLS: &str = "frontdesk.ai_calls";
pub const AI_TOKENS: &str = "frontdesk.ai_tokens";

/// Every metric counted here.
pub const METRICS: &[&str] = &[AI_CALLS, AI_TOKENS];

pub use frontdesk_kernel::metrics::BucketCount;

/// The tenant's model calls and tokens (prompt and completion) per bucket of `[from_ms, to_ms)`
/// (buckets of `bucket_ms` from `from_ms`); buckets without any are left out.
pub async fn counts(db: &Db, tenant: &TenantId, from_ms: i64, to_ms: i64, bucket_ms: i64) -> Result<Vec<BucketCount>> {
    let mut tx = db.tenant_read(tenant).await?;
    let rows = query(
        "SELECT (at - $2) / $3 AS b, COUNT(*) AS calls, CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) AS tokens
         FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND at < $4 GROUP BY 1",
    )
    .bind(tenant.as_str())
    .bind(from_ms)
    .bind(bucket_ms)
    .bind(to_ms)
    .fetch_all(tx.conn())
    .await
    .map_err(StoreError::from)?;
    let mut out = Vec::with_capacity(rows.len() * 2);
    for r in &rows {
        let get = |col: &str| r.try_get::<i64, _>(col).map_err(StoreError::from);
        let bucket = from_ms + get("b")? * bucket_ms;
        out.push(BucketCount { metric: AI_CALLS, bucket, value: get("calls")? as f64 });
        out.push(BucketCount { metric: AI_TOKENS, bucket, value: get("tokens")? as f64 });
    }
    Ok(out)
}
