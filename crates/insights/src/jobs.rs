//! Background work of insights: scoring new points of a series.

use crate::service::{Insights, ScorePayload, SCORE_JOB};
use frontdesk_store::jobs::{Job, JobError, JobRegistry};

pub fn register(registry: &mut JobRegistry, insights: Insights) {
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
