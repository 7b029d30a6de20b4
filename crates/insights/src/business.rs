//! Frontdesk's own business metrics per tenant (`frontdesk.messages_in`, `frontdesk.ai_tokens`,
//! …), fed without the tenant doing anything.
//!
//! Capabilities report what happened through the [`BusinessMetrics`] interface; they count from
//! their own tables, so the chat's hot path does no extra work. One recurring job
//! ([`BUSINESS_JOB`], every minute) closes the finished 5-minute buckets of the last hour for every
//! tenant a source reports active, and ingests one point per metric and bucket (zeros included,
//! so a quiet spell is visible to the detector) through the normal ingest path. Only buckets after
//! the last point already fed are collected, and the ingest path ignores a point it already has,
//! so a re-run (another replica, a retry, a crash mid-run) stores and detects nothing twice.
//! Tenants may not write under [`RESERVED_PREFIX`] themselves.

use crate::model::{IngestResult, Point};
use crate::service::Insights;
use frontdesk_kernel::{Result, TenantId};
use frontdesk_store::Row;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Metric names under this prefix are Frontdesk's own; the ingest API refuses them.
pub const RESERVED_PREFIX: &str = "frontdesk.";
/// The recurring job that closes buckets (every minute).
pub const BUSINESS_JOB: &str = "insights.business_metrics";
/// Width of one bucket: a point per metric and 5 minutes.
pub const BUCKET_MS: i64 = 5 * 60_000;
/// A bucket is closed this long after its end, so writes committing around its end are in.
pub const GRACE_MS: i64 = 30_000;
/// How far back a run looks (buckets missed while no worker ran are caught up within this).
pub const LOOKBACK_MS: i64 = 3_600_000;

/// The future a source answers with.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Closed buckets to collect: `[from_ms, to_ms)`, both multiples of `bucket_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket_ms: i64,
}

impl Window {
    /// The start of the bucket holding `ts`, when it is inside the window.
    pub fn bucket_of(&self, ts: i64) -> Option<i64> {
        (self.from_ms..self.to_ms).contains(&ts).then(|| ts - (ts - self.from_ms).rem_euclid(self.bucket_ms))
    }

    /// Every bucket start, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = i64> {
        let (from, to, step) = (self.from_ms, self.to_ms, self.bucket_ms.max(1));
        (0..).map(move |i| from + i * step).take_while(move |b| *b < to)
    }
}

/// A count of one metric in one bucket (the kernel's type, so capabilities report it directly).
pub use frontdesk_kernel::metrics::BucketCount as Count;

/// What a capability reports about a tenant's business, counted from its own tables.
pub trait BusinessMetrics: Send + Sync + 'static {
    /// The metrics it reports, all under [`RESERVED_PREFIX`].
    fn metrics(&self) -> &'static [&'static str];

    /// Tenants with activity at or after `since_ms`, found without visiting idle tenants. A source
    /// that cannot tell cheaply answers none: its metrics are still collected for the tenants
    /// other sources name.
    fn active_tenants(&self, since_ms: i64) -> SourceFuture<'_, Vec<TenantId>> {
        let _ = since_ms;
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The tenant's counts per bucket of `window`.
    fn collect<'a>(&'a self, tenant: &'a TenantId, window: Window) -> SourceFuture<'a, Vec<Count>>;
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// Tenants a source reported active.
    pub tenants: usize,
    /// Points stored (already stored ones are not counted).
    pub points: usize,
    /// Tenants whose buckets could not be collected or stored this time (the next run retries).
    pub failed: usize,
}

/// Feeds the sources' counts into insights. Cheap to clone.
#[derive(Clone)]
pub struct BusinessFeed {
    insights: Insights,
    sources: Arc<Vec<Arc<dyn BusinessMetrics>>>,
}

impl BusinessFeed {
    pub fn new(insights: Insights, sources: Vec<Arc<dyn BusinessMetrics>>) -> Self {
        Self { insights, sources: Arc::new(sources) }
    }

