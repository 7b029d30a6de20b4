//! `OpenAiCompatible` against the stand-in: what we send, what we understand, how we fail.

mod common;

use common::{ask, bounded, collect, provider, short_timeouts};
use frontdesk_agent::testing::{Reply, Shape, StandIn};
use frontdesk_agent::{
    ChatEvent, ChatProvider, FinishReason, OpenAiCompatible, ProviderError, ResponseFormat, ToolChoice, ToolSpec, Usage,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test]
async fn text_answer_with_usage() {
    let s = StandIn::start().await;
    s.push(Reply::Text("We open at seven tomorrow.".into()));
    let answer = bounded(provider(&s, "gpt-4o-mini", None).complete(ask("When do you open?"))).await.unwrap();
    assert_eq!(answer.content, "We open at seven tomorrow.");
    assert_eq!(answer.finish_reason, FinishReason::Stop);
    assert_eq!(answer.model, "gpt-4o-mini");
    // The stand-in counts words: 8 + 4 in, 5 out.
    assert_eq!(answer.usage, Usage { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    let sent = &s.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None, "keyless servers get no Authorization header");
    assert_eq!(sent.body["messages"][1], json!({"role": "user", "content": "When do you open?"}));
    assert!(!sent.streamed());
}

#[tokio::test]
async fn streaming_concatenation_equals_the_whole_answer() {
    let s = StandIn::start().await;
    s.set_shape(Shape { chunks: 5, chunk_delay: Duration::from_millis(5), crlf: true, comments: true });
    let text = "Your trial class is on Monday at 18:00 — bring a towel. Grüße!";
    s.always(Reply::Text(text.into()));
    let p = provider(&s, "llama3.2", None);
    let whole = bounded(p.complete(ask("trial?"))).await.unwrap();
    let streamed = bounded(async { collect(p.stream(ask("trial?")).await.unwrap()).await }).await;
    assert_eq!(streamed.error, None);
    assert_eq!(streamed.text, whole.content);
    assert_eq!(streamed.events.len(), 5, "one event per content chunk, none for the empty role chunk");
    let done = streamed.done.unwrap();
    assert_eq!(done.content, text);
    assert_eq!(done.usage, whole.usage, "the final usage chunk is read");
    let sent = &s.received()[1];
    assert!(sent.streamed());
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
}

fn booking_tool() -> ToolSpec {
    ToolSpec {
        name: "book_class".into(),
        description: "Books a class for the member.".into(),
        parameters: json!({"type": "object", "properties": {"class": {"type": "string"}, "at": {"type": "string"}},
            "required": ["class", "at"]}),
    }
}

#[tokio::test]
async fn tool_call_assembled_from_fragments() {
    let s = StandIn::start().await;
    s.set_shape(Shape { chunks: 6, ..Shape::default() });
    let arguments = r#"{"class":"Vinyasa Yoga","at":"2025-03-03T18:00:00+01:00"}"#;
    s.always(Reply::ToolCall { id: "call_7Xk".into(), name: "book_class".into(), arguments: arguments.into() });
    let mut req = ask("Book me into yoga on Monday at six.");
    req.tools.push(booking_tool());
    req.tool_choice = ToolChoice::Required;
    let p = provider(&s, "gpt-4o-mini", None);

    let streamed = bounded(async { collect(p.stream(req.clone()).await.unwrap()).await }).await;
    let fragments = streamed.events.iter().filter(|e| matches!(e, ChatEvent::ToolCallDelta { .. })).count();
    assert!(fragments >= 6, "the arguments came in pieces ({fragments})");
    let done = streamed.done.unwrap();
    assert_eq!(done.finish_reason, FinishReason::ToolCalls);
    assert_eq!(done.tool_calls.len(), 1);
    assert_eq!((done.tool_calls[0].id.as_str(), done.tool_calls[0].name.as_str()), ("call_7Xk", "book_class"));
    let args: Value = serde_json::from_str(&done.tool_calls[0].arguments).expect("valid JSON arguments");
    assert_eq!(args["class"], "Vinyasa Yoga");

    let whole = bounded(p.complete(req)).await.unwrap();
    assert_eq!(whole.tool_calls, done.tool_calls);
    let sent = &s.received()[0];
    assert_eq!(
        sent.body["tools"],
        json!([{"type": "function", "function": {"name": "book_class",
            "description": "Books a class for the member.", "parameters": booking_tool().parameters}}])
    );
    assert_eq!(sent.body["tool_choice"], "required");
}

#[tokio::test]
async fn json_response_formats_are_sent_as_documented() {
    let s = StandIn::start().await;
    s.always(Reply::Text("{\"intent\":\"booking\"}".into()));
    let p = provider(&s, "gpt-4o-mini", None);
    let mut req = ask("classify");
    req.response_format = ResponseFormat::JsonObject;
    let answer = bounded(p.complete(req.clone())).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&answer.content).unwrap()["intent"], "booking");
    let schema = json!({"type": "object", "properties": {"intent": {"type": "string"}}, "required": ["intent"],
        "additionalProperties": false});
    req.response_format = ResponseFormat::JsonSchema { name: "intent".into(), schema: schema.clone() };
    req.temperature = Some(0.0);
    req.max_tokens = Some(50);
    req.stop = vec!["\n\n".into()];
    bounded(p.complete(req)).await.unwrap();
    let sent = s.received();
    assert_eq!(sent[0].body["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        sent[1].body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "intent", "schema": schema, "strict": true}})
    );
    assert_eq!((sent[1].body["temperature"].as_f64(), sent[1].body["max_tokens"].as_u64()), (Some(0.0), Some(50)));
    assert_eq!(sent[1].body["stop"], json!(["\n\n"]));
    assert!(sent[0].body.get("tools").is_none() && sent[0].body.get("tool_choice").is_none());
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let s = StandIn::start().await;
    let late = || Reply::Delayed { by: Duration::from_secs(10), then: Box::new(Reply::Text("late".into())) };
    s.always(late());
    let p = provider(&s, "m", None);
    let started = Instant::now();
    assert_eq!(bounded(p.complete(ask("hi"))).await.unwrap_err(), ProviderError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4), "bounded by the total timeout");
    let started = Instant::now();
    assert_eq!(bounded(p.stream(ask("hi"))).await.err(), Some(ProviderError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2), "bounded by the first-byte timeout");
}

