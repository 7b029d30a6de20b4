//! Streamed answers, the model's handoff tool, and every way a model endpoint fails.

use super::*;
use crate::both;
use frontdesk_agent::testing::{Reply, Shape, StandIn};
use std::sync::{Arc, Mutex};

/// Timeouts and retries short enough for tests: 400 ms to the first byte and between chunks,
/// 20–200 ms between tries.
fn tight(extra: Value) -> Value {
    let mut v = json!({"first_byte_timeout_ms": 400, "idle_timeout_ms": 400, "total_timeout_ms": 5_000,
                       "backoff_base_ms": 20, "backoff_cap_ms": 200});
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    v
}

/// Every fault the stand-in plays, with how many tries the primary gets when it fails before
/// the first token (two tries configured; a 429 asking for longer than the backoff cap and a
/// malformed answer go to the fallback at once).
fn faults() -> Vec<(&'static str, Reply, usize)> {
    vec![
        ("malformed JSON", Reply::Malformed, 1),
        ("429", Reply::RateLimited { retry_after_secs: 1 }, 1),
        ("500", Reply::ServerError, 2),
        (
            "timeout",
            Reply::Delayed { by: Duration::from_millis(1_500), then: Box::new(Reply::Text("Late.".into())) },
            2,
        ),
        ("hung connection", Reply::HangAfterFirstChunk("Let me see".into()), 1),
        ("connection closed mid-stream", Reply::CloseMidStream("Let me see".into()), 1),
    ]
}

/// The streamed fragments arrive as `delta` events before the stored reply, which is exactly
/// their concatenation.
async fn deltas_make_the_reply(app: &TestApp) {
    let model = StandIn::start().await;
    let answer = "We open at nine on weekdays and at ten on Saturdays. Bring a towel and some water!";
    model.always(Reply::Text(answer.into()));
    model.set_shape(Shape { chunks: 6, chunk_delay: Duration::from_millis(5), ..Shape::default() });
    let t = app.tenant("Stream Studio").await;
    use_model(app, &t, &model, json!({})).await;

    let events = stream(app, &t.slug, json!({"message": "When do you open?"})).await;
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"accepted"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let deltas = named(&events, "delta");
    assert_eq!(deltas.len(), 6, "one delta per streamed chunk: {names:?}");
    let streamed: String = deltas.iter().map(|d| d["text"].as_str().unwrap_or_default()).collect();
    let messages = named(&events, "message");
    assert_eq!(messages.len(), 1, "{events:?}");
    assert_eq!(messages[0]["author"], "agent");
    assert_eq!(messages[0]["text"], streamed.as_str());
    assert_eq!(streamed, answer);
    let first_delta = names.iter().position(|n| *n == "delta");
    let stored = names.iter().position(|n| *n == "message");
    assert!(first_delta < stored, "fragments come before the stored reply: {names:?}");

    let accepted = named(&events, "accepted")[0].clone();
    let conversation = accepted["conversation_id"].as_str().expect("conversation id");
    let messages = staff_messages(app, &t.access_token, conversation).await;
    let replies = replies_to(&messages, &accepted["message"]["id"]);
    assert_eq!(replies.len(), 1, "{messages:#?}");
    assert_eq!(replies[0]["text"], answer);
    assert_eq!(replies[0]["id"], messages.last().map(|m| m["id"].clone()).unwrap_or_default());
    assert_eq!(replies[0]["trace"]["model"], "primary");
    let received = model.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].streamed(), "the model was asked to stream");
}
both!(streamed_deltas, deltas_make_the_reply, |c: &mut frontdesk::config::Config| super::fast(c));

