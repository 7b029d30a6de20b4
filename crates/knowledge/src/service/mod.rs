//! The knowledge base's rules: sources and their ingestion on the job queue, the FAQ, gaps, and
//! hybrid search over per-tenant indexes that are rebuilt from the database.
//!
//! Every change to a tenant's passages moves the tenant's generation (one row in
//! `knowledge_state`) in the same transaction; a search reads it first (one primary-key
//! look-up) and reloads the sources whose `index_version` moved when its index is older. So a
//! deleted source disappears from every replica's next search, and a new replica, or one whose
//! index was evicted, heals itself.

mod embed;
mod faq;
mod gaps;
mod ingest;
mod search;
mod sources;

pub use embed::EmbedReport;
pub use ingest::IngestOutcome;
pub(crate) use sources::IngestPayload;
pub use sources::Upload;

use crate::chunk::ChunkConfig;
use crate::fetch::Fetcher;
use crate::index::{CacheStats, ChunkInput, IndexCache, Segment, TenantIndex};
use crate::store;
use crate::text::Language;
use frontdesk_agent::{Embedder, EmbedderInfo};
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::jobs::{self, NewJob};
use frontdesk_store::{Db, TenantTx};
use frontdesk_web::outbound::{OutboundError, OutboundPolicy};
use std::sync::Arc;
use std::time::Duration;

/// The job that ingests one source (ordered per source).
pub const INGEST_JOB: &str = "knowledge.ingest";
/// The job that embeds a tenant's passages that have no vector of the current model.
pub const EMBED_JOB: &str = "knowledge.embed";
/// The recurring job that finds tenants whose vectors are missing or of another model.
pub const SWEEP_JOB: &str = "knowledge.embed_sweep";

#[derive(Clone, Debug)]
pub struct KnowledgeConfig {
    pub chunking: ChunkConfig,
    /// Where URL sources may be fetched from, and the limits of one fetch.
    pub outbound: OutboundPolicy,
    /// Largest uploaded file.
    pub max_upload_bytes: usize,
    /// Pages one web source may have at most (a source asks for fewer).
    pub max_pages: u32,
    /// Time one crawl may take (the job's lease is a minute).
    pub crawl_time: Duration,
    /// Memory for in-memory indexes of all tenants together.
    pub index_budget_bytes: usize,
    /// An index unused this long is dropped.
    pub index_idle: Duration,
    /// Passages embedded per call of the embedder.
    pub embed_batch: u32,
    /// Time one embedding job works before it continues in a follow-up job.
    pub embed_time: Duration,
    /// Refresh interval of catalogs unless the source says otherwise.
    pub catalog_refresh: Duration,
    /// Weights of full text and vectors in the fused score (normalised to sum to 1; see
    /// `index::fusion`).
    pub bm25_weight: f32,
    pub vector_weight: f32,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            chunking: ChunkConfig::default(),
            outbound: OutboundPolicy {
                allow_private: false,
                max_redirects: 5,
                timeout: Duration::from_secs(20),
                max_body_bytes: 10 * 1024 * 1024,
                allow_hosts: Vec::new(),
            },
            max_upload_bytes: 20 * 1024 * 1024,
            max_pages: 200,
            crawl_time: Duration::from_secs(45),
            index_budget_bytes: 256 * 1024 * 1024,
            index_idle: Duration::from_secs(30 * 60),
            embed_batch: 32,
            embed_time: Duration::from_secs(40),
            catalog_refresh: Duration::from_secs(24 * 3600),
            bm25_weight: 1.0,
            vector_weight: 1.0,
        }
    }
}

/// The knowledge capability's service. Cheap to clone.
#[derive(Clone)]
pub struct Knowledge {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    config: KnowledgeConfig,
    embedder: Option<Arc<dyn Embedder>>,
    fetcher: Fetcher,
    cache: IndexCache,
}

