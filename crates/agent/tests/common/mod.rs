//! Helpers shared by the integration tests: short timeouts, a bound on every test, streams
//! collected into text.
#![allow(dead_code)]

use frontdesk_agent::testing::StandIn;
use frontdesk_agent::{
    ApiKey, ChatEvent, ChatMessage, ChatRequest, ChatResponse, EventStream, OpenAiCompatible, ProviderError, Timeouts,
};
use futures_util::StreamExt;
use std::future::Future;
use std::time::Duration;

/// No test may run longer than this, whatever the server does.
pub const TEST_LIMIT: Duration = Duration::from_secs(20);

pub fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(1),
        first_byte: Duration::from_millis(800),
        idle: Duration::from_millis(400),
        total: Duration::from_secs(2),
    }
}

pub fn provider(stand_in: &StandIn, model: &str, key: Option<&str>) -> OpenAiCompatible {
    OpenAiCompatible::new(&stand_in.base_url(), model, key.map(ApiKey::new), short_timeouts()).unwrap()
}

pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, f).await.expect("the test finished within its bound")
}

pub fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::system("You are the front desk of Studio Nord."), ChatMessage::user(text)])
}

/// What a stream delivered: the text, every event, the final answer and the error it ended with.
#[derive(Debug, Default)]
pub struct Collected {
    pub text: String,
    pub events: Vec<ChatEvent>,
    pub done: Option<ChatResponse>,
    pub error: Option<ProviderError>,
}

pub async fn collect(mut stream: EventStream) -> Collected {
    let mut out = Collected::default();
    while let Some(item) = stream.next().await {
        match item {
            Ok(ChatEvent::Done(answer)) => out.done = Some(answer),
            Ok(event) => {
                if let ChatEvent::Delta(text) = &event {
                    out.text.push_str(text);
                }
                out.events.push(event);
            }
            Err(e) => {
                assert!(out.error.is_none(), "nothing follows an error");
                out.error = Some(e);
            }
        }
    }
    out
}
