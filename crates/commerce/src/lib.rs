//! Commerce: the tenant's own sales. This first part connects the tenant's Stripe account and
//! follows what Stripe reports:
//!
//! - **Stripe account**: a secret (or restricted) key checked with Stripe and a webhook signing
//!   secret, both sealed at rest ([`service::Commerce::connect`]).
//! - **Webhook**: `POST /api/v1/public/stripe/{tenant_id}/webhook`, authenticated by Stripe's
//!   signature ([`stripe::verify`]), stored before it is acknowledged, processed by a job.
//! - **Payments**: paid and failed invoices and Checkout payments, each a domain event
//!   (`payment.succeeded`, `payment.failed`) for workflows and webhooks, and the business
//!   metrics `frontdesk.revenue` and `frontdesk.payments_failed` ([`metrics`]).
//! - **Dunning**: an unpaid invoice's payment retried in Stripe on a schedule until it is paid
//!   or the schedule runs out (`dunning.recovered`, `dunning.exhausted`), started by a
//!   workflow's `stripe_dunning` step or the API.
//!
//! The catalog, Checkout payment links and QR codes of the commerce capability build on the
//! account here.
#![forbid(unsafe_code)]

pub mod http;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
pub mod stripe;

pub use service::{
    check_invoice_id, check_retry_hours, register_jobs, Commerce, CommerceConfig, DunningStart, Receipt,
    DUNNING_EXHAUSTED, DUNNING_JOB, DUNNING_RECOVERED, DUNNING_RETRY_FAILED, EVENT_JOB, PAYMENT_FAILED,
    PAYMENT_SUCCEEDED, SECRET_PURPOSE,
};

/// Commerce's schema (after the store's and identity's migrations: it references `tenants`).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[
    frontdesk_store::migration!("commerce", 1, "0001_commerce"),
    frontdesk_store::migration!("commerce", 2, "0002_dunning_invoice_page"),
];

/// The JSON API and Stripe's webhook endpoint, for the binary to merge.
pub fn router(commerce: Commerce) -> utoipa_axum::router::OpenApiRouter {
    http::router(commerce)
}
