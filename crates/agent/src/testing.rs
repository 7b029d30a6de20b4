//! [`StandIn`]: a local OpenAI-compatible server for tests, built from the documented
//! chat-completions payloads (answers, streamed chunks, tool calls, usage, error bodies).
//!
//! Each request takes the next scripted [`Reply`] (then a per-model default, then the general
//! default), streamed or not as the request asks. Every request is recorded ([`Received`]) so a
//! test can check what was sent. Everything is bounded: a hung stream closes after
//! [`HANG_LIMIT`], and the server stops when the `StandIn` is dropped.
//!
//! It also answers `POST /v1/embeddings` (the documented list of `data[i].embedding` with
//! `index`): [`Reply::Text`] and [`Reply::ToolCall`] mean "answer normally", with deterministic
//! vectors derived from each input's text ([`StandIn::embedding_of`]); the error, delay, hang and
//! malformed replies behave as for chat. Like OpenAI it refuses an empty input string.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest a hung reply keeps its connection open.
pub const HANG_LIMIT: Duration = Duration::from_secs(30);

/// What the stand-in answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An answer (streamed as [`Shape::chunks`] pieces when the request streams).
    Text(String),
    /// A tool call; streamed, the arguments arrive in pieces across chunks.
    ToolCall { id: String, name: String, arguments: String },
    /// 200 with a body (or a stream chunk) that is not valid JSON.
    Malformed,
    /// 429 with `Retry-After: <secs>`.
    RateLimited { retry_after_secs: u64 },
    /// 500 with an OpenAI error body.
    ServerError,
    /// Any status with an OpenAI error body carrying `message`.
    Status { status: u16, message: String },
    /// Waits before answering (before the response headers).
    Delayed { by: Duration, then: Box<Reply> },
    /// Sends the first chunk of the text, then nothing until [`HANG_LIMIT`].
    HangAfterFirstChunk(String),
    /// Sends the first chunk of the text, then breaks the connection.
    CloseMidStream(String),
}

/// How streamed answers are cut and paced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Pieces the text (or tool arguments) is cut into.
    pub chunks: usize,
    /// Pause before each event after the first.
    pub chunk_delay: Duration,
    /// End lines with CRLF instead of LF.
    pub crlf: bool,
    /// Start with a `: keep-alive` comment line.
    pub comments: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Self { chunks: 3, chunk_delay: Duration::ZERO, crlf: false, comments: true }
    }
}

/// How embeddings are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingShape {
    /// Length of every vector, unless the request asks for `dimensions`.
    pub dimensions: usize,
    /// List the vectors last input first (each still carries its `index`).
    pub reverse_order: bool,
}

impl Default for EmbeddingShape {
    fn default() -> Self {
        Self { dimensions: 8, reverse_order: false }
    }
}

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn model(&self) -> &str {
        self.body["model"].as_str().unwrap_or_default()
    }

    pub fn streamed(&self) -> bool {
        self.body["stream"].as_bool().unwrap_or(false)
    }
}

struct Script {
    queue: VecDeque<Reply>,
    per_model: HashMap<String, Reply>,
    default: Reply,
    shape: Shape,
    embedding: EmbeddingShape,
}

struct Shared {
    script: Mutex<Script>,
    received: Mutex<Vec<Received>>,
}

