//! Outbound messages through the tenant's channels, on SQLite and PostgreSQL, against a local
//! stand-in of the three providers' APIs as they document them: Twilio's Messages resource
//! (form-encoded, HTTP Basic with the Account SID and auth token, `201` with an `SM…` sid, error
//! resources with Twilio's codes), Meta's WhatsApp Cloud API (bearer token, JSON, `wamid.…` ids,
//! Graph error objects) and Telegram's Bot API (token in the path, `{"ok": …}` envelopes).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use data_encoding::BASE64;
use frontdesk_channels::model::*;
use frontdesk_channels::{Channels, ChannelsConfig, ProviderUrls};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::{Error, TenantId};
use frontdesk_store::audit::Actor;
use frontdesk_store::jobs::{JobRegistry, Worker, WorkerConfig};
use frontdesk_store::testing::TestDb;
use frontdesk_store::{query_scalar, Tx};
use frontdesk_web::{PermissionSet, Principal};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00dfeed";
const MESSAGING_SERVICE: &str = "MG0123456789abcdef0123456789abcdef";
const WA_PHONE_NUMBER_ID: &str = "106540352242922";
const WA_TOKEN: &str = "EAAGm0PX4ZCpsBAKZAnotarealtoken";
const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// What the stand-in received.
#[derive(Debug, Clone)]
struct Received {
    provider: &'static str,
    /// Twilio: the form fields; WhatsApp and Telegram: the JSON body.
    body: Value,
}

#[derive(Default)]
struct StandIn {
    received: Mutex<Vec<Received>>,
    /// Answers given instead of the normal one, first come first served.
    scripted: Mutex<VecDeque<(StatusCode, Value)>>,
}

impl StandIn {
    fn scripted(&self) -> Option<Response> {
        let (status, body) = self.scripted.lock().expect("lock").pop_front()?;
        Some((status, Json(body)).into_response())
    }

    fn record(&self, provider: &'static str, body: Value) {
        self.received.lock().expect("lock").push(Received { provider, body });
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

async fn twilio(State(s): State<Arc<StandIn>>, Path(sid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let expected = format!("Basic {}", BASE64.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}").as_bytes()));
    if sid != TWILIO_SID || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        let error = json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "form expected").into_response();
    }
    let form: serde_json::Map<String, Value> =
        url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::from(v.into_owned()))).collect();
    let form = Value::Object(form);
    s.record("twilio", form.clone());
    if let Some(r) = s.scripted() {
        return r;
    }
    // Twilio wants a recipient, a sender, and a Body or a ContentSid (a template).
    if form["To"].is_null() || (form["From"].is_null() && form["MessagingServiceSid"].is_null()) {
        let error = json!({"code": 21604, "message": "A 'To' phone number is required.", "status": 400});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    if form["Body"].is_null() && form["ContentSid"].is_null() {
        let error = json!({"code": 21602, "message": "Message body is required.", "status": 400});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    let n = s.received().len();
    let message = json!({
        "sid": format!("SM{n:032x}"), "account_sid": TWILIO_SID, "status": "queued",
        "to": form["To"], "from": form["From"], "body": form["Body"], "num_segments": "1",
    });
    (StatusCode::CREATED, Json(message)).into_response()
}

async fn whatsapp_cloud(
    State(s): State<Arc<StandIn>>,
    Path(phone_number_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let bearer = format!("Bearer {WA_TOKEN}");
    if phone_number_id != WA_PHONE_NUMBER_ID
        || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str())
    {
        let error = json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                                     "type": "OAuthException", "code": 190, "fbtrace_id": "AbCdEf"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    s.record("whatsapp_cloud", body.clone());
    if let Some(r) = s.scripted() {
        return r;
    }
    assert_eq!(body["messaging_product"], "whatsapp");
    match body["type"].as_str() {
        Some("text") => assert!(body["text"]["body"].is_string()),
        Some("template") => {
            assert!(body["template"]["name"].is_string() && body["template"]["language"]["code"].is_string())
        }
        other => panic!("unexpected message type {other:?}"),
    }
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": body["to"], "wa_id": body["to"]}],
        "messages": [{"id": format!("wamid.HBgL{}", s.received().len())}],
    });
    (StatusCode::OK, Json(answer)).into_response()
}

