//! Operations: health probes, Prometheus metrics, the audit log and job (dead letter) viewers,
//! the OpenAPI document and its browsable reference.
#![forbid(unsafe_code)]

pub mod docs;
pub mod health;
pub mod http;
pub mod pages;

use frontdesk_store::Db;
use frontdesk_web::metrics::HttpMetrics;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Instant;

/// What the ops endpoints read. Cheap to clone.
#[derive(Clone)]
pub struct Ops {
    pub db: Db,
    pub http_metrics: Arc<HttpMetrics>,
    pub started: Instant,
    pub workers: Arc<WorkerStatus>,
    /// `memory` or `redis`.
    pub rate_limiter: &'static str,
}

/// Whether this process runs job workers, and how many jobs at once.
#[derive(Default)]
pub struct WorkerStatus {
    pub running: AtomicBool,
    pub concurrency: AtomicUsize,
}

pub use health::readiness;
