//! Background work of the knowledge base: ingesting a source (ordered per source, scheduled
//! refreshes included), embedding a tenant's passages, and the sweep that finds tenants whose
//! vectors are missing or of another model.

use crate::service::{IngestOutcome, IngestPayload, Knowledge, EMBED_JOB, INGEST_JOB, SWEEP_JOB};
use frontdesk_store::jobs::{Job, JobError, JobRegistry};
use std::time::Duration;

/// How often the sweep looks for tenants with missing vectors.
const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

pub fn register(registry: &mut JobRegistry, knowledge: Knowledge) {
    let for_ingest = knowledge.clone();
    registry.register(INGEST_JOB, move |job: Job| {
        let knowledge = for_ingest.clone();
        async move {
            let p: IngestPayload = job.payload()?;
            let outcome = knowledge
                .ingest(job.tenant()?, &p.source_id, p.scheduled_for)
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?;
            match outcome {
                // Recorded on the source already; the queue retries what may heal.
                IngestOutcome::Failed { error, transient: true } => Err(JobError::Transient(error)),
                _ => Ok(()),
            }
        }
    });
    let for_embed = knowledge.clone();
    registry.register(EMBED_JOB, move |job: Job| {
        let knowledge = for_embed.clone();
        async move { knowledge.embed_job(job.tenant()?).await.map_err(|e| JobError::Transient(e.to_string())) }
    });
    if knowledge.embedder_info().is_some() {
        registry.register_recurring(SWEEP_JOB, SWEEP_EVERY, move |_job: Job| {
            let knowledge = knowledge.clone();
            async move {
                let n = knowledge.sweep().await.map_err(|e| JobError::Transient(e.to_string()))?;
                if n > 0 {
                    tracing::info!(tenants = n, "knowledge embedding queued for tenants with missing vectors");
                }
                Ok(())
            }
        });
    }
}