impl Knowledge {
    /// `embedder`: the model for vectors, or `None` (search is then full text only, and says so).
    pub fn new(
        db: Db,
        config: KnowledgeConfig,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> std::result::Result<Self, OutboundError> {
        let fetcher = Fetcher::new(config.outbound.clone())?;
        let cache = IndexCache::new(config.index_budget_bytes, config.index_idle);
        Ok(Self { inner: Arc::new(Inner { db, config, embedder, fetcher, cache }) })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn config(&self) -> &KnowledgeConfig {
        &self.inner.config
    }

    /// The embedding model in use, if any.
    pub fn embedder_info(&self) -> Option<EmbedderInfo> {
        self.inner.embedder.as_ref().map(|e| e.info())
    }

    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Drops a tenant's in-memory index (the next search rebuilds it from the database).
    pub fn forget_index(&self, tenant: &TenantId) {
        self.inner.cache.forget(tenant)
    }

    async fn write(&self, tenant: &TenantId) -> Result<TenantTx> {
        Ok(self.inner.db.tenant(tenant).await?)
    }

    async fn read(&self, tenant: &TenantId) -> Result<TenantTx> {
        Ok(self.inner.db.tenant_read(tenant).await?)
    }

    /// Queues the embedding of the tenant's passages without a vector (a no-op without a model).
    async fn enqueue_embedding(&self, tx: &mut TenantTx) -> Result<()> {
        if self.inner.embedder.is_none() {
            return Ok(());
        }
        let job = NewJob::new(EMBED_JOB, &serde_json::json!({}))?
            .ordered_by(format!("knowledge:{}:embed", tx.tenant()))
            .max_attempts(5);
        jobs::enqueue(tx, job).await?;
        Ok(())
    }

    /// Every passage as `(document locator, text)` (evaluation and export).
    pub async fn all_passages(&self, tenant: &TenantId) -> Result<Vec<(String, String)>> {
        let mut tx = self.read(tenant).await?;
        Ok(store::all_passages(&mut tx).await?)
    }

    /// The tenant's index at its current generation: cached, or (re)built from the database.
    pub async fn index(&self, tenant: &TenantId) -> Result<Arc<TenantIndex>> {
        let generation = {
            let mut tx = self.read(tenant).await?;
            store::generation(&mut tx).await?
        };
        self.inner.cache.get(tenant, generation, |previous| self.load_index(tenant, generation, previous)).await
    }

    /// Builds an index from the database, reusing the segments of `previous` whose source did
    /// not change.
    async fn load_index(
        &self,
        tenant: &TenantId,
        generation: i64,
        previous: Option<Arc<TenantIndex>>,
    ) -> Result<TenantIndex> {
        let info = self.embedder_info();
        let model = info.as_ref().map(|i| i.model.clone());
        let dims = info.as_ref().map(|i| i.dimensions).unwrap_or(0);
        let previous = previous.filter(|p| p.model == model);
        let mut tx = self.read(tenant).await?;
        let versions = store::index_versions(&mut tx).await?;
        let mut segments = Vec::with_capacity(versions.len());
        for (source_id, version, tags) in versions {
            if let Some(seg) = previous.as_ref().and_then(|p| p.segment(&source_id)) {
                if seg.version == version && seg.tags == tags {
                    segments.push(seg.clone());
                    continue;
                }
            }
            let rows = store::segment_rows(&mut tx, &source_id).await?;
            let model = model.clone();
            let segment = tokio::task::spawn_blocking(move || {
                let chunks = rows
                    .into_iter()
                    .map(|r| {
                        let vector = match (&model, r.embedding_model, r.embedding) {
                            (Some(m), Some(rm), Some(bytes)) if *m == rm => Some(store::vector_from_bytes(&bytes)),
                            _ => None,
                        };
                        ChunkInput {
                            id: r.id,
                            title: r.title,
                            section: r.section,
                            body: r.body,
                            language: Language::from_code(&r.language),
                            vector,
                        }
                    })
                    .collect();
                Segment::build(source_id, version, tags, chunks, dims)
            })
            .await
            .map_err(Error::internal)?;
            segments.push(Arc::new(segment));
        }
        drop(tx);
        let index = TenantIndex::new(generation, model, segments);
        tracing::debug!(tenant_id = %tenant, generation, chunks = index.chunks(), vectors = index.vectors(),
            bytes = index.bytes(), "knowledge index loaded");
        Ok(index)
    }
}

/// A hex SHA-256 (content hashes of sources and chunks).
pub(crate) fn sha256_hex(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    data_encoding::HEXLOWER.encode(&h.finalize())
}

/// Tags: trimmed, lower case, 1–40 characters, at most 20, no duplicates.
pub(crate) fn clean_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 40 || t.contains([',', '\n']) {
            return Err(Error::field("tags", "invalid", "A tag has up to 40 characters and no commas."));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > 20 {
        return Err(Error::field("tags", "too_many", "Up to 20 tags."));
    }
    Ok(out)
}
