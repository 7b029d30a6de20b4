//! Conversations: contacts, conversations and messages; one durable pipeline that every channel
//! feeds; the web chat (public endpoints and the embeddable widget); live updates over SSE
//! (fanned out through Redis across replicas); human handoff; and the staff inbox.
//!
//! - [`model`]: contacts, conversations, messages, the assistant's settings.
//! - [`store`]: SQL for both engines.
//! - [`service`]: the pipeline ([`Conversations::receive`], [`Conversations::run_turn`]) and what
//!   staff do.
//! - [`agent`]: the [`Agent`] interface the answering brain implements; [`assistant`]: the
//!   built-in single assistant (tenant's model, or FAQ/knowledge matching without one).
//! - [`memory`]: the token-bounded window of recent turns and the summary of older ones.
//! - [`live`]: the live-update hub; [`visitor`]: signed visitor tokens of the web chat.
//! - [`http`]: staff JSON API; [`public`]: the web chat's public endpoints; [`pages`]: dashboard.
//! - [`tasks`]: follow-up tasks for staff (API in `tasks_http`); [`service::contact_actions`]: what
//!   workflows do to contacts; [`metrics`]: the business metrics counted from these tables.

pub mod agent;
pub mod assistant;
pub mod hours;
pub mod http;
pub mod jobs;
pub mod live;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod public;
pub mod service;
mod sse;
pub mod store;
pub mod tasks;
mod tasks_http;
pub mod text;
pub mod visitor;

pub use agent::{Agent, AgentError, AgentReply, TurnContext};
pub use assistant::{Assistant, KnowledgeSource, Passage};
pub use live::{LiveEvent, LiveHub, Topic};
pub use service::{Conversations, PipelineConfig};

/// The conversations schema (after identity's).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[
    frontdesk_store::migration!("conversations", 1, "0001_conversations"),
    frontdesk_store::migration!("conversations", 2, "0002_tasks"),
    frontdesk_store::migration!("conversations", 3, "0003_contact_index"),
    frontdesk_store::migration!("conversations", 4, "0004_list_indexes"),
];