#[tokio::test]
async fn a_hung_stream_ends_with_timeout() {
    let s = StandIn::start().await;
    s.always(Reply::HangAfterFirstChunk("Let me check the timetable for you".into()));
    let started = Instant::now();
    let got = bounded(async { collect(provider(&s, "m", None).stream(ask("hi")).await.unwrap()).await }).await;
    assert_eq!(got.text, "Let me check");
    assert_eq!(got.error, Some(ProviderError::Timeout));
    assert!(got.done.is_none());
    assert!(started.elapsed() < Duration::from_secs(3), "the idle timeout ended it: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_stream_closed_mid_answer_is_unavailable() {
    let s = StandIn::start().await;
    s.always(Reply::CloseMidStream("Your booking is confirmed for".into()));
    let got = bounded(async { collect(provider(&s, "m", None).stream(ask("hi")).await.unwrap()).await }).await;
    assert_eq!(got.text, "Your booki");
    assert!(matches!(got.error, Some(ProviderError::Unavailable(_))), "{:?}", got.error);
}

#[tokio::test]
async fn malformed_answers_are_reported() {
    let s = StandIn::start().await;
    s.always(Reply::Malformed);
    let p = provider(&s, "m", None);
    assert!(matches!(bounded(p.complete(ask("hi"))).await, Err(ProviderError::Malformed(_))));
    let got = bounded(async { collect(p.stream(ask("hi")).await.unwrap()).await }).await;
    assert!(matches!(got.error, Some(ProviderError::Malformed(_))), "{:?}", got.error);
}

#[tokio::test]
async fn statuses_map_to_errors() {
    let s = StandIn::start().await;
    let p = provider(&s, "m", None);
    let cases = [
        (Reply::Status { status: 400, message: "Invalid 'messages'.".into() }, "bad"),
        (Reply::Status { status: 404, message: "The model `m` does not exist.".into() }, "bad"),
        (Reply::Status { status: 401, message: "Incorrect API key provided.".into() }, "auth"),
        (Reply::Status { status: 403, message: "Country not supported.".into() }, "auth"),
        (Reply::Status { status: 503, message: "Overloaded.".into() }, "down"),
        (Reply::ServerError, "down"),
        (Reply::RateLimited { retry_after_secs: 7 }, "limited"),
    ];
    for (reply, kind) in cases {
        s.push(reply.clone());
        let e = bounded(p.complete(ask("hi"))).await.unwrap_err();
        let ok = match kind {
            "bad" => matches!(&e, ProviderError::BadRequest(m) if m.starts_with("HTTP 4")),
            "auth" => e == ProviderError::Auth,
            "down" => matches!(&e, ProviderError::Unavailable(m) if m.starts_with("HTTP 5")),
            _ => e == ProviderError::RateLimited { retry_after: Some(Duration::from_secs(7)) },
        };
        assert!(ok, "{reply:?} gave {e:?}");
    }
    // Nobody listening: connection refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nobody = OpenAiCompatible::new(&format!("http://{closed}/v1"), "m", None, short_timeouts()).unwrap();
    assert!(matches!(bounded(nobody.complete(ask("hi"))).await, Err(ProviderError::Unavailable(_))));
}

#[tokio::test]
async fn the_key_is_sent_as_bearer_and_never_shown() {
    let key = "sk-proj-TESTKEY-0123456789abcdef";
    let s = StandIn::start().await;
    let p = provider(&s, "gpt-4o-mini", Some(key));
    bounded(p.complete(ask("hi"))).await.unwrap();
    assert_eq!(s.received()[0].header("Authorization"), Some(format!("Bearer {key}").as_str()));
    assert!(!format!("{p:?}").contains("TESTKEY"), "{p:?}");
    // A provider echoing the key in its error text: we keep the text, not the key.
    s.push(Reply::Status { status: 400, message: format!("Bad request for key {key}.") });
    let e = bounded(p.complete(ask("hi"))).await.unwrap_err();
    assert!(matches!(e, ProviderError::BadRequest(_)));
    assert!(!format!("{e} {e:?}").contains("TESTKEY"), "{e:?}");
    let kernel: frontdesk_kernel::Error = e.into();
    assert!(!format!("{kernel} {kernel:?}").contains("TESTKEY"));
}
