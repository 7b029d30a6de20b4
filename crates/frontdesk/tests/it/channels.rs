//! Channels through the real application: connecting Telegram with a bot token, sending through
//! the API and the dashboard to a local stand-in of the Bot API (set as `telegram_api_url`),
//! problem+json naming the field at fault, secrets never shown, roles and tenants kept apart.

use crate::harness::{Backend, TestApp};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

pub(crate) type Sent = Arc<Mutex<Vec<Value>>>;

/// The Bot API's `sendMessage` for one bot token, recording what it is sent.
pub(crate) async fn bot_api() -> (String, Sent, tokio::task::JoinHandle<()>) {
    async fn send_message(State(sent): State<Sent>, Path(bot): Path<String>, Json(body): Json<Value>) -> Json<Value> {
        if bot != format!("bot{BOT_TOKEN}") {
            return Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
        }
        let mut sent = sent.lock().expect("lock");
        sent.push(body.clone());
        Json(
            json!({"ok": true, "result": {"message_id": sent.len(), "chat": {"id": body["chat_id"]}, "text": body["text"]}}),
        )
    }
    let sent: Sent = Arc::default();
    let app = Router::new().route("/{bot}/sendMessage", post(send_message)).with_state(sent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, sent, task)
}

async fn channels_end_to_end(backend: Backend) {
    let (bot_url, sent, bot) = bot_api().await;
    let app = TestApp::spawn_with(backend, |c| c.telegram_api_url = Some(bot_url)).await;
    let t = app.tenant("Channel Studio").await;
    let api = |method: reqwest::Method, path: &str| app.client.request(method, app.at(path)).bearer_auth(&t.api_key);

    // A token that is not a bot token is named in problem+json.
    let res = api(reqwest::Method::PUT, "/api/v1/channels/accounts/telegram")
        .json(&json!({"provider": "telegram", "secret": "not-a-token"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "secret", "{problem}");
    // A provider that does not carry the channel neither.
    let res = api(reqwest::Method::PUT, "/api/v1/channels/accounts/sms")
        .json(&json!({"provider": "telegram", "secret": BOT_TOKEN}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);

    let res = api(reqwest::Method::PUT, "/api/v1/channels/accounts/telegram")
        .json(&json!({"provider": "telegram", "secret": BOT_TOKEN}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let accounts = api(reqwest::Method::GET, "/api/v1/channels/accounts").send().await.expect("send");
    let accounts = accounts.text().await.expect("text");
    assert!(accounts.contains("\"secret_hint\":\"…Dsaw\"") && !accounts.contains(BOT_TOKEN), "{accounts}");

    // Bad input names its field; nothing is queued.
    let res = api(reqwest::Method::POST, "/api/v1/channels/messages")
        .json(&json!({"channel": "sms", "to": "0151 234", "text": "hi"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.expect("json")["errors"][0]["field"], "to");

    // Sent through the Bot API in the background; a retried request (same Idempotency-Key)
    // does not send twice.
    let send = || {
        api(reqwest::Method::POST, "/api/v1/channels/messages")
            .header("idempotency-key", "confirm-4242")
            .json(&json!({"channel": "telegram", "to": "4242", "text": "Your booking is confirmed."}))
            .send()
    };
    let res = send().await.expect("send");
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let again = send().await.expect("send");
    assert_eq!(again.json::<Value>().await.expect("json")["id"], id.as_str(), "replayed, not sent again");
    let mut message = Value::Null;
    for _ in 0..250 {
        message = app.get_json(&format!("/api/v1/channels/messages/{id}"), &t.api_key).await;
        if message["state"] != "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(message["state"], "sent", "{message}");
    assert_eq!(message["provider"], "telegram");
    assert_eq!(message["provider_message_id"], "1");
    assert_eq!(sent.lock().expect("lock").as_slice(), [json!({"chat_id": 4242, "text": "Your booking is confirmed."})]);

    // Another tenant sees none of it; a viewer may look but not send.
    let other = app.tenant("Other Studio").await;
    let res = app
        .client
        .get(app.at(&format!("/api/v1/channels/messages/{id}")))
        .bearer_auth(&other.api_key)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404);
    assert_eq!(app.get_json("/api/v1/channels/accounts", &other.api_key).await, json!([]));
    let (_, viewer) = app.member(&t, "VIEWER").await;
    let listed = app.get_json("/api/v1/channels/messages", &viewer).await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let res = app
        .client
        .post(app.at("/api/v1/channels/messages"))
        .bearer_auth(&viewer)
        .json(&json!({"channel": "telegram", "to": "4242", "text": "no"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 403);

    // The dashboard: the outbox and the account's hint, a send form that names its errors.
    let cookie = format!("fd_session={}", t.session.0);
    let html = app
        .client
        .get(app.at("/app/channels"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(html.contains(&id) && html.contains("…Dsaw") && !html.contains(BOT_TOKEN), "{html}");
    let post_form = |path: &'static str, form: Vec<(&'static str, String)>| {
        app.client.post(app.at(path)).header("cookie", cookie.clone()).form(&form).send()
    };
    let csrf = t.session.1.clone();
    let res = post_form(
        "/app/channels/send",
        vec![("_csrf", csrf.clone()), ("channel", "telegram".into()), ("to", "@no".into()), ("text", "x".into())],
    )
    .await
    .expect("send");
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("html").contains("f-to-error"));
    let res = post_form(
        "/app/channels/send",
        vec![
            ("_csrf", csrf),
            ("channel", "telegram".into()),
            ("to", "@studio_news".into()),
            ("text", "From the dashboard".into()),
        ],
    )
    .await
    .expect("send");
    assert_eq!(res.status(), 303);
    let listed = app.get_json("/api/v1/channels/messages", &t.api_key).await;
    assert_eq!(listed["items"][0]["origin"], "dashboard", "{listed}");

    app.stop().await;
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_end_to_end_on_sqlite() {
    channels_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_end_to_end_on_postgres() {
    channels_end_to_end(Backend::Postgres).await;
}
