//! The conversation pipeline and the web chat (issue 4), end to end: the real app on a random
//! port, the tenant's model played by the OpenAI-compatible stand-in, SQLite and PostgreSQL.
//!
//! - [`streaming`]: streamed answers, the model's handoff tool, and every kind of model failure
//!   (retries, the fallback model, the delay and handoff notices).
//! - [`durability`]: a process killed mid-turn, ordering inside a conversation, parallel
//!   conversations.
//! - [`tenancy`]: tenant confusion and secrets, CORS, rate limits, idempotent re-sends.
//! - [`handoff`]: staff take over, reply and hand back.
//!
//! The helpers below speak the public API as the widget does and the staff API as the inbox does.

mod durability;
mod handoff;
mod streaming;
mod tenancy;

use crate::harness::{TenantCtx, TestApp};
use frontdesk::config::Config;
use frontdesk_agent::testing::StandIn;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Short pipeline pauses and no limits in the way: failed turns are retried after 200 ms, and the
/// second attempt is the last (then the customer is handed to staff).
pub fn fast(c: &mut Config) {
    c.chat_turn_attempts = 2;
    c.chat_retry_base_ms = 200;
    c.chat_reply_wait_ms = 20_000;
    c.chat_limit_per_ip = 1_000_000;
    c.chat_limit_per_visitor = 1_000_000;
    c.webhooks_allow_private = true;
    c.embedding_provider = "off".into();
}

/// Points the tenant's assistant at the stand-in (`model` "primary"), with `extra` settings
/// (fallback, timeouts, retries) merged in; returns the settings as the API shows them.
pub async fn use_model(app: &TestApp, t: &TenantCtx, model: &StandIn, extra: Value) -> Value {
    use_model_at(&app.client, &app.url, t, &model.base_url(), extra).await
}

/// [`use_model`] for an app known only by its address.
pub async fn use_model_at(
    client: &reqwest::Client,
    app_url: &str,
    t: &TenantCtx,
    base_url: &str,
    extra: Value,
) -> Value {
    let mut body = json!({"base_url": base_url, "model": "primary"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let res = client
        .put(format!("{app_url}/api/v1/assistant/model"))
        .bearer_auth(&t.access_token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status();
    let view: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "model settings: {view}");
    view
}

/// Replaces the tenant's assistant settings (`settings` is merged over the defaults).
pub async fn put_settings(app: &TestApp, t: &TenantCtx, settings: Value) {
    let res = app
        .client
        .put(app.at("/api/v1/assistant/settings"))
        .bearer_auth(&t.access_token)
        .json(&json!({ "settings": settings }))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "assistant settings: {}", res.text().await.unwrap_or_default());
}

/// `POST /api/v1/public/chat?tenant=slug`: the status and the JSON body.
pub async fn chat(app: &TestApp, slug: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.at("/api/v1/public/chat"))
        .query(&[("tenant", slug)])
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Sends a message that must be accepted; returns the answer.
pub async fn say(app: &TestApp, slug: &str, token: Option<&str>, text: &str) -> Value {
    let (status, body) = chat(app, slug, json!({"message": text, "visitor_token": token})).await;
    assert_eq!(status, 200, "chat: {body}");
    body
}

/// `GET /api/v1/public/history` as the visitor with `token`.
pub async fn history(app: &TestApp, slug: &str, token: &str) -> Value {
    let res = app
        .client
        .get(app.at("/api/v1/public/history"))
        .query(&[("tenant", slug)])
        .header("x-visitor-token", token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "history");
    res.json().await.expect("json")
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// The events of a finished `text/event-stream` body (comments skipped).
pub fn parse_events(text: &str) -> Vec<Event> {
    text.split("\n\n").filter_map(parse_block).collect()
}

fn parse_block(block: &str) -> Option<Event> {
    let mut name = None;
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event: ") {
            name = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push_str(v);
        }
    }
    Some(Event { name: name?, data: serde_json::from_str(&data).ok()? })
}

/// `POST /api/v1/public/chat/stream` read to its end.
pub async fn stream(app: &TestApp, slug: &str, body: Value) -> Vec<Event> {
    let res = app
        .client
        .post(app.at("/api/v1/public/chat/stream"))
        .query(&[("tenant", slug)])
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "stream");
    parse_events(&res.text().await.expect("body"))
}

/// The events named `name`, in order.
pub fn named<'a>(events: &'a [Event], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e.name == name).map(|e| &e.data).collect()
}

/// A live event stream read as it arrives.
pub struct Live {
    response: reqwest::Response,
    buffer: String,
}

impl Live {
    pub fn new(response: reqwest::Response) -> Self {
        Self { response, buffer: String::new() }
    }

    /// The next event, or `None` when the stream ends or nothing comes before `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Option<Event> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    return Some(event);
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Reads until an event satisfies `wanted` (which it returns), or panics at `deadline`.
    pub async fn until(&mut self, deadline: Instant, wanted: impl Fn(&Event) -> bool) -> Event {
        while let Some(event) = self.next(deadline).await {
            if wanted(&event) {
                return event;
            }
        }
        panic!("the expected live event did not arrive in time");
    }
}

/// The messages of a conversation as staff see them (oldest first, with traces and `reply_to`).
pub async fn staff_messages(app: &TestApp, token: &str, conversation: &str) -> Vec<Value> {
    let v = app.get_json(&format!("/api/v1/conversations/{conversation}/messages?limit=200"), token).await;
    v.as_array().cloned().unwrap_or_else(|| panic!("messages: {v}"))
}

/// A conversation as staff see it.
pub async fn staff_conversation(app: &TestApp, token: &str, conversation: &str) -> Value {
    app.get_json(&format!("/api/v1/conversations/{conversation}"), token).await["conversation"].clone()
}

/// Polls the staff messages until `done` holds; panics with the last messages at the deadline.
pub async fn messages_until(
    app: &TestApp,
    token: &str,
    conversation: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let messages = staff_messages(app, token, conversation).await;
        if done(&messages) {
            return messages;
        }
        if Instant::now() >= deadline {
            panic!("conversation {conversation} did not reach the expected state: {messages:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Messages by one author.
pub fn by<'a>(messages: &'a [Value], author: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["author"] == author).collect()
}

/// The agent's replies to the customer message `id`.
pub fn replies_to<'a>(messages: &'a [Value], id: &Value) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["author"] == "agent" && &m["reply_to"] == id).collect()
}

/// The system notice that says the answer is delayed.
pub fn is_delay_notice(m: &Value) -> bool {
    m["author"] == "system" && m["text"].as_str().is_some_and(|t| t.contains("taking a little longer"))
}

/// The system notice that says the team takes over.
pub fn is_handoff_notice(m: &Value) -> bool {
    m["author"] == "system" && m["text"].as_str().is_some_and(|t| t.contains("passed your conversation to the team"))
}

/// The texts of the chat messages the stand-in received in request `n` (role and content).
pub fn prompt_of(model: &StandIn, n: usize) -> Vec<(String, String)> {
    let received = model.received();
    let request = received.get(n).unwrap_or_else(|| panic!("the model received no request {n}"));
    request.body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    (
                        m["role"].as_str().unwrap_or_default().to_owned(),
                        m["content"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a response is RFC 9457 problem+json with `status`.
pub async fn assert_problem(res: reqwest::Response, status: u16, what: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "{what}");
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("application/problem+json"), "{what}: content type {content_type}");
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["status"], status, "{what}: {body}");
    body
}