/// A local receiver of the tenant's webhooks: the bodies it got.
struct Hooks {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Hooks {
    async fn start() -> Hooks {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = bodies.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let sink = sink.clone();
                async move {
                    if let Ok(v) = serde_json::from_str(&body) {
                        sink.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                    }
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Hooks { url, bodies, server }
    }

    /// Waits for a delivered event that satisfies `wanted`.
    async fn wait_for(&self, within: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = self.bodies.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|v| wanted(v)) {
                return v.clone();
            }
            assert!(Instant::now() < deadline, "the webhook never arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The model calls `hand_off_to_human`: the conversation is handed off (status, a notice to the
/// customer, the `conversation.handed_off` event), and the assistant is silent from then on.
async fn model_hands_off(app: &TestApp) {
    let hooks = Hooks::start().await;
    let model = StandIn::start().await;
    let arguments = r#"{"reason":"complaint"}"#;
    model.push(Reply::ToolCall { id: "call_1".into(), name: "hand_off_to_human".into(), arguments: arguments.into() });
    let t = app.tenant("Handoff Tool Studio").await;
    use_model(app, &t, &model, json!({})).await;
    let res = app
        .client
        .post(app.at("/api/v1/webhooks/endpoints"))
        .bearer_auth(&t.access_token)
        .json(&json!({"url": hooks.url, "event_types": ["conversation.handed_off"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);

    let events = stream(app, &t.slug, json!({"message": "My last invoice charged me twice and I am upset."})).await;
    let statuses = named(&events, "status");
    assert_eq!(statuses.len(), 1, "{events:?}");
    assert_eq!(statuses[0]["status"], "handed_off");
    let messages = named(&events, "message");
    assert_eq!(messages.len(), 1, "only the notice, no empty agent reply: {events:?}");
    assert!(is_handoff_notice(messages[0]), "{events:?}");
    assert_eq!(statuses[0]["notice"], messages[0]["text"]);

    let accepted = named(&events, "accepted")[0].clone();
    let conversation = accepted["conversation_id"].as_str().expect("id").to_owned();
    let token = accepted["visitor_token"].as_str().expect("token").to_owned();
    let c = staff_conversation(app, &t.access_token, &conversation).await;
    assert_eq!((c["status"].as_str(), c["handoff_reason"].as_str()), (Some("handed_off"), Some("complaint")));
    let event = hooks
        .wait_for(Duration::from_secs(20), |v| {
            v["type"] == "conversation.handed_off" && v["data"]["conversation_id"] == conversation.as_str()
        })
        .await;
    assert_eq!(event["data"]["reason"], "complaint");

    // Handed off: the assistant stays silent.
    let answer = say(app, &t.slug, Some(&token), "Hello? Is anyone there?").await;
    assert_eq!(answer["status"], "handed_off");
    assert_eq!(answer["replies"], json!([]));
    assert_eq!(model.received().len(), 1, "the model was not asked again");
}
both!(model_handoff, model_hands_off, |c: &mut frontdesk::config::Config| super::fast(c));

/// A primary that fails before its first token (malformed answer, 429, 500, no answer in time) is
/// retried per its policy, then the fallback model answers in the same turn: the customer sees the
/// answer and no notice.
async fn fallback_answers(app: &TestApp) {
    let model = StandIn::start().await;
    model.always_for_model("fallback", Reply::Text("The fallback model answers.".into()));
    // Limits out of range are named.
    let t = app.tenant("Limits Studio").await;
    let res = app
        .client
        .put(app.at("/api/v1/assistant/model"))
        .bearer_auth(&t.access_token)
        .json(&json!({"base_url": model.base_url(), "model": "primary", "max_attempts": 0, "idle_timeout_ms": 0}))
        .send()
        .await
        .expect("send");
    let problem = assert_problem(res, 422, "limits out of range").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["idle_timeout_ms", "max_attempts"], "{problem}");

    for (what, fault, primary_tries) in faults().into_iter().take(4) {
        model.always(fault);
        let t = app.tenant("Fallback Studio").await;
        let view = use_model(app, &t, &model, tight(json!({"fallback_model": "fallback", "max_attempts": 2}))).await;
        assert_eq!(view["limits"]["first_byte_timeout_ms"], 400, "{view}");
        assert_eq!(view["limits"]["max_attempts"], 2, "{view}");
        let before = model.received().len();
        let events = stream(app, &t.slug, json!({"message": "Do you have lockers?"})).await;
        let messages = named(&events, "message");
        assert_eq!(messages.len(), 1, "{what}: {events:?}");
        assert_eq!(
            (messages[0]["author"].as_str(), messages[0]["text"].as_str()),
            (Some("agent"), Some("The fallback model answers.")),
            "{what}"
        );

        let accepted = named(&events, "accepted")[0].clone();
        let stored = staff_messages(app, &t.access_token, accepted["conversation_id"].as_str().expect("id")).await;
        let authors: Vec<&str> = stored.iter().map(|m| m["author"].as_str().unwrap_or_default()).collect();
        assert_eq!(authors, ["customer", "agent"], "{what}: no notice when the fallback answers");
        assert_eq!(stored[1]["trace"]["model"], "fallback", "{what}");
        let asked: Vec<String> = model.received()[before..].iter().map(|r| r.model().to_owned()).collect();
        let mut expected = vec!["primary".to_owned(); primary_tries];
        expected.push("fallback".into());
        assert_eq!(asked, expected, "{what}");
    }
}
both!(faults_fall_back, fallback_answers, |c: &mut frontdesk::config::Config| super::fast(c));

/// Each fault once, with no fallback and one try per turn attempt: the customer is told once
/// that the answer is delayed, the turn is retried, and the answer arrives — once, to the right
/// message, which stays in the history and the staff API.
async fn failed_turns_are_retried(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("Yes, we have lockers.".into()));
    for (what, fault, _) in faults() {
        model.push(fault);
        let t = app.tenant("Retry Studio").await;
        use_model(app, &t, &model, tight(json!({"max_attempts": 1}))).await;
        let events = stream(app, &t.slug, json!({"message": "Do you have lockers?"})).await;
        let notices = named(&events, "message");
        assert_eq!(notices.len(), 1, "{what}: {events:?}");
        assert!(is_delay_notice(notices[0]), "{what}: {events:?}");
        assert_eq!(events.last().map(|e| e.name.as_str()), Some("done"));

        let accepted = named(&events, "accepted")[0].clone();
        let id = accepted["message"]["id"].clone();
        let conversation = accepted["conversation_id"].as_str().expect("id");
        let messages = messages_until(app, &t.access_token, conversation, Duration::from_secs(15), |m| {
            !replies_to(m, &id).is_empty()
        })
        .await;
        let replies = replies_to(&messages, &id);
        assert_eq!(replies.len(), 1, "{what}");
        assert_eq!(replies[0]["text"], "Yes, we have lockers.", "{what}");
        assert_eq!(by(&messages, "customer").len(), 1, "{what}");
        assert_eq!(messages.iter().filter(|m| is_delay_notice(m)).count(), 1, "{what}: told once");
        assert_eq!(staff_conversation(app, &t.access_token, conversation).await["status"], "open", "{what}");

        let token = accepted["visitor_token"].as_str().expect("token");
        let history = history(app, &t.slug, token).await;
        let texts: Vec<&str> =
            history["messages"].as_array().into_iter().flatten().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(texts.first(), Some(&"Do you have lockers?"), "{what}: {history}");
        assert_eq!(texts.last(), Some(&"Yes, we have lockers."), "{what}: {history}");
    }
}
both!(faults_retry_the_turn, failed_turns_are_retried, |c: &mut frontdesk::config::Config| super::fast(c));

/// A model that stays down: after the delay notice and the last attempt, the conversation goes
/// to staff with a notice; the customer's message is kept.
async fn persistent_failure_hands_off(app: &TestApp) {
    let model = StandIn::start().await;
    for (what, fault, requests) in
        [("500", Reply::ServerError, 4), ("hung connection", Reply::HangAfterFirstChunk("Let me see".into()), 2)]
    {
        model.always(fault);
        let t = app.tenant("Down Studio").await;
        use_model(app, &t, &model, tight(json!({"max_attempts": 2}))).await;
        let before = model.received().len();
        let answer = say(app, &t.slug, None, "Can I freeze my membership for a month?").await;
        assert_eq!(answer["status"], "pending", "{what}: {answer}");
        let replies = answer["replies"].as_array().cloned().unwrap_or_default();
        assert!(replies.len() == 1 && is_delay_notice(&replies[0]), "{what}: {answer}");

        let conversation = answer["conversation_id"].as_str().expect("id");
        let messages = messages_until(app, &t.access_token, conversation, Duration::from_secs(15), |m| {
            m.iter().any(is_handoff_notice)
        })
        .await;
        let authors: Vec<&str> = messages.iter().map(|m| m["author"].as_str().unwrap_or_default()).collect();
        assert_eq!(authors, ["customer", "system", "system"], "{what}: {messages:#?}");
        assert_eq!(messages[0]["text"], "Can I freeze my membership for a month?");
        assert!(is_delay_notice(&messages[1]) && is_handoff_notice(&messages[2]), "{what}: {messages:#?}");
        let c = staff_conversation(app, &t.access_token, conversation).await;
        assert_eq!(
            (c["status"].as_str(), c["handoff_reason"].as_str()),
            (Some("handed_off"), Some("agent_unavailable"))
        );
        assert_eq!(model.received().len() - before, requests, "{what}: two turn attempts");

        let token = answer["visitor_token"].as_str().expect("token");
        let history = history(app, &t.slug, token).await;
        assert_eq!(history["status"], "handed_off");
        assert_eq!(history["messages"].as_array().map(Vec::len), Some(3), "{what}: {history}");
    }
}
both!(faults_hand_off, persistent_failure_hands_off, |c: &mut frontdesk::config::Config| super::fast(c));