async fn telegram(State(s): State<Arc<StandIn>>, Path(bot): Path<String>, Json(body): Json<Value>) -> Response {
    if bot != format!("bot{BOT_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    s.record("telegram", body.clone());
    if let Some(r) = s.scripted() {
        return r;
    }
    let answer = json!({"ok": true, "result": {
        "message_id": 1000 + s.received().len(), "date": 1_700_000_000,
        "chat": {"id": body["chat_id"], "type": "private"}, "text": body["text"],
    }});
    (StatusCode::OK, Json(answer)).into_response()
}

async fn stand_in() -> (Arc<StandIn>, ProviderUrls) {
    let state = Arc::new(StandIn::default());
    let app = Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio))
        .route("/v21.0/{phone_number_id}/messages", post(whatsapp_cloud))
        .route("/{bot}/sendMessage", post(telegram))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = |path: &str| url::Url::parse(&format!("{base}{path}")).expect("url");
    (state, ProviderUrls { twilio: url(""), whatsapp_cloud: url("v21.0/"), telegram: url("") })
}

struct Harness {
    test_db: TestDb,
    channels: Channels,
    principal: Principal,
    stand_in: Arc<StandIn>,
    actor: Actor,
    _shutdown: watch::Sender<bool>,
}

fn principal(tenant: &TenantId) -> Principal {
    Principal::api_key(tenant.clone(), "key_test", "test key".into(), PermissionSet::all())
}

async fn add_tenant(db: &frontdesk_store::Db) -> TenantId {
    frontdesk_identity::testing::insert_tenant(db).await.expect("tenant")
}

/// A fresh database with a tenant, the channels service pointed at the stand-in, and a job
/// worker with a short backoff; `max_attempts` attempts per message.
async fn harness(postgres: bool, max_attempts: u32) -> Harness {
    let migrations =
        [frontdesk_store::MIGRATIONS, frontdesk_identity::MIGRATIONS, frontdesk_channels::MIGRATIONS].concat();
    let test_db = TestDb::create(postgres, "channels", &migrations, |_| {}).await.expect("test database");
    let db = test_db.db.clone();
    let tenant = add_tenant(&db).await;
    let (stand_in, urls) = stand_in().await;
    let mut config = ChannelsConfig { urls, max_attempts, ..ChannelsConfig::default() };
    config.outbound.allow_private = true;
    config.outbound.timeout = Duration::from_secs(5);
    let keys = Keyring::new(&[7u8; 32], &[]).expect("keyring");
    let channels = Channels::new(db.clone(), keys, config).expect("channels");
    let mut registry = JobRegistry::new();
    frontdesk_channels::register_jobs(&mut registry, channels.clone());
    let worker = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..WorkerConfig::default()
    };
    let (shutdown, rx) = watch::channel(false);
    tokio::spawn(Worker::new(db, registry, worker).run(rx));
    Harness {
        test_db,
        channels,
        principal: principal(&tenant),
        stand_in,
        actor: Actor::system("test"),
        _shutdown: shutdown,
    }
}

impl Harness {
    async fn connect(
        &self,
        channel: ChannelKind,
        provider: Provider,
        id: Option<&str>,
        sender: Option<&str>,
        secret: &str,
    ) {
        let req = ConnectChannelRequest {
            provider,
            account_id: id.map(str::to_owned),
            sender: sender.map(str::to_owned),
            secret: Some(secret.to_owned()),
        };
        self.channels.connect(&self.principal, channel, req, &self.actor).await.expect("connect");
    }

