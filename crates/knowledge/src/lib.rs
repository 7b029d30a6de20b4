//! Frontdesk's knowledge base: what the assistant answers from.
//!
//! - Sources per tenant ([`model::Source`]): uploaded Markdown, text, HTML and PDF files, web
//!   pages or site sections by URL, FAQ entries, product catalogs (JSON by URL, refreshed on a
//!   schedule). Fetching goes through `frontdesk_web::outbound` (no private addresses).
//! - Ingestion on the job queue ([`service::INGEST_JOB`]): [`extract`] to structural blocks,
//!   [`chunk`] into passages with section paths, [`text`] for English/German detection and
//!   stemming; unchanged content is a no-op.
//! - Search ([`Knowledge::search`]): BM25 fused with vector similarity (convex combination of
//!   normalised scores) over per-tenant in-memory [`index`]es rebuilt from the database, lazily
//!   loaded and evicted under a memory budget; results cite their document and section, carry a
//!   calibrated `confidence` (compare with [`ANSWERABLE_CONFIDENCE`]), and say when vectors were
//!   not available (`mode`).
//! - Gaps ([`Knowledge::record_gap`]): unanswered questions become suggested FAQ entries.
#![forbid(unsafe_code)]

pub mod chunk;
pub mod cli;
pub mod eval;
pub mod extract;
pub mod fetch;
pub mod http;
pub mod index;
pub mod jobs;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
pub mod text;

pub use chunk::ChunkConfig;
pub use index::ANSWERABLE_CONFIDENCE;
pub use service::{IngestOutcome, Knowledge, KnowledgeConfig, Upload, EMBED_JOB, INGEST_JOB, SWEEP_JOB};

/// The knowledge base's schema (after the store's).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[frontdesk_store::migration!("knowledge", 1, "0001_knowledge")];

/// The JSON API, for the binary to merge.
pub fn router(knowledge: Knowledge) -> utoipa_axum::router::OpenApiRouter {
    http::router(knowledge)
}

/// Registers the ingestion and embedding jobs (and, with a model, the recurring sweep: start it
/// with `JobRegistry::schedule_recurring`).
pub fn register_jobs(registry: &mut frontdesk_store::jobs::JobRegistry, knowledge: Knowledge) {
    jobs::register(registry, knowledge)
}
