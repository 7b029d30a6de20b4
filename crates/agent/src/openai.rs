//! [`OpenAiCompatible`]: the chat-completions API (`POST {base_url}/chat/completions`) spoken by
//! OpenAI, vLLM, Ollama and the llama.cpp server.
//!
//! Timeouts ([`Timeouts`]): `connect` for the TCP/TLS connection; `first_byte` for the response
//! headers of a stream; `idle` between two chunks of a stream; `total` for the whole call,
//! streamed or not (a non-streamed answer's headers come with the finished answer, so only
//! `total` bounds it). A hung server therefore ends in [`ProviderError::Timeout`], never a hang.

pub mod embeddings;
mod sse;
mod wire;

pub use embeddings::OpenAiEmbeddings;

use crate::model::{ChatEvent, ChatRequest, ChatResponse};
use crate::provider::{ChatProvider, EventStream, ProviderError};
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use sse::{Assembler, ChunkError, Payload, SseLines};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::timeout;

/// A non-streamed answer or an error body larger than this is refused.
const MAX_BODY: usize = 8 << 20;
/// Provider error texts we keep are cut to this many characters.
const MAX_ERROR_TEXT: usize = 300;

/// A provider's API key in clear, only ever in memory. `Debug` does not show it.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(Arc::from(key.into()))
    }

    /// The key itself, for the `Authorization` header.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

/// How long each part of a call may take (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(30),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(120),
        }
    }
}

/// One model behind an OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiCompatible {
    http: reqwest::Client,
    endpoint: String,
    model: String,
    key: Option<ApiKey>,
    timeouts: Timeouts,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "redacted"))
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl OpenAiCompatible {
    /// A provider with its own HTTP client. `base_url` is like `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1`; `key` is `None` for servers that need none (Ollama, llama.cpp).
    pub fn new(
        base_url: &str,
        model: impl Into<String>,
        key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Result<Self, ProviderError> {
        Ok(Self::with_client(Self::http_client(timeouts.connect)?, base_url, model, key, timeouts))
    }

    /// A provider on a shared client (one connection pool for many tenants); the client's own
    /// connect timeout applies instead of `timeouts.connect`.
    pub fn with_client(
        http: reqwest::Client,
        base_url: &str,
        model: impl Into<String>,
        key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Self {
        let endpoint = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        Self { http, endpoint, model: model.into(), key, timeouts }
    }

    /// An HTTP client fit for model calls, to share between providers.
    pub fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, ProviderError> {
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ProviderError::Unavailable(format!("http client: {e}")))
    }

    /// The configured model (a request may override it).
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Provider text made safe to keep: the key removed, the length bounded.
    fn scrub(&self, text: String) -> String {
        scrub(self.key.as_ref(), text)
    }

    async fn send(&self, req: &ChatRequest, stream: bool) -> Result<(reqwest::Response, String), ProviderError> {
        let model = req.model.clone().filter(|m| !m.trim().is_empty()).unwrap_or_else(|| self.model.clone());
        let mut call = self
            .http
            .post(&self.endpoint)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, if stream { "text/event-stream" } else { "application/json" })
            .body(wire::request_body(req, &model, stream));
        if let Some(key) = &self.key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.reveal())).map_err(|_| ProviderError::Auth)?;
            value.set_sensitive(true);
            call = call.header(AUTHORIZATION, value);
        }
        let response = call.send().await.map_err(|e| self.scrub_error(transport(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok((response, model));
        }
        let retry_after = retry_after(response.headers());
        let body = read_body(response).await.unwrap_or_default();
        let message = self.scrub(wire::error_message(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16())));
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited { retry_after },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Auth,
            StatusCode::REQUEST_TIMEOUT => ProviderError::Timeout,
            s if s.is_server_error() => ProviderError::Unavailable(format!("HTTP {}: {message}", s.as_u16())),
            s => ProviderError::BadRequest(format!("HTTP {}: {message}", s.as_u16())),
        })
    }

    fn scrub_error(&self, e: ProviderError) -> ProviderError {
        match e {
            ProviderError::Unavailable(m) => ProviderError::Unavailable(self.scrub(m)),
            ProviderError::BadRequest(m) => ProviderError::BadRequest(self.scrub(m)),
            ProviderError::Malformed(m) => ProviderError::Malformed(self.scrub(m)),
            other => other,
        }
    }
}

fn scrub(key: Option<&ApiKey>, mut text: String) -> String {
    if let Some(key) = key.filter(|k| !k.reveal().is_empty()) {
        if text.contains(key.reveal()) {
            text = text.replace(key.reveal(), "[redacted]");
        }
    }
    if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_TEXT) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// What went wrong on the wire, without the URL (which some deployments use for credentials).
fn transport(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        return ProviderError::Timeout;
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke during the answer"
    } else {
        "request failed"
    };
    let mut detail = String::from(what);
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    ProviderError::Unavailable(detail)
}

