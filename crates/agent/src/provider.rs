//! The one interface the answering brain calls, and how it fails.

use crate::model::{ChatEvent, ChatRequest, ChatResponse};
use frontdesk_kernel::Error;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use std::time::Duration;

/// A streamed answer: text and tool-call fragments, then [`ChatEvent::Done`] — or an error, after
/// which nothing follows.
pub type EventStream = BoxStream<'static, Result<ChatEvent, ProviderError>>;

/// A chat model behind some API. Object-safe: the brain holds an `Arc<dyn ChatProvider>`.
pub trait ChatProvider: Send + Sync {
    /// The whole answer at once.
    fn complete(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>>;

    /// The answer as it is generated. The outer result fails when the call cannot start (refused,
    /// rate limited, timed out before the first byte); later failures arrive as an error item.
    /// Dropping the stream aborts the call.
    fn stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>>;
}

/// Why a model call failed. Texts never contain the API key or a raw response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer (or no next chunk) in time.
    #[error("the model did not answer in time")]
    Timeout,
    /// HTTP 429.
    #[error("the model provider is rate limiting us")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, connection refused or reset, a stream that ended early.
    #[error("the model provider is unavailable: {0}")]
    Unavailable(String),
    /// Another 4xx: our request is wrong; retrying would not help.
    #[error("the model provider refused the request: {0}")]
    BadRequest(String),
    /// 401/403: the key is missing, wrong or lacks access.
    #[error("the model provider refused our credentials")]
    Auth,
    /// A body or stream we cannot parse.
    #[error("the model provider sent a malformed answer: {0}")]
    Malformed(String),
    /// The caller gave up (the customer left, the server shuts down).
    #[error("the model call was cancelled")]
    Cancelled,
}

impl ProviderError {
    /// Worth trying again (after a pause): the fault is likely passing.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Timeout | ProviderError::RateLimited { .. } | ProviderError::Unavailable(_))
    }

    /// How long the provider asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl From<ProviderError> for Error {
    /// Passing faults become 503 with a generic text; the rest are internal (logged, bare 500).
    /// The provider's own message stays in the log, never in the client's answer.
    #[track_caller]
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Timeout => {
                Error::Unavailable { detail: "The language model did not answer in time.".into() }
            }
            ProviderError::Unavailable(_) | ProviderError::RateLimited { .. } => {
                tracing::warn!(error = %e, "language model unavailable");
                Error::Unavailable { detail: "The language model is unavailable right now.".into() }
            }
            other => Error::internal(format!("language model: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_kernel_mapping() {
        assert!(ProviderError::Timeout.is_retryable());
        assert!(ProviderError::Unavailable("502".into()).is_retryable());
        assert!(ProviderError::RateLimited { retry_after: None }.is_retryable());
        for e in [
            ProviderError::BadRequest("x".into()),
            ProviderError::Auth,
            ProviderError::Malformed("x".into()),
            ProviderError::Cancelled,
        ] {
            assert!(!e.is_retryable(), "{e:?}");
            let kernel: Error = e.into();
            assert_eq!(kernel.status().as_u16(), 500);
            assert!(kernel.problem().detail.is_none(), "internal errors carry no text to clients");
        }
        let kernel: Error = ProviderError::Unavailable("upstream said: secret body".into()).into();
        assert_eq!(kernel.status().as_u16(), 503);
        assert!(!kernel.problem().detail.unwrap_or_default().contains("secret"));
        let kernel: Error = ProviderError::Timeout.into();
        assert_eq!(kernel.code(), "unavailable");
    }
}
