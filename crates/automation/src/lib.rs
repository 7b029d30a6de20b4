//! Automation: outbound webhooks signed per Standard Webhooks. A tenant registers endpoints
//! (URL, event filter, a `whsec_` secret sealed at rest and rotatable with a 24-hour overlap);
//! capabilities [`publish`] events inside their own transaction; a durable delivery log with a
//! retry schedule sends them through the SSRF-safe `frontdesk_web::outbound` client. (Workflows —
//! triggers, conditions, actions — will join this crate.)
#![forbid(unsafe_code)]

pub mod http;
pub mod jobs;
pub mod model;
pub mod pages;
pub mod service;
pub mod signature;
pub mod store;

pub use service::{publish, Automation, AutomationConfig, DELIVER_JOB, RETRY_SCHEDULE, SECRET_PURPOSE};

/// Automation's schema (after the store's and identity's migrations: it references `tenants`).
pub const MIGRATIONS: &[frontdesk_store::Migration] =
    &[frontdesk_store::migration!("automation", 1, "0001_automation")];

/// The JSON API, for the binary to merge.
pub fn router(automation: Automation) -> utoipa_axum::router::OpenApiRouter {
    http::router(automation)
}

/// Registers the delivery job.
pub fn register_jobs(registry: &mut frontdesk_store::jobs::JobRegistry, automation: Automation) {
    jobs::register(registry, automation)
}
