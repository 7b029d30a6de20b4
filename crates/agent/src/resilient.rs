//! [`Resilient`]: retries a provider's passing faults with exponential backoff and jitter, then
//! turns to a fallback provider (a smaller model, another endpoint), then gives up with the error.
//!
//! A stream is retried only while nothing has reached the caller: [`Resilient::stream`] waits for
//! the first event before it answers, so a failure before the first token is retried like a
//! failed call, and a failure after it arrives as the stream's error item — text is never sent
//! twice to a customer.

use crate::model::{ChatRequest, ChatResponse};
use crate::provider::{ChatProvider, EventStream, ProviderError};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use rand::Rng;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How often and how patiently one provider is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per provider, the first included (at least 1).
    pub max_attempts: u32,
    /// The pause after the first failure; it doubles after each further one.
    pub base: Duration,
    /// No pause is longer. A `Retry-After` longer than this is not waited for: the fallback is
    /// tried at once instead.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, base: Duration::from_millis(250), cap: Duration::from_secs(4) }
    }
}

impl RetryPolicy {
    /// The pause before trying again after failed attempt `attempt` (1-based), or `None` when
    /// this provider should not be tried again.
    pub fn pause(&self, attempt: u32, error: &ProviderError) -> Option<Duration> {
        if !error.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        if let Some(asked) = error.retry_after() {
            return (asked <= self.cap).then_some(asked);
        }
        let full = self.base.saturating_mul(1u32 << (attempt - 1).min(20)).min(self.cap);
        // "Equal jitter": half the pause is fixed, half random, so replicas do not retry in step.
        let half = full.as_millis() as u64 / 2;
        Some(Duration::from_millis(half + rand::thread_rng().gen_range(0..=half)))
    }
}

/// Whether a provider's final error is worth asking the fallback: passing faults, and answers
/// the primary garbled. A bad request or bad credentials would fail the same way there.
fn falls_back(e: &ProviderError) -> bool {
    e.is_retryable() || matches!(e, ProviderError::Malformed(_))
}

/// A primary provider, an optional fallback, and the retry policy for each.
#[derive(Clone)]
pub struct Resilient {
    primary: Arc<dyn ChatProvider>,
    fallback: Option<Arc<dyn ChatProvider>>,
    policy: RetryPolicy,
}

impl fmt::Debug for Resilient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resilient")
            .field("policy", &self.policy)
            .field("fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

impl Resilient {
    pub fn new(primary: Arc<dyn ChatProvider>, policy: RetryPolicy) -> Self {
        let policy = RetryPolicy { max_attempts: policy.max_attempts.max(1), ..policy };
        Self { primary, fallback: None, policy }
    }

    /// Tried (with the same policy) when the primary's last error was a passing fault.
    pub fn with_fallback(mut self, fallback: Arc<dyn ChatProvider>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    async fn run<T>(
        &self,
        call: impl Fn(Arc<dyn ChatProvider>) -> BoxFuture<'static, Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let providers = std::iter::once(("primary", &self.primary))
            .chain(self.fallback.iter().map(|f| ("fallback", f)))
            .collect::<Vec<_>>();
        let mut last: Option<ProviderError> = None;
        for (which, provider) in providers {
            if let Some(e) = &last {
                if !falls_back(e) {
                    break;
                }
                tracing::warn!(error = %e, "model call failed; trying the fallback model");
            }
            let mut attempt = 1;
            loop {
                let e = match call(provider.clone()).await {
                    Ok(value) => return Ok(value),
                    Err(e) => e,
                };
                let Some(pause) = self.policy.pause(attempt, &e) else {
                    last = Some(e);
                    break;
                };
                tracing::info!(error = %e, provider = which, attempt, pause_ms = pause.as_millis() as u64, "retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
        }
        Err(last.unwrap_or_else(|| ProviderError::Unavailable("no provider".into())))
    }
}

impl ChatProvider for Resilient {
    fn complete(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(self.run(move |provider| {
            let req = req.clone();
            Box::pin(async move { provider.complete(req).await })
        }))
    }

    fn stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(self.run(move |provider| {
            let req = req.clone();
            Box::pin(async move {
                let mut events = provider.stream(req).await?;
                match events.next().await {
                    Some(Ok(first)) => Ok(stream::once(async move { Ok(first) }).chain(events).boxed()),
                    Some(Err(e)) => Err(e),
                    None => Err(ProviderError::Unavailable("the stream ended without an answer".into())),
                }
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_respects_the_cap() {
        let p = RetryPolicy { max_attempts: 6, base: Duration::from_millis(100), cap: Duration::from_millis(500) };
        let down = ProviderError::Unavailable("503".into());
        for _ in 0..50 {
            let first = p.pause(1, &down).unwrap();
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = p.pause(3, &down).unwrap();
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            assert!(p.pause(5, &down).unwrap() <= p.cap);
        }
        assert_eq!(p.pause(6, &down), None, "attempts are bounded");
        assert_eq!(p.pause(1, &ProviderError::BadRequest("x".into())), None);
        let asked = |secs| ProviderError::RateLimited { retry_after: Some(Duration::from_millis(secs)) };
        assert_eq!(p.pause(1, &asked(300)), Some(Duration::from_millis(300)));
        assert_eq!(p.pause(1, &asked(900)), None, "longer than the cap: go to the fallback");
    }
}
