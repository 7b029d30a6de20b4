//! The model layer of the answering brain: one [`ChatProvider`] interface (completion, streaming,
//! tool calls, JSON output) and what stands around it.
//!
//! - [`model`]: the messages, tools and answers every provider speaks.
//! - [`provider`]: the [`ChatProvider`] trait and [`ProviderError`].
//! - [`openai`]: [`OpenAiCompatible`], the chat-completions API of OpenAI, vLLM, Ollama and the
//!   llama.cpp server, with connect, first-byte, idle and total timeouts.
//! - [`resilient`]: [`Resilient`], retries with backoff and jitter, then a fallback model; a stream
//!   is retried only before its first token.
//! - [`config`]: a tenant's [`ProviderConfig`] (base URL, model, sealed key) and how it is built.
//! - [`embeddings`]: the [`Embedder`] interface for sentence vectors.
//! - [`usage`]: token accounting per tenant ([`Metered`], [`UsageSink`]).
//! - [`settings`]: a tenant's own model endpoint and its usage, stored per tenant; [`http`]: their API.
//! - [`testing`]: [`testing::StandIn`], a local OpenAI-compatible server for tests.
#![forbid(unsafe_code)]

pub mod config;
pub mod embeddings;
pub mod http;
pub mod metrics;
pub mod model;
pub mod openai;
pub mod provider;
pub mod resilient;
pub mod settings;
pub mod testing;
pub mod usage;

pub use config::{ProviderConfig, API_KEY_PURPOSE};
pub use embeddings::{EmbedKind, Embedder, EmbedderInfo};
pub use model::{
    ChatEvent, ChatMessage, ChatRequest, ChatResponse, FinishReason, ResponseFormat, Role, ToolCall, ToolChoice,
    ToolSpec, Usage,
};
pub use openai::{ApiKey, OpenAiCompatible, Timeouts};
pub use provider::{ChatProvider, EventStream, ProviderError};
pub use resilient::{Resilient, RetryPolicy};
pub use settings::{DbUsage, ModelLimits, ModelSettings};
pub use usage::{MemoryUsage, Metered, TenantModel, UsageRecord, UsageSink};

/// The agent's schema (per-tenant model settings and token usage; after identity's).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[frontdesk_store::migration!("agent", 1, "0001_llm")];