/// A running stand-in on `127.0.0.1` (random port).
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StandIn {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                queue: VecDeque::new(),
                per_model: HashMap::new(),
                default: Reply::Text("Hello from the stand-in.".into()),
                shape: Shape::default(),
                embedding: EmbeddingShape::default(),
            }),
            received: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(chat))
            .route("/v1/embeddings", axum::routing::post(embeddings))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "Unknown path.", "invalid_request_error") })
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        // No Nagle: streamed chunks go out at once, as a model server's would.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, server }
    }

    /// `http://127.0.0.1:<port>/v1`, the base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The reply to the next request not yet scripted (first in, first out).
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).queue.push_back(reply);
    }

    /// The reply when nothing is queued (initially a short text).
    pub fn always(&self, reply: Reply) {
        lock(&self.shared.script).default = reply;
    }

    /// The reply for requests naming `model` when nothing is queued.
    pub fn always_for_model(&self, model: &str, reply: Reply) {
        lock(&self.shared.script).per_model.insert(model.to_owned(), reply);
    }

    pub fn set_shape(&self, shape: Shape) {
        lock(&self.shared.script).shape = shape;
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    pub fn set_embedding_shape(&self, shape: EmbeddingShape) {
        lock(&self.shared.script).embedding = shape;
    }

    /// The vector the stand-in returns for `text` (deterministic, not normalised, values in
    /// `[-1, 1)`).
    pub fn embedding_of(text: &str, dimensions: usize) -> Vec<f32> {
        // FNV-1a of the text, then SplitMix64 per component.
        let seed =
            text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        (0..dimensions as u64)
            .map(|i| {
                let mut z = seed.wrapping_add((i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
            })
            .collect()
    }
}

/// Records a request and takes its reply (queued, then per model, then the default).
fn receive(shared: &Shared, path: &str, headers: HeaderMap, body: Bytes) -> (Received, Reply, Shape, EmbeddingShape) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let headers = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let received = Received { path: path.into(), headers, body };
    lock(&shared.received).push(received.clone());
    let mut script = lock(&shared.script);
    let reply = match script.queue.pop_front() {
        Some(r) => r,
        None => script.per_model.get(received.model()).unwrap_or(&script.default).clone(),
    };
    (received, reply, script.shape.clone(), script.embedding.clone())
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (received, reply, shape, _) = receive(&shared, "/v1/chat/completions", headers, body);
    answer(reply, received, shape).await
}

async fn embeddings(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (received, reply, shape, embedding) = receive(&shared, "/v1/embeddings", headers, body);
    embeddings_answer(reply, received, shape, embedding).await
}

fn embeddings_answer(
    reply: Reply,
    req: Received,
    shape: Shape,
    embedding: EmbeddingShape,
) -> BoxFuture<'static, Response> {
    Box::pin(async move {
        match reply {
            Reply::Delayed { by, then } => {
                tokio::time::sleep(by).await;
                embeddings_answer(*then, req, shape, embedding).await
            }
            Reply::Text(_) | Reply::ToolCall { .. } => embedding_list(&req, &embedding),
            other => answer(other, req, shape).await,
        }
    })
}

