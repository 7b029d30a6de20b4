//! Background work of insights: scoring new points of a series, rewording explanations, purging
//! expired points, and feeding Frontdesk's own business metrics.

use crate::business::{BusinessFeed, BUSINESS_JOB};
use crate::model::AnomalyId;
use crate::service::{Insights, ScorePayload, EXPLAIN_JOB, PURGE_JOB, SCORE_JOB};
use frontdesk_store::jobs::{Job, JobError, JobRegistry};

#[derive(serde::Deserialize)]
struct ExplainPayload {
    anomaly_id: AnomalyId,
}

pub fn register(registry: &mut JobRegistry, insights: Insights) {
    let for_purge = insights.clone();
    registry.register_recurring(PURGE_JOB, std::time::Duration::from_secs(3600), move |_job: Job| {
        let insights = for_purge.clone();
        async move {
            let n = insights.purge_expired().await.map_err(|e| JobError::Transient(e.to_string()))?;
            tracing::debug!(deleted = n, "expired metric points and rollups purged");
            Ok(())
        }
    });
    let for_explain = insights.clone();
    registry.register(EXPLAIN_JOB, move |job: Job| {
        let insights = for_explain.clone();
        async move {
            let p: ExplainPayload = job.payload()?;
            insights.reword(job.tenant()?, &p.anomaly_id).await.map_err(|e| JobError::Transient(e.to_string()))?;
            Ok(())
        }
    });
    registry.register(SCORE_JOB, move |job: Job| {
        let insights = insights.clone();
        async move {
            let p: ScorePayload = job.payload()?;
            insights
                .score_series(job.tenant()?, &p.metric, &p.series)
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?;
            Ok(())
        }
    });
}

/// Registers the recurring job that closes the business metrics' buckets (every minute).
pub fn register_business(registry: &mut JobRegistry, feed: BusinessFeed) {
    registry.register_recurring(BUSINESS_JOB, std::time::Duration::from_secs(60), move |_job: Job| {
        let feed = feed.clone();
        async move {
            let now = frontdesk_kernel::time::now_ms();
            let report = feed.close_buckets(now).await.map_err(|e| JobError::Transient(e.to_string()))?;
            if report.points > 0 || report.failed > 0 {
                tracing::debug!(
                    tenants = report.tenants,
                    points = report.points,
                    failed = report.failed,
                    "business metrics fed"
                );
            }
            Ok(())
        }
    });
}