    /// Every metric the sources report.
    pub fn metrics(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.sources.iter().flat_map(|s| s.metrics().iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The buckets that are closed at `now_ms`, over the last [`LOOKBACK_MS`].
    pub fn window(now_ms: i64) -> Window {
        let to_ms = (now_ms - GRACE_MS).div_euclid(BUCKET_MS) * BUCKET_MS;
        Window { from_ms: to_ms - LOOKBACK_MS, to_ms, bucket_ms: BUCKET_MS }
    }

    /// Closes the finished buckets for every active tenant (the job). A tenant that fails is
    /// logged and left to the next run, which covers the same hour.
    #[tracing::instrument(skip_all, fields(now_ms))]
    pub async fn close_buckets(&self, now_ms: i64) -> Result<FeedReport> {
        let window = Self::window(now_ms);
        let mut tenants: Vec<TenantId> = Vec::new();
        for source in self.sources.iter() {
            tenants.extend(source.active_tenants(window.from_ms).await?);
        }
        tenants.sort();
        tenants.dedup();
        let mut report = FeedReport { tenants: tenants.len(), ..FeedReport::default() };
        for tenant in &tenants {
            match self.feed_tenant(tenant, window).await {
                Ok(result) => report.points += result.accepted,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(tenant_id = %tenant, error = %e, "business metrics not fed; the next run retries");
                }
            }
        }
        Ok(report)
    }

    /// Collects and ingests the tenant's buckets after the last one fed.
    async fn feed_tenant(&self, tenant: &TenantId, window: Window) -> Result<IngestResult> {
        let metrics = self.metrics();
        let fed = self.fed_until(tenant, &metrics).await?;
        // Collect from the oldest bucket that some metric still misses.
        let from = metrics
            .iter()
            .map(|m| fed.get(m).map_or(window.from_ms, |last| (last + window.bucket_ms).max(window.from_ms)))
            .min()
            .unwrap_or(window.to_ms);
        if from >= window.to_ms {
            return Ok(IngestResult { accepted: 0, duplicates: 0, late: 0, rejected: Vec::new() });
        }
        let window = Window { from_ms: from, ..window };
        let mut values: HashMap<(&'static str, i64), f64> = HashMap::new();
        for source in self.sources.iter() {
            for c in source.collect(tenant, window).await? {
                if let Some(bucket) = window.bucket_of(c.bucket) {
                    *values.entry((c.metric, bucket)).or_default() += c.value;
                }
            }
        }
        let mut points = Vec::new();
        for metric in &metrics {
            let after = fed.get(metric).copied().unwrap_or(i64::MIN);
            for bucket in window.buckets().filter(|b| *b > after) {
                let value = values.get(&(*metric, bucket)).copied().unwrap_or(0.0);
                points.push(Point { metric: (*metric).to_owned(), series: String::new(), ts: bucket, value });
            }
        }
        if points.is_empty() {
            return Ok(IngestResult { accepted: 0, duplicates: 0, late: 0, rejected: Vec::new() });
        }
        self.insights.store_points(tenant, &points).await
    }

    /// The newest point already stored per metric.
    async fn fed_until(&self, tenant: &TenantId, metrics: &[&'static str]) -> Result<HashMap<&'static str, i64>> {
        let mut tx = self.insights.db().tenant_read(tenant).await?;
        let mut fed = HashMap::new();
        for metric in metrics {
            let tid = tx.tid().to_owned();
            let row = frontdesk_store::query(
                "SELECT MAX(ts) AS last FROM metric_points WHERE tenant_id = $1 AND metric = $2 AND series = ''",
            )
            .bind(tid)
            .bind(*metric)
            .fetch_one(frontdesk_store::Tx::conn(&mut tx))
            .await
            .map_err(frontdesk_store::StoreError::from)?;
            if let Some(last) = row.try_get::<Option<i64>, _>("last").map_err(frontdesk_store::StoreError::from)? {
                fed.insert(*metric, last);
            }
        }
        Ok(fed)
    }
}

/// True for names tenants may not ingest into.
pub fn is_reserved(metric: &str) -> bool {
    metric.starts_with(RESERVED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_closed_buckets_of_the_last_hour() {
        let now = 1_764_000_000_000 + 7 * 60_000 + 10_000; // 7:10 into some 5-minute grid
        let w = BusinessFeed::window(now);
        assert_eq!(w.to_ms % BUCKET_MS, 0);
        assert!(w.to_ms <= now - GRACE_MS && now - GRACE_MS < w.to_ms + BUCKET_MS);
        assert_eq!(w.to_ms - w.from_ms, LOOKBACK_MS);
        assert_eq!(w.buckets().count() as i64, LOOKBACK_MS / BUCKET_MS);
        // Just inside the grace period the bucket that ended is still open.
        let end = w.to_ms + BUCKET_MS;
        assert_eq!(BusinessFeed::window(end + GRACE_MS - 1).to_ms, w.to_ms);
        assert_eq!(BusinessFeed::window(end + GRACE_MS).to_ms, end);
    }

    #[test]
    fn counts_fall_into_their_bucket_or_nowhere() {
        let w = Window { from_ms: 600_000, to_ms: 1_200_000, bucket_ms: BUCKET_MS };
        assert_eq!(w.bucket_of(600_000), Some(600_000));
        assert_eq!(w.bucket_of(899_999), Some(600_000));
        assert_eq!(w.bucket_of(900_000), Some(900_000));
        assert_eq!(w.bucket_of(1_200_000), None);
        assert_eq!(w.bucket_of(599_999), None);
        assert!(is_reserved("frontdesk.messages_in") && !is_reserved("frontdesk_messages"));
    }
}