    async fn send(&self, channel: ChannelKind, to: &str, text: &str) -> OutboundMessage {
        let req = SendMessageRequest { channel, to: to.into(), text: text.into(), template: None };
        self.channels.send(&self.principal, req, "test").await.expect("send")
    }

    /// Waits (bounded) until the message has left the `queued` state.
    async fn settled(&self, id: &OutboundMessageId) -> OutboundMessage {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let m = self.channels.message(&self.principal, id).await.expect("message");
            if m.state != MessageState::Queued {
                return m;
            }
            assert!(Instant::now() < deadline, "message still queued: {m:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn each_provider_sends_as_documented(postgres: bool) {
    let h = harness(postgres, 5).await;
    h.connect(ChannelKind::Sms, Provider::Twilio, Some(TWILIO_SID), Some("+4930123456"), TWILIO_TOKEN).await;
    h.connect(ChannelKind::Whatsapp, Provider::WhatsappCloud, Some(WA_PHONE_NUMBER_ID), None, WA_TOKEN).await;
    h.connect(ChannelKind::Telegram, Provider::Telegram, None, None, BOT_TOKEN).await;

    let sms = h.send(ChannelKind::Sms, "+49 151 2345 6789", "Your class starts at 6 pm.").await;
    assert_eq!(sms.to, "+4915123456789", "stored in E.164");
    let sms = h.settled(&sms.id).await;
    assert_eq!(sms.state, MessageState::Sent, "{sms:?}");
    assert_eq!(sms.provider, Some(Provider::Twilio));
    assert!(sms.provider_message_id.as_deref().is_some_and(|id| id.starts_with("SM")), "{sms:?}");
    assert_eq!(sms.attempts, 1);
    assert!(sms.sent_at.is_some());

    let wa = h.settled(&h.send(ChannelKind::Whatsapp, "+14155552671", "Bookings dropped by 40 %.").await.id).await;
    assert_eq!(wa.state, MessageState::Sent, "{wa:?}");
    assert!(wa.provider_message_id.as_deref().is_some_and(|id| id.starts_with("wamid.")), "{wa:?}");

    let tg = h.settled(&h.send(ChannelKind::Telegram, "-1001234567890", "New lead: Ada").await.id).await;
    assert_eq!(tg.state, MessageState::Sent, "{tg:?}");
    assert!(tg.provider_message_id.as_deref().is_some_and(|id| id.parse::<i64>().is_ok()), "{tg:?}");

    let received = h.stand_in.received();
    assert_eq!(received.len(), 3, "{received:?}");
    let twilio = &received.iter().find(|r| r.provider == "twilio").expect("twilio").body;
    assert_eq!(twilio["To"], "+4915123456789");
    assert_eq!(twilio["From"], "+4930123456");
    assert_eq!(twilio["Body"], "Your class starts at 6 pm.");
    let whatsapp = &received.iter().find(|r| r.provider == "whatsapp_cloud").expect("whatsapp").body;
    assert_eq!(whatsapp["to"], "14155552671");
    assert_eq!(whatsapp["text"]["body"], "Bookings dropped by 40 %.");
    let telegram = &received.iter().find(|r| r.provider == "telegram").expect("telegram").body;
    assert_eq!(telegram["chat_id"], json!(-1001234567890i64), "a numeric chat id goes as a number");
    assert_eq!(telegram["text"], "New lead: Ada");

    // WhatsApp through Twilio with a Messaging Service: both addresses carry `whatsapp:`.
    h.connect(ChannelKind::Whatsapp, Provider::Twilio, Some(TWILIO_SID), Some(MESSAGING_SERVICE), TWILIO_TOKEN).await;
    let wa = h.settled(&h.send(ChannelKind::Whatsapp, "+14155552671", "Hello").await.id).await;
    assert_eq!(wa.state, MessageState::Sent, "{wa:?}");
    let last = h.stand_in.received().pop().expect("request");
    assert_eq!(last.provider, "twilio");
    assert_eq!(last.body["To"], "whatsapp:+14155552671");
    assert_eq!(last.body["MessagingServiceSid"], MESSAGING_SERVICE);
    assert!(last.body["From"].is_null());

    // Templates: by Content SID through Twilio (numbered variables); a template name is refused
    // there, since Twilio knows templates only by SID.
    let template = |name: &str| MessageTemplate {
        name: name.into(),
        language: "de".into(),
        parameters: vec!["Ada".into(), "18:00".into()],
    };
    let sid = "HX0123456789abcdef0123456789abcdef";
    let req = SendMessageRequest {
        channel: ChannelKind::Whatsapp,
        to: "+14155552671".into(),
        text: String::new(),
        template: Some(template(sid)),
    };
    let m = h.settled(&h.channels.send(&h.principal, req.clone(), "test").await.expect("send").id).await;
    assert_eq!(m.state, MessageState::Sent, "{m:?}");
    assert_eq!(m.text, format!("template {sid} (de): Ada | 18:00"), "the outbox names the template");
    let last = h.stand_in.received().pop().expect("request");
    assert_eq!(last.body["ContentSid"], sid);
    assert_eq!(
        serde_json::from_str::<Value>(last.body["ContentVariables"].as_str().expect("variables")).expect("json"),
        json!({"1": "Ada", "2": "18:00"})
    );
    assert!(last.body["Body"].is_null());
    let by_name = SendMessageRequest { template: Some(template("booking_reminder")), ..req.clone() };
    let m = h.settled(&h.channels.send(&h.principal, by_name.clone(), "test").await.expect("send").id).await;
    assert_eq!(m.state, MessageState::Failed, "{m:?}");
    assert!(m.error.as_deref().is_some_and(|e| e.contains("Content SID")), "{m:?}");

    // … and by name through the WhatsApp Cloud API, with the body's parameters.
    h.connect(ChannelKind::Whatsapp, Provider::WhatsappCloud, Some(WA_PHONE_NUMBER_ID), None, WA_TOKEN).await;
    let m = h.settled(&h.channels.send(&h.principal, by_name, "test").await.expect("send").id).await;
    assert_eq!(m.state, MessageState::Sent, "{m:?}");
    assert_eq!(m.template.as_ref().map(|t| t.name.as_str()), Some("booking_reminder"));
    let last = h.stand_in.received().pop().expect("request");
    assert_eq!(
        last.body["template"],
        json!({"name": "booking_reminder", "language": {"code": "de"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "18:00"}]}
        ]})
    );

    h.test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_sends_as_documented_on_sqlite() {
    each_provider_sends_as_documented(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_sends_as_documented_on_postgres() {
    each_provider_sends_as_documented(true).await;
}

/// Outages are retried until the provider answers; refusals and spent attempts end `failed`
/// with the provider's words; a channel that is not connected holds its messages until it is.
async fn outages_refusals_and_offline_channels(postgres: bool) {
    let h = harness(postgres, 3).await;
    h.connect(ChannelKind::Sms, Provider::Twilio, Some(TWILIO_SID), Some("+4930123456"), TWILIO_TOKEN).await;

    // Down twice (503, then a Twilio 429), then up: sent on the third attempt.
    {
        let mut script = h.stand_in.scripted.lock().expect("lock");
        script.push_back((
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"code": 20500, "message": "Internal Server Error", "status": 503}),
        ));
        script.push_back((
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
        ));
    }
    let m = h.settled(&h.send(ChannelKind::Sms, "+4915123456789", "retry me").await.id).await;
    assert_eq!(m.state, MessageState::Sent, "{m:?}");
    assert_eq!(m.attempts, 3);
    assert_eq!(m.error, None, "a sent message carries no error");

    // Refused: one attempt, the provider's code and message kept.
    h.stand_in.scripted.lock().expect("lock").push_back((
        StatusCode::BAD_REQUEST,
        json!({"code": 21211, "message": "The 'To' number +4915100000000 is not a valid phone number.",
               "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
    ));
    let m = h.settled(&h.send(ChannelKind::Sms, "+4915100000000", "refused").await.id).await;
    assert_eq!(m.state, MessageState::Failed, "{m:?}");
    assert_eq!(m.attempts, 1, "a refusal is not retried");
    assert!(m.error.as_deref().is_some_and(|e| e.contains("21211")), "{m:?}");

    // Down for every attempt: failed after the last one.
    for _ in 0..3 {
        h.stand_in.scripted.lock().expect("lock").push_back((StatusCode::BAD_GATEWAY, json!({})));
    }
    let m = h.settled(&h.send(ChannelKind::Sms, "+4915123456789", "never").await.id).await;
    assert_eq!(m.state, MessageState::Failed, "{m:?}");
    assert_eq!(m.attempts, 3);

    // Telegram is not connected: held, nothing sent; connected and sent again: delivered.
    let before = h.stand_in.received().len();
    let held = h.settled(&h.send(ChannelKind::Telegram, "@studio_news", "Open on Sunday").await.id).await;
    assert_eq!(held.state, MessageState::Held, "{held:?}");
    assert!(held.error.as_deref().is_some_and(|e| e.contains("Telegram")), "{held:?}");
    assert_eq!(h.stand_in.received().len(), before);
    h.connect(ChannelKind::Telegram, Provider::Telegram, None, None, BOT_TOKEN).await;
    let again = h.channels.resend(&h.principal, &held.id, &h.actor).await.expect("resend");
    assert_eq!(again.state, MessageState::Queued);
    let sent = h.settled(&held.id).await;
    assert_eq!(sent.state, MessageState::Sent, "{sent:?}");
    assert_eq!(h.stand_in.received().last().map(|r| r.body["chat_id"].clone()), Some(json!("@studio_news")));
    // A sent message is not sent twice.
    let twice = h.channels.resend(&h.principal, &held.id, &h.actor).await;
    assert!(matches!(twice, Err(Error::Conflict { code: "not_resendable", .. })), "{twice:?}");

    // Wrong credentials are a refusal, and the token never shows in the error.
    h.connect(ChannelKind::Telegram, Provider::Telegram, None, None, "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDxxx")
        .await;
    let m = h.settled(&h.send(ChannelKind::Telegram, "12345", "who am I").await.id).await;
    assert_eq!(m.state, MessageState::Failed, "{m:?}");
    assert!(m.error.as_deref().is_some_and(|e| e.contains("Unauthorized") && !e.contains("AAHdq")), "{m:?}");

    // The business metrics count what ended sent (2) and failed (3), by hour; the tenant is
    // found as active.
    let db = &h.test_db.db;
    let hour = 3_600_000;
    let from = frontdesk_kernel::time::now_ms() / hour * hour;
    let tenant = h.principal.tenant().expect("tenant").clone();
    let counts =
        frontdesk_channels::metrics::counts(db, &tenant, from - hour, from + hour, hour).await.expect("counts");
    let total = |metric: &str| counts.iter().filter(|c| c.metric == metric).map(|c| c.value).sum::<f64>();
    assert_eq!(total(frontdesk_channels::metrics::MESSAGES_SENT), 2.0, "{counts:?}");
    assert_eq!(total(frontdesk_channels::metrics::MESSAGES_FAILED), 3.0, "{counts:?}");
    assert!(counts.iter().all(|c| c.bucket == from - hour || c.bucket == from), "{counts:?}");
    let active = frontdesk_channels::metrics::active_tenants(db, from - hour).await.expect("active");
    assert_eq!(active, [tenant]);

    h.test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_refusals_and_offline_channels_on_sqlite() {
    outages_refusals_and_offline_channels(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_refusals_and_offline_channels_on_postgres() {
    outages_refusals_and_offline_channels(true).await;
}

/// Secrets are sealed at rest and never shown; bad input names its field; one tenant sees
/// nothing of another's accounts or messages.
async fn secrets_validation_and_isolation(postgres: bool) {
    let h = harness(postgres, 3).await;
    h.connect(ChannelKind::Whatsapp, Provider::WhatsappCloud, Some(WA_PHONE_NUMBER_ID), None, WA_TOKEN).await;

    let accounts = h.channels.accounts(&h.principal).await.expect("accounts");
    let shown = serde_json::to_string(&accounts).expect("json");
    assert!(!shown.contains(WA_TOKEN), "{shown}");
    assert_eq!(accounts[0].secret_hint, format!("…{}", &WA_TOKEN[WA_TOKEN.len() - 4..]));
    let mut tx = h.test_db.db.system_read().await.expect("read");
    let stored: String = query_scalar("SELECT secret FROM channel_accounts").fetch_one(tx.conn()).await.expect("row");
    drop(tx);
    assert!(!stored.contains(WA_TOKEN), "the secret is sealed at rest");

    // Changing the sender keeps the stored secret when none is given.
    let keep = ConnectChannelRequest {
        provider: Provider::WhatsappCloud,
        account_id: Some("106540352242999".into()),
        sender: None,
        secret: None,
    };
    let changed = h.channels.connect(&h.principal, ChannelKind::Whatsapp, keep, &h.actor).await.expect("change");
    assert_eq!(changed.secret_hint, accounts[0].secret_hint);
    assert_eq!(changed.created_at, accounts[0].created_at);
    // Switching provider needs the new provider's secret.
    let switch = ConnectChannelRequest {
        provider: Provider::Twilio,
        account_id: Some(TWILIO_SID.into()),
        sender: Some("+4930123456".into()),
        secret: None,
    };
    let refused = h.channels.connect(&h.principal, ChannelKind::Whatsapp, switch, &h.actor).await;
    assert!(matches!(&refused, Err(Error::Validation(f)) if f.iter().any(|f| f.field == "secret")), "{refused:?}");

    let bad = SendMessageRequest { channel: ChannelKind::Sms, to: "0301234".into(), text: " ".into(), template: None };
    match h.channels.send(&h.principal, bad, "test").await {
        Err(Error::Validation(fields)) => {
            let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(named, ["to", "text"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // Templates are WhatsApp's, and named as WhatsApp or Twilio name them.
    let template =
        MessageTemplate { name: "Booking Reminder!".into(), language: "de".into(), parameters: vec![" ".into()] };
    let on_sms = SendMessageRequest {
        channel: ChannelKind::Sms,
        to: "+4930123456".into(),
        text: String::new(),
        template: Some(template.clone()),
    };
    let on_whatsapp = SendMessageRequest { channel: ChannelKind::Whatsapp, ..on_sms.clone() };
    for (req, expected) in
        [(on_sms, vec!["template", "text"]), (on_whatsapp, vec!["template.name", "template.parameters[0]"])]
    {
        match h.channels.send(&h.principal, req, "test").await {
            Err(Error::Validation(fields)) => {
                let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(named, expected);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    let message = h.send(ChannelKind::Whatsapp, "+14155552671", "for tenant A only").await;
    let other_tenant = add_tenant(&h.test_db.db).await;
    let other = principal(&other_tenant);
    assert!(h.channels.accounts(&other).await.expect("accounts").is_empty());
    assert!(h.channels.messages(&other, None, 50).await.expect("messages").is_empty());
    assert!(matches!(h.channels.message(&other, &message.id).await, Err(Error::NotFound)));
    assert!(matches!(h.channels.resend(&other, &message.id, &h.actor).await, Err(Error::NotFound)));
    assert_eq!(h.channels.messages(&h.principal, None, 50).await.expect("messages").len(), 1);

    h.test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_validation_and_isolation_on_sqlite() {
    secrets_validation_and_isolation(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_validation_and_isolation_on_postgres() {
    secrets_validation_and_isolation(true).await;
}
