//! The answering brain's seat in the pipeline: the pipeline hands each customer turn to an
//! [`Agent`] and stores what it answers. The built-in [`crate::assistant::Assistant`] is the
//! first agent; the agent team plugs in here later without touching the pipeline.

use crate::memory::Memory;
use crate::model::{AgentTrace, AssistantSettings, Channel, Content, ConversationId, MessageId};
use frontdesk_kernel::TenantId;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The business the agent speaks for.
#[derive(Debug, Clone)]
pub struct Business {
    pub name: String,
    /// `en` or `de`: the language of notices when the customer's is unknown.
    pub locale: String,
    pub time_zone: String,
}

/// Everything an agent knows about one turn.
#[derive(Debug, Clone)]
pub struct TurnContext {
    pub tenant: TenantId,
    pub business: Business,
    pub conversation_id: ConversationId,
    pub channel: Channel,
    pub contact_name: Option<String>,
    /// The customer's language when known (`en`, `de`, …).
    pub language: Option<String>,
    pub settings: Arc<AssistantSettings>,
    /// The summary of older turns and the recent turns, ending with the customer's new message.
    pub memory: Memory,
    /// The customer message to answer.
    pub message_id: MessageId,
    pub message: String,
    /// Opening-hours sentence for notices ("We open again Monday at 09:00."), when hours are set.
    pub hours_notice: Option<String>,
}

/// What the agent answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentReply {
    pub text: String,
    pub content: Vec<Content>,
    pub trace: AgentTrace,
    /// The agent wants a human to take over, for this reason.
    pub handoff: Option<String>,
    /// The agent could not answer from what it knows (a knowledge gap worth an FAQ entry).
    pub unanswered: bool,
}

/// Why an agent could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The model is down or slow: try the turn again later.
    #[error("the answering model is unavailable: {0}")]
    Unavailable(String),
    /// Trying again will not help (bad configuration, refused request).
    #[error("the agent failed: {0}")]
    Failed(String),
}

impl From<frontdesk_agent::ProviderError> for AgentError {
    fn from(e: frontdesk_agent::ProviderError) -> Self {
        if e.is_retryable() || matches!(e, frontdesk_agent::ProviderError::Malformed(_)) {
            AgentError::Unavailable(e.to_string())
        } else {
            AgentError::Failed(e.to_string())
        }
    }
}

/// Where an agent streams fragments of its answer as they are generated.
pub type Deltas = mpsc::UnboundedSender<String>;

/// An answering brain. Object-safe: the pipeline holds an `Arc<dyn Agent>`.
pub trait Agent: Send + Sync {
    /// Answers one turn, sending text fragments to `deltas` as they come (optional: an agent
    /// that does not stream just returns the reply). The returned text is the whole answer.
    fn answer<'a>(&'a self, turn: &'a TurnContext, deltas: Deltas) -> BoxFuture<'a, Result<AgentReply, AgentError>>;
}
