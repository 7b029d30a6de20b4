//! Vectors: passages without a vector of the current model are embedded in batches in the
//! background (after ingestion, after a model change), stored as bytes with the model's name,
//! and the touched sources' segments reload once per run, not once per batch.

use super::{Knowledge, EMBED_JOB};
use crate::store;
use frontdesk_agent::EmbedKind;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::jobs::{self, NewJob};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Characters of a passage given to the embedder (models read ~512 tokens).
const EMBED_CHARS: usize = 2000;

/// What an embedding run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedReport {
    pub embedded: u64,
    /// Passages still waiting (the run stopped at its time budget).
    pub remaining: u64,
}

/// The text a passage is embedded as: where it is, then what it says.
pub(crate) fn passage_text(title: &str, section: &str, body: &str) -> String {
    let mut text = String::new();
    for part in [title, section] {
        if !part.is_empty() {
            if !text.is_empty() {
                text.push_str(" › ");
            }
            text.push_str(part);
        }
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(body);
    text.chars().take(EMBED_CHARS).collect()
}

impl Knowledge {
    /// Embeds the tenant's passages that lack a vector of the current model, for at most
    /// `budget` (then another job continues), reporting `(done, total)` as it goes.
    pub async fn embed_pending(
        &self,
        tenant: &TenantId,
        budget: Option<Duration>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<EmbedReport> {
        let Some(embedder) = self.inner.embedder.clone() else { return Ok(EmbedReport::default()) };
        let info = embedder.info();
        let started = Instant::now();
        let total = {
            let mut tx = self.read(tenant).await?;
            store::count_unembedded(&mut tx, &info.model).await?.max(0) as u64
        };
        let mut report = EmbedReport::default();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        // Chunks that vanished (re-ingested) while being embedded are skipped, not retried.
        let mut skipped: BTreeSet<String> = BTreeSet::new();
        progress(0, total);
        loop {
            let batch: Vec<store::Unembedded> = {
                let mut tx = self.read(tenant).await?;
                store::unembedded(&mut tx, &info.model, self.inner.config.embed_batch + skipped.len() as u32).await?
            }
            .into_iter()
            .filter(|c| !skipped.contains(&c.id))
            .take(self.inner.config.embed_batch as usize)
            .collect();
            if batch.is_empty() {
                break;
            }
            let texts: Vec<String> = batch.iter().map(|c| passage_text(&c.title, &c.section, &c.body)).collect();
            let vectors = embedder
                .embed(texts, EmbedKind::Passage)
                .await
                .map_err(|e| Error::Unavailable { detail: format!("embedding failed: {e}") })?;
            if vectors.len() != batch.len() || vectors.iter().any(|v| v.len() != info.dimensions) {
                return Err(Error::internal(format!(
                    "the embedder {} returned {} vectors for {} passages, or vectors of the wrong length",
                    info.model,
                    vectors.len(),
                    batch.len()
                )));
            }
            let mut per_source: BTreeMap<&str, i64> = BTreeMap::new();
            let mut tx = self.write(tenant).await?;
            for (c, v) in batch.iter().zip(&vectors) {
                if store::set_vector(&mut tx, &c.id, &info.model, v).await? {
                    *per_source.entry(&c.source_id).or_default() += 1;
                } else {
                    skipped.insert(c.id.clone());
                }
            }
            for (source, n) in &per_source {
                store::add_embedded(&mut tx, source, *n).await?;
                touched.insert((*source).to_owned());
            }
            tx.commit().await?;
            report.embedded += per_source.values().sum::<i64>() as u64;
            progress(report.embedded, total);
            if budget.is_some_and(|b| started.elapsed() > b) {
                let mut tx = self.read(tenant).await?;
                report.remaining = store::count_unembedded(&mut tx, &info.model).await?.max(0) as u64;
                break;
            }
        }
        let mut tx = self.write(tenant).await?;
        for source in &touched {
            store::bump_index_version(&mut tx, source).await?;
        }
        if !touched.is_empty() {
            store::bump_generation(&mut tx).await?;
        }
        if report.remaining == 0 && store::count_unembedded(&mut tx, &info.model).await? == 0 {
            store::set_vectors_model(&mut tx, Some(&info.model)).await?;
        }
        tx.commit().await?;
        if report.embedded > 0 {
            tracing::info!(tenant_id = %tenant, embedded = report.embedded, remaining = report.remaining,
                model = %info.model, elapsed_ms = started.elapsed().as_millis() as u64, "knowledge passages embedded");
        }
        Ok(report)
    }

    /// The embedding job: one budgeted run, continued by a follow-up job when work remains.
    pub(crate) async fn embed_job(&self, tenant: &TenantId) -> Result<()> {
        let report = self.embed_pending(tenant, Some(self.inner.config.embed_time), &|_, _| {}).await?;
        if report.remaining > 0 {
            let mut tx = self.write(tenant).await?;
            self.enqueue_embedding(&mut tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The sweep: queues an embedding job for every tenant whose vectors are incomplete or of
    /// another model (after a model change, or when a job was lost).
    pub async fn sweep(&self) -> Result<usize> {
        let Some(info) = self.embedder_info() else { return Ok(0) };
        let tenants = {
            let mut tx = self.inner.db.system_read().await?;
            store::tenants_needing_vectors(&mut tx, &info.model, 1000).await?
        };
        let slot = frontdesk_kernel::time::now_ms() / (10 * 60 * 1000);
        for tenant in &tenants {
            let mut tx = self.write(tenant).await?;
            let job = NewJob::new(EMBED_JOB, &serde_json::json!({}))?
                .ordered_by(format!("knowledge:{tenant}:embed"))
                .dedupe(format!("knowledge:embed-sweep:{tenant}:{slot}"))
                .max_attempts(5);
            jobs::enqueue(&mut tx, job).await?;
            tx.commit().await?;
        }
        Ok(tenants.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_are_embedded_with_their_place() {
        assert_eq!(passage_text("Guide", "Prices › Students", "Half price."), "Guide › Prices › Students\nHalf price.");
        assert_eq!(passage_text("", "", "Just text"), "Just text");
        assert_eq!(passage_text("T", "", &"x".repeat(5000)).chars().count(), EMBED_CHARS);
    }
}
