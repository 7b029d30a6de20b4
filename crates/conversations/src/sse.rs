//! Server-sent events, written by hand: a producer task writes events into a bounded channel that
//! is the response body; a ping comment after 15 s of silence keeps proxies from closing an idle
//! stream, and both stop as soon as the client goes away (or the producer is done).

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

const PING_EVERY: Duration = Duration::from_secs(15);

/// Where a producer writes its events.
#[derive(Clone)]
pub struct SseOut(mpsc::Sender<Bytes>);

impl SseOut {
    /// Sends one encoded event; false once the client has gone.
    pub async fn send(&self, chunk: Bytes) -> bool {
        self.0.send(chunk).await.is_ok()
    }
}

/// One event: `event: <name>`, optional `id:`, the JSON data on one line.
pub fn event(name: &str, data: &impl serde::Serialize, id: Option<&str>) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    let mut s = String::with_capacity(json.len() + name.len() + 32);
    s.push_str("event: ");
    s.push_str(name);
    s.push('\n');
    if let Some(id) = id {
        s.push_str("id: ");
        s.push_str(id);
        s.push('\n');
    }
    s.push_str("data: ");
    s.push_str(&json);
    s.push_str("\n\n");
    Bytes::from(s)
}

/// A `text/event-stream` response fed by `produce`; the stream ends when `produce` returns (and
/// drops its [`SseOut`]), and `produce` is aborted when the client disconnects.
pub fn stream<F, Fut>(produce: F) -> Response
where
    F: FnOnce(SseOut) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    stream_pinging(produce, PING_EVERY)
}

fn stream_pinging<F, Fut>(produce: F, ping_every: Duration) -> Response
where
    F: FnOnce(SseOut) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let producer = tokio::spawn(produce(SseOut(tx)));
    // The pings are part of the body: no task or timer outlives the stream (a short chat answer
    // is over long before the first ping would be due).
    let body = futures_util::stream::unfold((rx, Guard(producer)), move |(mut rx, guard)| async move {
        let chunk = match tokio::time::timeout(ping_every, rx.recv()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return None,
            Err(_) => Bytes::from_static(b": ping\n\n"),
        };
        Some((Ok::<_, std::convert::Infallible>(chunk), (rx, guard)))
    });
    let mut response = Body::from_stream(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Aborts the producer when the response body is dropped (the client went away).
struct Guard(tokio::task::JoinHandle<()>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pings_fill_silences_and_the_body_ends_with_the_producer() {
        let response = stream_pinging(
            |out| async move {
                out.send(event("first", &serde_json::json!({"n": 1}), Some("a"))).await;
                tokio::time::sleep(Duration::from_millis(120)).await;
                out.send(event("second", &serde_json::json!({"n": 2}), None)).await;
            },
            Duration::from_millis(40),
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        let body = tokio::time::timeout(Duration::from_secs(5), axum::body::to_bytes(response.into_body(), 1 << 20))
            .await
            .expect("the body ends when the producer is done")
            .expect("body");
        let text = String::from_utf8_lossy(&body);
        let first = "event: first\nid: a\ndata: {\"n\":1}\n\n";
        let second = "event: second\ndata: {\"n\":2}\n\n";
        assert!(text.starts_with(first) && text.ends_with(second), "{text}");
        let between = &text[first.len()..text.len() - second.len()];
        assert!(!between.is_empty() && between.split_terminator("\n\n").all(|p| p == ": ping"), "{text}");
    }
}
