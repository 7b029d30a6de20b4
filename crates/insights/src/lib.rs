//! Frontdesk insights: a strictly online anomaly detector for tenant metrics and the
//! Numenta Anomaly Benchmark (NAB) scorer used to measure it.
//!
//! - [`detector`]: one [`Detector`] per metric; feed it `(timestamp, value)` in time order and
//!   compare [`Observation::score`] with the tenant's sensitivity threshold.
//! - [`nab`]: the NAB scoring rules and a corpus runner.
//! - [`service`]: ingestion (validated, de-duplicated, rolled up), scoring on the job queue in
//!   time order per series, anomaly records with explanations; [`http`]: the API.
//! - [`business`]: Frontdesk's own metrics per tenant (`frontdesk.*`), collected from the
//!   capabilities through [`BusinessMetrics`] by a recurring job.
#![forbid(unsafe_code)]

pub mod business;
mod chart;
pub mod detector;
mod explain;
pub mod http;
pub mod jobs;
pub mod model;
pub mod nab;
pub mod pages;
pub mod service;
pub mod store;
mod writer;

pub use business::{BusinessFeed, BusinessMetrics, Count, SourceFuture, Window, RESERVED_PREFIX};
pub use detector::{Detector, DetectorParams, Observation};
pub use nab::{run_corpus, score_corpus, NabError, NabReport};
pub use service::{Insights, Retention};
pub use writer::ExplanationWriter;

/// Insights' schema (after identity's).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[
    frontdesk_store::migration!("insights", 1, "0001_metrics"),
    frontdesk_store::migration!("insights", 2, "0002_expiry_indexes"),
];
