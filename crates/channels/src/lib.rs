//! Channels: the tenant's messaging accounts and everything that goes out through them.
//!
//! A tenant connects WhatsApp (WhatsApp Cloud API or Twilio), SMS (Twilio) and Telegram (a bot)
//! with its own credentials, sealed at rest. Messages — from workflows, the API or the
//! dashboard — are stored in the outbox and queued in the caller's transaction, then sent by a
//! background job through the provider's API ([`providers`]), retried with backoff while the
//! provider is unreachable, and recorded with the provider's message id or its refusal. A
//! channel that is not connected (the offline default) holds its messages in the outbox, where
//! they can be sent again once it is.
//!
//! This crate is where the channels capability grows: inbound webhooks (signatures, customer
//! messages into the conversation pipeline) and delivering the assistant's replies on these
//! channels build on the accounts and the outbox here.
#![forbid(unsafe_code)]

pub mod http;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod providers;
pub mod service;
pub mod store;

pub use providers::ProviderUrls;
pub use service::{check_recipient, check_template, register_jobs, Channels, ChannelsConfig, SECRET_PURPOSE, SEND_JOB};

/// Channels' schema (after the store's and identity's migrations: it references `tenants`).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[
    frontdesk_store::migration!("channels", 1, "0001_channels"),
    frontdesk_store::migration!("channels", 2, "0002_recent_index"),
    frontdesk_store::migration!("channels", 3, "0003_templates"),
];

/// The JSON API, for the binary to merge.
pub fn router(channels: Channels) -> utoipa_axum::router::OpenApiRouter {
    http::router(channels)
}
