//! Two replicas on one PostgreSQL database and one Redis: a live update published on one replica
//! reaches a client streaming from the other (the web chat's `/events` and the staff inbox).

use crate::harness::{Backend, TestApp};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Both replicas of one deployment share the master secret (visitor tokens are sealed with it).
const SHARED_SECRET: &str = "replica-test-secret-0123456789abcdef-0123456789";

/// Reads an SSE stream until an event named `name` whose data contains `needle`, or the deadline.
async fn wait_for_event(response: reqwest::Response, name: &str, needle: &str, within: Duration) -> Option<String> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await.ok()??.ok()?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let is_named = block.lines().any(|l| l == format!("event: {name}"));
            if is_named && block.contains(needle) {
                return Some(block);
            }
        }
    }
}

#[tokio::test]
async fn live_updates_cross_replicas_through_redis() {
    let a = TestApp::spawn_with(Backend::Postgres, |c| {
        c.redis_url = Some(REDIS_URL.into());
        c.secret_key = Some(SHARED_SECRET.into());
    })
    .await;
    let shared_db = a.config.database_url.clone();
    let b = TestApp::spawn_with(Backend::Postgres, |c| {
        c.database_url = shared_db;
        c.redis_url = Some(REDIS_URL.into());
        c.secret_key = Some(SHARED_SECRET.into());
    })
    .await;
    let t = a.tenant("Replica Studio").await;

    // A visitor writes through replica A…
    let first: Value = a
        .client
        .post(a.at(&format!("/api/v1/public/chat?tenant={}", t.slug)))
        .json(&json!({"message": "Hello there, is anyone around?"}))
        .send()
        .await
        .expect("chat")
        .json()
        .await
        .expect("json");
    let token = first["visitor_token"].as_str().expect("token").to_owned();
    let conversation = first["conversation_id"].as_str().expect("conversation").to_owned();

    // …and listens on replica B; staff watch the inbox on B too.
    let events = b
        .client
        .get(b.at(&format!("/api/v1/public/events?tenant={}", t.slug)))
        .header("x-visitor-token", &token)
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 200);
    let inbox = b
        .client
        .get(b.at("/api/v1/conversations/events"))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("inbox events");
    assert_eq!(inbox.status(), 200);
    // Give both subscriptions a moment to be registered with Redis.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Staff reply through replica A.
    let reply = a
        .client
        .post(a.at(&format!("/api/v1/conversations/{conversation}/messages")))
        .bearer_auth(&t.access_token)
        .json(&json!({"text": "Hi! Mara from the front desk here."}))
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap_or_default());

    let (seen_by_visitor, seen_by_staff) = tokio::join!(
        wait_for_event(events, "message", "Mara from the front desk", Duration::from_secs(10)),
        wait_for_event(inbox, "changed", &conversation, Duration::from_secs(10)),
    );
    assert!(seen_by_visitor.is_some(), "the visitor on replica B did not get the staff reply sent on replica A");
    assert!(seen_by_staff.is_some(), "the inbox on replica B did not hear of the change made on replica A");

    b.stop().await;
    a.stop().await;
}