/// `Retry-After` in seconds (an HTTP date is ignored), or OpenAI's `retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name| -> Option<f64> {
        let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v.min(86_400.0 * 1000.0))
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number(RETRY_AFTER.as_str()).map(|s| Duration::from_secs_f64(s.min(86_400.0))))
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ProviderError::Malformed("response body too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl ChatProvider for OpenAiCompatible {
    fn complete(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            let started = Instant::now();
            let call = async {
                let (response, model) = self.send(&req, false).await?;
                let body = read_body(response).await.map_err(|e| self.scrub_error(e))?;
                wire::parse_completion(&body, &model).map_err(|m| ProviderError::Malformed(self.scrub(m)))
            };
            let mut answer = timeout(self.timeouts.total, call).await.map_err(|_| ProviderError::Timeout)??;
            answer.provider_latency_ms = started.elapsed().as_millis() as u64;
            Ok(answer)
        })
    }

    fn stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let started = Instant::now();
            let first_byte = self.timeouts.first_byte.min(self.timeouts.total);
            let (response, model) =
                timeout(first_byte, self.send(&req, true)).await.map_err(|_| ProviderError::Timeout)??;
            let state = StreamState {
                body: response.bytes_stream().boxed(),
                lines: SseLines::default(),
                answer: Assembler::new(model),
                queue: VecDeque::new(),
                ended: false,
                started,
                deadline: started + self.timeouts.total,
                idle: self.timeouts.idle,
                key: self.key.clone(),
            };
            Ok(futures_util::stream::unfold(state, next_event).boxed())
        })
    }
}

/// `bytes::Bytes`, named through axum's re-export (no extra dependency).
type Bytes = reqwest::Result<axum::body::Bytes>;

struct StreamState {
    body: BoxStream<'static, Bytes>,
    lines: SseLines,
    answer: Assembler,
    queue: VecDeque<Result<ChatEvent, ProviderError>>,
    /// Nothing more will be read: `[DONE]`, the end of the body, or an error.
    ended: bool,
    started: Instant,
    deadline: Instant,
    idle: Duration,
    key: Option<ApiKey>,
}

async fn next_event(mut s: StreamState) -> Option<(Result<ChatEvent, ProviderError>, StreamState)> {
    loop {
        if let Some(item) = s.queue.pop_front() {
            return Some((item, s));
        }
        if s.ended {
            return None;
        }
        s.read().await;
    }
}

impl StreamState {
    /// Reads one piece of the body and queues what it carries.
    async fn read(&mut self) {
        let wait = self.idle.min(self.deadline.saturating_duration_since(Instant::now()));
        let mut payloads = Vec::new();
        let at_end = match timeout(wait, self.body.next()).await {
            Err(_) => return self.fail(ProviderError::Timeout),
            Ok(Some(Err(e))) => return self.fail(transport(e)),
            Ok(Some(Ok(bytes))) => {
                if let Err(m) = self.lines.push(bytes.as_ref(), &mut payloads) {
                    return self.fail(ProviderError::Malformed(m));
                }
                false
            }
            Ok(None) => {
                if let Err(m) = self.lines.finish(&mut payloads) {
                    return self.fail(ProviderError::Malformed(m));
                }
                true
            }
        };
        let mut events = Vec::new();
        for payload in payloads {
            let data = match payload {
                Payload::Done => return self.done(events),
                Payload::Data(data) => data,
            };
            match self.answer.chunk(&data, &mut events) {
                Ok(()) => {}
                Err(ChunkError::Server(m)) => return self.fail_after(events, ProviderError::Unavailable(m)),
                Err(ChunkError::Malformed(m)) => return self.fail_after(events, ProviderError::Malformed(m)),
            }
        }
        if at_end && self.answer.saw_finish() {
            // Some servers close after the last chunk without `[DONE]`.
            return self.done(events);
        }
        self.queue.extend(events.into_iter().map(Ok));
        if at_end {
            self.fail(ProviderError::Unavailable("the stream ended before the answer was complete".into()));
        }
    }

    fn done(&mut self, events: Vec<ChatEvent>) {
        self.queue.extend(events.into_iter().map(Ok));
        let answer = self.answer.finish(self.started.elapsed().as_millis() as u64);
        self.queue.push_back(Ok(ChatEvent::Done(answer)));
        self.ended = true;
    }

    fn fail_after(&mut self, events: Vec<ChatEvent>, e: ProviderError) {
        self.queue.extend(events.into_iter().map(Ok));
        self.fail(e);
    }

    fn fail(&mut self, e: ProviderError) {
        let e = match e {
            ProviderError::Unavailable(m) => ProviderError::Unavailable(scrub(self.key.as_ref(), m)),
            ProviderError::Malformed(m) => ProviderError::Malformed(scrub(self.key.as_ref(), m)),
            other => other,
        };
        self.queue.push_back(Err(e));
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn scrub_hides_the_key_and_bounds_text() {
        let key = ApiKey::new("sk-secret-123");
        assert_eq!(scrub(Some(&key), "bad key sk-secret-123!".into()), "bad key [redacted]!");
        assert_eq!(scrub(None, "x".repeat(1000)).chars().count(), MAX_ERROR_TEXT + 1);
        assert_eq!(format!("{key:?}"), "ApiKey(redacted)");
    }
}
