//! Automation: outbound webhooks signed per Standard Webhooks. A tenant registers endpoints
//! (URL, event filter, a `whsec_` secret sealed at rest and rotatable with a 24-hour overlap);
//! capabilities [`publish`] events inside their own transaction; a durable delivery log with a
//! retry schedule sends them through the SSRF-safe `frontdesk_web::outbound` client.
//!
//! Workflows ([`Workflows`]): a trigger (an anomaly matching metric / severity / direction, any
//! domain event, or a schedule), conditions on the event's fields, and ordered actions — a
//! Slack message, a signed webhook to the tenant's endpoints, an e-mail, tags on a contact, a
//! follow-up task for the team (the last two through [`ContactActions`], which the conversations
//! capability implements), a WhatsApp / SMS / Telegram message through the tenant's channels
//! (`frontdesk_channels`). The [`WorkflowSubscriber`] fires them from the domain event bus, a
//! recurring job from their schedules; runs record every step, retry a failing one with backoff
//! and end `failed` with the error in view. Starting Stripe dunning joins the action list when
//! the billing capability lands.
#![forbid(unsafe_code)]

pub mod http;
pub mod jobs;
pub mod model;
pub mod pages;
pub mod service;
pub mod signature;
pub mod store;
pub mod template;
pub mod workflow_pages;

pub use service::{
    publish, Automation, AutomationConfig, ContactActions, ContactFuture, ContactStepError, FollowUpRequest,
    WorkflowSubscriber, Workflows, DELIVER_JOB, RETRY_SCHEDULE, RUN_JOB, SCHEDULE_JOB, SECRET_PURPOSE,
    WORKFLOW_RETRY_DELAYS, WORKFLOW_SECRET_PURPOSE,
};

/// Automation's schema (after the store's and identity's migrations: it references `tenants`).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[
    frontdesk_store::migration!("automation", 1, "0001_automation"),
    frontdesk_store::migration!("automation", 2, "0002_workflows"),
];

/// The JSON API, for the binary to merge.
pub fn router(automation: Automation) -> utoipa_axum::router::OpenApiRouter {
    http::router(automation)
}

/// Registers the delivery job.
pub fn register_jobs(registry: &mut frontdesk_store::jobs::JobRegistry, automation: Automation) {
    jobs::register(registry, automation)
}

/// The workflow API (`/api/v1/workflows`), for the binary to merge.
pub fn workflows_router(workflows: Workflows) -> utoipa_axum::router::OpenApiRouter {
    http::workflows::router(workflows)
}

/// Registers the workflow run job and the every-minute scheduler (a recurring job: start it
/// with `JobRegistry::schedule_recurring`).
pub fn register_workflow_jobs(registry: &mut frontdesk_store::jobs::JobRegistry, workflows: Workflows) {
    service::register_workflow_jobs(registry, workflows)
}