/// The list of embeddings for the request's `input` (one string or an array of them).
fn embedding_list(req: &Received, shape: &EmbeddingShape) -> Response {
    let inputs: Vec<String> = match &req.body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect(),
        _ => return error(StatusCode::BAD_REQUEST, "'input' is a required property", "invalid_request_error"),
    };
    if inputs.is_empty() || inputs.iter().any(String::is_empty) {
        let message =
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";
        return error(StatusCode::BAD_REQUEST, message, "invalid_request_error");
    }
    let dimensions = req.body["dimensions"].as_u64().map_or(shape.dimensions, |d| d as usize);
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": StandIn::embedding_of(text, dimensions)}))
        .collect();
    if shape.reverse_order {
        data.reverse();
    }
    let tokens: u32 = inputs.iter().map(|t| words(t)).sum();
    axum::Json(json!({
        "object": "list", "data": data, "model": req.model(),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

fn words(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

fn usage(req: &Received, completion: u32) -> Value {
    let messages = req.body["messages"].as_array().cloned().unwrap_or_default();
    let prompt: u32 = messages.iter().map(|m| words(m["content"].as_str().unwrap_or_default())).sum();
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn answer(reply: Reply, req: Received, shape: Shape) -> BoxFuture<'static, Response> {
    Box::pin(async move {
        match reply {
            Reply::Delayed { by, then } => {
                tokio::time::sleep(by).await;
                answer(*then, req, shape).await
            }
            Reply::ServerError => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error while processing your request.",
                "server_error",
            ),
            Reply::RateLimited { retry_after_secs } => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached for requests.", "requests");
                r.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
                r
            }
            Reply::Status { status, message } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                error(status, &message, "invalid_request_error")
            }
            Reply::Malformed if !req.streamed() => {
                ([(header::CONTENT_TYPE, "application/json")], "{\"id\":\"chatcmpl-standin\",\"choices\":[{\"mess")
                    .into_response()
            }
            other if req.streamed() => streamed(other, &req, shape),
            Reply::Text(text) => whole(&req, json!({"role": "assistant", "content": text}), "stop", words(&text)),
            Reply::ToolCall { id, name, arguments } => {
                let call = json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
                whole(&req, json!({"role": "assistant", "content": null, "tool_calls": [call]}), "tool_calls", 5)
            }
            Reply::HangAfterFirstChunk(_) | Reply::CloseMidStream(_) | Reply::Malformed => {
                let broken = matches!(reply, Reply::CloseMidStream(_));
                let first = "{\"id\":\"chatcmpl-standin\",\"object\":\"chat.completion\",".to_owned();
                body_of(vec![first], shape, if broken { End::Break } else { End::Hang }, "application/json")
            }
        }
    })
}

fn whole(req: &Received, message: Value, finish_reason: &str, completion: u32) -> Response {
    axum::Json(json!({
        "id": "chatcmpl-standin", "object": "chat.completion", "created": 1_718_000_000,
        "model": req.model(), "system_fingerprint": "fp_standin",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage(req, completion),
    }))
    .into_response()
}

/// Cuts `text` into `n` pieces on character boundaries (at least one piece).
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    let mut out: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

enum End {
    Close,
    Hang,
    Break,
}

fn streamed(reply: Reply, req: &Received, shape: Shape) -> Response {
    let model = req.model().to_owned();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1_718_000_000,
            "model": model, "system_fingerprint": "fp_standin",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        .to_string()
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    let (finish, completion, end) = match &reply {
        Reply::Text(text) | Reply::HangAfterFirstChunk(text) | Reply::CloseMidStream(text) => {
            let parts = pieces(text, shape.chunks);
            let end = match reply {
                Reply::HangAfterFirstChunk(_) => End::Hang,
                Reply::CloseMidStream(_) => End::Break,
                _ => End::Close,
            };
            let take = if matches!(end, End::Close) { parts.len() } else { 1 };
            events.extend(parts.iter().take(take).map(|p| chunk(json!({"content": p}), Value::Null)));
            ("stop", words(text), end)
        }
        Reply::ToolCall { id, name, arguments } => {
            let head = json!({"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}});
            events.push(chunk(json!({"tool_calls": [head]}), Value::Null));
            for part in pieces(arguments, shape.chunks) {
                let frag = json!({"index": 0, "function": {"arguments": part}});
                events.push(chunk(json!({"tool_calls": [frag]}), Value::Null));
            }
            ("tool_calls", 5, End::Close)
        }
        _ => {
            events.push("{\"id\":\"chatcmpl-standin\",\"choices\":[{\"delta\":{\"content\":".into());
            ("stop", 0, End::Close)
        }
    };
    if matches!(end, End::Close) {
        events.push(chunk(json!({}), json!(finish)));
        if req.body["stream_options"]["include_usage"] == json!(true) {
            let last = json!({"id": "chatcmpl-standin", "object": "chat.completion.chunk",
                "created": 1_718_000_000, "model": model, "choices": [], "usage": usage(req, completion)});
            events.push(last.to_string());
        }
        events.push("[DONE]".into());
    }
    let nl = if shape.crlf { "\r\n" } else { "\n" };
    let mut frames: Vec<String> = events.into_iter().map(|e| format!("data: {e}{nl}{nl}")).collect();
    if shape.comments {
        frames.insert(0, format!(": keep-alive{nl}{nl}"));
    }
    body_of(frames, shape, end, "text/event-stream")
}

/// A body that sends `frames` with the shape's pacing, then ends as `end` says.
fn body_of(frames: Vec<String>, shape: Shape, end: End, content_type: &'static str) -> Response {
    let state = (VecDeque::from(frames), true, Some(end));
    let stream = futures_util::stream::unfold(state, move |(mut frames, first, end)| async move {
        if let Some(frame) = frames.pop_front() {
            if !first && !shape.chunk_delay.is_zero() {
                tokio::time::sleep(shape.chunk_delay).await;
            }
            return Some((Ok(frame), (frames, false, end)));
        }
        match end? {
            End::Close => None,
            End::Hang => {
                tokio::time::sleep(HANG_LIMIT).await;
                None
            }
            End::Break => {
                // Pending first, so the server flushes what was sent before the connection breaks.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Err(std::io::Error::other("stand-in breaks the connection")), (frames, false, None)))
            }
        }
    });
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(stream))
        .into_response()
}
