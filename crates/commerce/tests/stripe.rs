//! Stripe through the commerce service, on SQLite and PostgreSQL, against a local stand-in of
//! Stripe's API as its reference documents it (bearer secret keys, `Stripe-Version`, form posts
//! with `Idempotency-Key` replayed like Stripe does, the error object with `card_error` /
//! `invalid_request_error`), with webhook deliveries signed by Stripe's scheme.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_commerce::model::*;
use frontdesk_commerce::stripe::signature_header;
use frontdesk_commerce::{Commerce, CommerceConfig, Receipt};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, TenantId};
use frontdesk_store::audit::Actor;
use frontdesk_store::events::{DomainEvent, Subscriber};
use frontdesk_store::jobs::{JobError, JobRegistry, Worker, WorkerConfig};
use frontdesk_store::testing::TestDb;
use frontdesk_store::{query, query_scalar, Tx};
use frontdesk_web::{PermissionSet, Principal};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const KEY: &str = "sk_test_51NvQkEXAMPLEsecretKEYabcd";
const WEBHOOK_SECRET: &str = "whsec_5f1bd3a2c9e84d7f9a0b6c2e1d4f8a7b";

#[derive(Default)]
struct StripeStandIn {
    invoices: Mutex<HashMap<String, Value>>,
    /// Answers to `POST /v1/invoices/{id}/pay` given instead of paying, first come first served.
    pay_script: Mutex<VecDeque<(StatusCode, Value)>>,
    /// Answers to `GET /v1/invoices/{id}` given instead of the invoice.
    get_script: Mutex<VecDeque<(StatusCode, Value)>>,
    /// Stripe replays the first answer to a repeated `Idempotency-Key`.
    idempotent: Mutex<HashMap<String, (StatusCode, Value)>>,
    /// (method, path, idempotency key) of every authenticated request.
    calls: Mutex<Vec<(String, String, Option<String>)>>,
}

impl StripeStandIn {
    fn calls(&self, needle: &str) -> Vec<(String, String, Option<String>)> {
        self.calls.lock().expect("lock").iter().filter(|c| c.1.contains(needle)).cloned().collect()
    }

    fn open_invoice(&self, id: &str) {
        let invoice = json!({"id": id, "object": "invoice", "status": "open", "amount_due": 4900,
            "amount_paid": 0, "currency": "eur", "customer": "cus_NffrFeUfNV2Hib",
            "customer_email": "ada@example.com", "attempt_count": 1,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_1/{id}")});
        self.invoices.lock().expect("lock").insert(id.to_owned(), invoice);
    }

    fn set_status(&self, id: &str, status: &str) {
        if let Some(i) = self.invoices.lock().expect("lock").get_mut(id) {
            i["status"] = json!(status);
        }
    }
}

/// Stripe's 401 for a key it does not know, or `None` when the request is authenticated.
fn unauthenticated(s: &StripeStandIn, headers: &HeaderMap, method: &str, path: &str) -> Option<Response> {
    let bearer = format!("Bearer {KEY}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str()) {
        let error = json!({"error": {"type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_****xxxx"}});
        return Some((StatusCode::UNAUTHORIZED, Json(error)).into_response());
    }
    assert!(headers.get("stripe-version").is_some(), "calls pin an API version");
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    s.calls.lock().expect("lock").push((method.into(), path.into(), key));
    None
}

async fn account(State(s): State<Arc<StripeStandIn>>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthenticated(&s, &headers, "GET", "/v1/account") {
        return r;
    }
    Json(json!({"id": "acct_1Nv0FGQ9RKHgCVdK", "object": "account", "default_currency": "eur",
        "business_profile": {"name": "Harbour Yoga"}, "settings": {"dashboard": {"display_name": "Harbour Yoga Studio"}},
        "charges_enabled": true}))
    .into_response()
}

fn missing(id: &str) -> Response {
    let error = json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
        "message": format!("No such invoice: '{id}'"), "param": "invoice"}});
    (StatusCode::NOT_FOUND, Json(error)).into_response()
}

async fn invoice(State(s): State<Arc<StripeStandIn>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthenticated(&s, &headers, "GET", &format!("/v1/invoices/{id}")) {
        return r;
    }
    if let Some((status, body)) = s.get_script.lock().expect("lock").pop_front() {
        return (status, Json(body)).into_response();
    }
    match s.invoices.lock().expect("lock").get(&id) {
        Some(i) => Json(i.clone()).into_response(),
        None => missing(&id),
    }
}

async fn pay(State(s): State<Arc<StripeStandIn>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthenticated(&s, &headers, "POST", &format!("/v1/invoices/{id}/pay")) {
        return r;
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some((status, body)) = key.as_ref().and_then(|k| s.idempotent.lock().expect("lock").get(k).cloned()) {
        return (status, Json(body)).into_response();
    }
    let answer = match s.pay_script.lock().expect("lock").pop_front() {
        Some(scripted) => scripted,
        None => {
            let mut invoices = s.invoices.lock().expect("lock");
            match invoices.get_mut(&id) {
                Some(i) if i["status"] == "open" => {
                    i["status"] = json!("paid");
                    i["amount_paid"] = i["amount_due"].clone();
                    (StatusCode::OK, i.clone())
                }
                Some(_) => (
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"type": "invalid_request_error", "message": "Invoice is already paid"}}),
                ),
                None => return missing(&id),
            }
        }
    };
    if let Some(k) = key {
        s.idempotent.lock().expect("lock").insert(k, answer.clone());
    }
    (answer.0, Json(answer.1)).into_response()
}

fn declined() -> (StatusCode, Value) {
    (
        StatusCode::PAYMENT_REQUIRED,
        json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.", "charge": "ch_3MmlLrLkdIwHu7ix0snN0B15"}}),
    )
}

async fn stand_in() -> (Arc<StripeStandIn>, url::Url) {
    let state = Arc::new(StripeStandIn::default());
    let app = Router::new()
        .route("/v1/account", get(account))
        .route("/v1/invoices/{id}", get(invoice))
        .route("/v1/invoices/{id}/pay", post(pay))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url::Url::parse(&base).expect("url"))
}

/// Records the domain events commerce emits.
#[derive(Default)]
struct Recorder(Mutex<Vec<DomainEvent>>);

impl Subscriber for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn handle<'a>(
        &'a self,
        _tenant: &'a TenantId,
        event: &'a DomainEvent,
    ) -> futures_util::future::BoxFuture<'a, Result<(), JobError>> {
        self.0.lock().expect("lock").push(event.clone());
        Box::pin(async { Ok(()) })
    }
}

struct Harness {
    test_db: TestDb,
    commerce: Commerce,
    tenant: TenantId,
    principal: Principal,
    stripe: Arc<StripeStandIn>,
    events: Arc<Recorder>,
    actor: Actor,
    _shutdown: watch::Sender<bool>,
}

async fn harness(postgres: bool) -> Harness {
    let migrations =
        [frontdesk_store::MIGRATIONS, frontdesk_identity::MIGRATIONS, frontdesk_commerce::MIGRATIONS].concat();
    let test_db = TestDb::create(postgres, "commerce", &migrations, |_| {}).await.expect("test database");
    let db = test_db.db.clone();
    let tenant = frontdesk_identity::testing::insert_tenant(&db).await.expect("tenant");
    let (stripe, base) = stand_in().await;
    let mut config =
        CommerceConfig { stripe_api_url: base, public_url: "https://desk.example.com".into(), ..Default::default() };
    config.outbound.allow_private = true;
    config.outbound.timeout = Duration::from_secs(5);
    let keys = Keyring::new(&[9u8; 32], &[]).expect("keyring");
    let commerce = Commerce::new(db.clone(), keys, config).expect("commerce");
    let mut registry = JobRegistry::new();
    frontdesk_commerce::register_jobs(&mut registry, commerce.clone());
    let events = Arc::new(Recorder::default());
    frontdesk_store::events::register(&db, &mut registry, vec![events.clone() as Arc<dyn Subscriber>]);
    let worker = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..WorkerConfig::default()
    };
    let (shutdown, rx) = watch::channel(false);
    tokio::spawn(Worker::new(db, registry, worker).run(rx));
    let principal = Principal::api_key(tenant.clone(), "key_test", "test key".into(), PermissionSet::all());
    Harness { test_db, commerce, tenant, principal, stripe, events, actor: Actor::system("test"), _shutdown: shutdown }
}

impl Harness {
    async fn connect(&self) -> StripeAccount {
        let req = ConnectStripeRequest { secret_key: Some(KEY.into()), webhook_secret: Some(WEBHOOK_SECRET.into()) };
        self.commerce.connect(&self.principal, req, &self.actor).await.expect("connect")
    }

    /// Delivers `event` as Stripe would: signed now with the endpoint's secret.
    async fn deliver(&self, event: &Value) -> Result<Receipt, Error> {
        let body = event.to_string();
        let header = signature_header(WEBHOOK_SECRET, now_ms() / 1000, body.as_bytes());
        self.commerce.receive(&self.tenant, Some(&header), body.as_bytes()).await
    }

    /// Waits (bounded) for `done` over the domain events seen so far.
    async fn until_event(&self, kind: &str, pred: impl Fn(&DomainEvent) -> bool) -> DomainEvent {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(e) = self.events.0.lock().expect("lock").iter().find(|e| e.kind == kind && pred(e)) {
                return e.clone();
            }
            assert!(Instant::now() < deadline, "no {kind} event: {:?}", self.events.0.lock().expect("lock"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn case(&self, id: &DunningCaseId) -> DunningCase {
        self.commerce.dunning_case(&self.principal, id).await.expect("case")
    }

    /// Waits (bounded) until the case satisfies `done`.
    async fn until_case(&self, id: &DunningCaseId, done: impl Fn(&DunningCase) -> bool) -> DunningCase {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let c = self.case(id).await;
            if done(&c) {
                return c;
            }
            assert!(Instant::now() < deadline, "dunning case never got there: {c:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The scheduled dunning retries are due now (the clock moved on by their hours).
    async fn make_retries_due(&self) {
        let mut tx = self.test_db.db.system().await.expect("tx");
        query("UPDATE jobs SET run_at = 0 WHERE kind = 'commerce.dunning_retry' AND state = 'queued'")
            .execute(tx.conn())
            .await
            .expect("fast-forward");
        tx.commit().await.expect("commit");
    }
}

fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": now_ms() / 1000,
           "livemode": false, "type": kind, "data": {"object": object}, "pending_webhooks": 1,
           "request": {"id": null, "idempotency_key": null}})
}

fn failed_invoice(id: &str) -> Value {
    json!({"id": id, "object": "invoice", "status": "open", "amount_due": 4900, "amount_paid": 0,
        "currency": "eur", "customer": "cus_NffrFeUfNV2Hib", "customer_email": "ada@example.com",
        "customer_name": "Ada Lovelace", "customer_phone": "+4915123456789", "attempt_count": 1, "next_payment_attempt": now_ms() / 1000 + 86_400,
        "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_1/{id}"), "billing_reason": "subscription_cycle"})
}

async fn connecting_checks_the_key_with_stripe(postgres: bool) {
    let h = harness(postgres).await;
    let connect = |secret_key: &str, webhook_secret: Option<&str>| ConnectStripeRequest {
        secret_key: Some(secret_key.into()).filter(|s: &String| !s.is_empty()),
        webhook_secret: webhook_secret.map(str::to_owned),
    };
    let field = |r: Result<StripeAccount, Error>| match r {
        Err(Error::Validation(errors)) => errors.iter().map(|e| format!("{}:{}", e.field, e.code)).collect::<Vec<_>>(),
        other => panic!("expected a validation error, got {other:?}"),
    };
    // A publishable key, and no signing secret: both named, nothing asked of Stripe.
    let r = h.commerce.connect(&h.principal, connect("pk_test_51NvQkEXAMPLEpublishable", None), &h.actor).await;
    assert_eq!(field(r), ["secret_key:invalid_key", "webhook_secret:required"]);
    assert!(h.stripe.calls("/v1/account").is_empty());
    // A well-formed key Stripe does not know.
    let r = h
        .commerce
        .connect(&h.principal, connect("sk_test_51NvQkEXAMPLEwrongKEYzzzz", Some(WEBHOOK_SECRET)), &h.actor)
        .await;
    assert_eq!(field(r), ["secret_key:rejected"]);
    assert!(h.commerce.account(&h.principal).await.expect("account").is_none(), "nothing stored");

    let account = h.connect().await;
    assert_eq!(account.account_id, "acct_1Nv0FGQ9RKHgCVdK");
    assert_eq!(account.display_name.as_deref(), Some("Harbour Yoga Studio"));
    assert_eq!((account.default_currency.as_str(), account.livemode), ("EUR", false));
    assert_eq!((account.secret_key_hint.as_str(), account.webhook_secret_hint.as_str()), ("…abcd", "…8a7b"));
    assert_eq!(account.webhook_url, format!("https://desk.example.com/api/v1/public/stripe/{}/webhook", h.tenant));
    let shown = serde_json::to_string(&account).expect("json");
    assert!(!shown.contains(KEY) && !shown.contains(WEBHOOK_SECRET), "{shown}");
    // Sealed at rest.
    let mut tx = h.test_db.db.tenant_read(&h.tenant).await.expect("tx");
    let stored: String = query_scalar("SELECT secret_key || webhook_secret FROM stripe_accounts WHERE tenant_id = $1")
        .bind(h.tenant.as_str())
        .fetch_one(tx.conn())
        .await
        .expect("row");
    drop(tx);
    assert!(!stored.contains(KEY) && !stored.contains("5f1bd3a2c9e84d7f"), "keys are sealed");

    // A new signing secret alone keeps the key and does not ask Stripe again.
    let calls = h.stripe.calls("/v1/account").len();
    let rolled = "whsec_0000000000000000rolled99";
    let req = ConnectStripeRequest { secret_key: None, webhook_secret: Some(rolled.into()) };
    let account = h.commerce.connect(&h.principal, req, &h.actor).await.expect("roll the secret");
    assert_eq!((account.secret_key_hint.as_str(), account.webhook_secret_hint.as_str()), ("…abcd", "…ed99"));
    assert_eq!(h.stripe.calls("/v1/account").len(), calls);

    h.commerce.disconnect(&h.principal, &h.actor).await.expect("disconnect");
    assert!(h.commerce.account(&h.principal).await.expect("account").is_none());
    h.test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_checks_the_key_with_stripe_on_sqlite() {
    connecting_checks_the_key_with_stripe(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_checks_the_key_with_stripe_on_postgres() {
    connecting_checks_the_key_with_stripe(true).await;
}

async fn webhooks_become_payments_events_and_metrics(postgres: bool) {
    let h = harness(postgres).await;
    let failed = event("evt_1NvQfailed00000001", "invoice.payment_failed", failed_invoice("in_1NvQfailedA"));
    // Not connected: the endpoint does not exist for this tenant.
    assert!(matches!(h.deliver(&failed).await, Err(Error::NotFound)));
    h.connect().await;

    // Signatures: wrong secret, tampered body, stale timestamp, none at all.
    let body = failed.to_string();
    let bad = |header: Option<String>, body: &str| {
        let c = h.commerce.clone();
        let t = h.tenant.clone();
        let body = body.to_owned();
        async move { c.receive(&t, header.as_deref(), body.as_bytes()).await }
    };
    let now = now_ms() / 1000;
    for (header, payload) in [
        (Some(signature_header("whsec_someoneelse00000000", now, body.as_bytes())), body.clone()),
        (Some(signature_header(WEBHOOK_SECRET, now, body.as_bytes())), body.replace("4900", "1")),
        (Some(signature_header(WEBHOOK_SECRET, now - 3600, body.as_bytes())), body.clone()),
        (None, body.clone()),
    ] {
        let r = bad(header, &payload).await;
        assert!(matches!(r, Err(Error::BadRequest { code: "invalid_signature", .. })), "{r:?}");
    }

    assert_eq!(h.deliver(&failed).await.expect("deliver"), Receipt::Stored);
    assert_eq!(h.deliver(&failed).await.expect("redeliver"), Receipt::Duplicate, "Stripe delivers at least once");
    let unrelated = event("evt_1NvQcustomer000001", "customer.created", json!({"id": "cus_1", "object": "customer"}));
    assert_eq!(h.deliver(&unrelated).await.expect("deliver"), Receipt::Ignored);

    let e = h.until_event("payment.failed", |_| true).await;
    assert_eq!(e.data["invoice_id"], "in_1NvQfailedA");
    assert_eq!((e.data["amount"].clone(), e.data["currency"].clone()), (json!(4900), json!("EUR")));
    assert_eq!(e.data["amount_text"], "49.00 EUR");
    assert_eq!(e.data["customer_email"], "ada@example.com");
    assert_eq!(e.data["customer_phone"], "+4915123456789");
    assert_eq!(e.data["hosted_invoice_url"], "https://invoice.stripe.com/i/acct_1/in_1NvQfailedA");

    // A one-off Checkout payment, and a subscription Checkout (counted by its invoice instead).
    let checkout = json!({"id": "cs_test_a1", "object": "checkout.session", "mode": "payment", "payment_status": "paid",
        "amount_total": 2500, "currency": "eur", "customer": null,
        "customer_details": {"email": "bo@example.com", "name": "Bo"}});
    h.deliver(&event("evt_1NvQcheckout0000001", "checkout.session.completed", checkout)).await.expect("deliver");
    let subscription = json!({"id": "cs_test_a2", "object": "checkout.session", "mode": "subscription",
        "payment_status": "paid", "amount_total": 9900, "currency": "eur"});
    h.deliver(&event("evt_1NvQcheckout0000002", "checkout.session.completed", subscription)).await.expect("deliver");
    let paid = json!({"id": "in_1NvQpaidB", "object": "invoice", "status": "paid", "amount_paid": 9900,
        "amount_due": 9900, "currency": "eur", "customer": "cus_2", "customer_email": "cy@example.com"});
    h.deliver(&event("evt_1NvQinvoicepaid0001", "invoice.paid", paid)).await.expect("deliver");
    h.until_event("payment.succeeded", |e| e.data["invoice_id"] == "in_1NvQpaidB").await;
    h.until_event("payment.succeeded", |e| e.data["checkout_session_id"] == "cs_test_a1").await;

    let payments = h.commerce.payments(&h.principal, None, None, 10).await.expect("payments");
    assert_eq!(payments.len(), 3, "the subscription Checkout is not a payment of its own: {payments:?}");
    let failed_only = h.commerce.payments(&h.principal, Some(PaymentState::Failed), None, 10).await.expect("list");
    assert_eq!(failed_only.len(), 1);
    assert_eq!(failed_only[0].attempt_count, Some(1));

    // Business metrics: revenue in the account's currency and failed payments, per bucket.
    let hour = 3_600_000;
    let from = now_ms() / hour * hour - hour;
    let counts = frontdesk_commerce::metrics::counts(&h.test_db.db, &h.tenant, from, from + 3 * hour, hour)
        .await
        .expect("counts");
    let total = |metric: &str| counts.iter().filter(|c| c.metric == metric).map(|c| c.value).sum::<f64>();
    assert_eq!(total(frontdesk_commerce::metrics::REVENUE), 12_400.0, "{counts:?}");
    assert_eq!(total(frontdesk_commerce::metrics::PAYMENTS_FAILED), 1.0, "{counts:?}");
    let active = frontdesk_commerce::metrics::active_tenants(&h.test_db.db, from).await.expect("tenants");
    assert_eq!(active, std::slice::from_ref(&h.tenant));
    h.test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_become_payments_events_and_metrics_on_sqlite() {
    webhooks_become_payments_events_and_metrics(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_become_payments_events_and_metrics_on_postgres() {
    webhooks_become_payments_events_and_metrics(true).await;
}

async fn dunning_retries_until_paid_exhausted_or_stopped(postgres: bool) {
    let h = harness(postgres).await;
    h.connect().await;
    let start = |invoice: &str, hours: Option<Vec<u32>>| StartDunningRequest {
        invoice_id: invoice.into(),
        retry_after_hours: hours,
    };

    // Declined once, then paid on the second retry.
    h.stripe.open_invoice("in_A");
    let case =
        h.commerce.start_dunning_for(&h.principal, start("in_A", Some(vec![1, 2])), &h.actor).await.expect("start");
    assert_eq!((case.state, case.retries), (DunningState::Active, 0));
    let due = case.next_retry_at.expect("a retry is scheduled") - case.created_at;
    assert_eq!(due, 3_600_000, "the first retry an hour after the start");
    let again = h.commerce.start_dunning_for(&h.principal, start("in_A", None), &h.actor).await.expect("again");
    assert_eq!(again.id, case.id, "an invoice has one active case");
    assert!(h.stripe.calls("/pay").is_empty(), "nothing happens before the retry is due");

    h.stripe.pay_script.lock().expect("lock").push_back(declined());
    h.make_retries_due().await;
    let c = h.until_case(&case.id, |c| c.retries == 1).await;
    assert_eq!(c.state, DunningState::Active);
    assert!(c.last_error.as_deref().is_some_and(|e| e.contains("insufficient_funds")), "{c:?}");
    assert_eq!(c.next_retry_at.map(|at| at - c.created_at), Some(2 * 3_600_000), "{c:?}");
    assert_eq!(c.hosted_invoice_url.as_deref(), Some("https://invoice.stripe.com/i/acct_1/in_A"), "{c:?}");
    // The declined retry is an event, for a reminder to the customer with the invoice's page.
    let failed = h.until_event("dunning.retry_failed", |e| e.data["invoice_id"] == "in_A").await;
    assert_eq!((failed.data["retries"].clone(), failed.data["retries_planned"].clone()), (json!(1), json!(2)));
    assert_eq!(failed.data["hosted_invoice_url"], "https://invoice.stripe.com/i/acct_1/in_A");
    assert!(failed.data["next_retry_at"].is_string(), "{failed:?}");
    h.make_retries_due().await;
    let c = h.until_case(&case.id, |c| c.state != DunningState::Active).await;
    assert_eq!((c.state, c.retries), (DunningState::Recovered, 2), "{c:?}");
    assert!(c.closed_at.is_some() && c.next_retry_at.is_none());
    let recovered = h.until_event("dunning.recovered", |e| e.data["dunning_case_id"] == json!(case.id)).await;
    assert_eq!(recovered.data["invoice_id"], "in_A");
    let pays = h.stripe.calls("/v1/invoices/in_A/pay");
    assert_eq!(pays.len(), 2, "{pays:?}");
    assert_ne!(pays[0].2, pays[1].2, "each retry is its own attempt in Stripe");
    assert!(pays.iter().all(|p| p.2.is_some()), "every charge carries an Idempotency-Key");

    // Declined at every retry: exhausted, with Stripe's words.
    h.stripe.open_invoice("in_B");
    let b = h.commerce.start_dunning_for(&h.principal, start("in_B", Some(vec![1, 5])), &h.actor).await.expect("b");
    for retries in 1..=2 {
        h.stripe.pay_script.lock().expect("lock").push_back(declined());
        h.make_retries_due().await;
        h.until_case(&b.id, |c| c.retries == retries).await;
    }
    let b = h.until_case(&b.id, |c| c.state != DunningState::Active).await;
    assert_eq!((b.state, b.retries), (DunningState::Exhausted, 2), "{b:?}");
    h.until_event("dunning.exhausted", |e| e.data["invoice_id"] == "in_B").await;

    // Stripe down when a retry is due: the job is retried; only the charge counts as a retry.
    h.stripe.open_invoice("in_C");
    let c = h.commerce.start_dunning_for(&h.principal, start("in_C", Some(vec![1])), &h.actor).await.expect("c");
    h.stripe.get_script.lock().expect("lock").push_back((StatusCode::SERVICE_UNAVAILABLE, json!({})));
    h.make_retries_due().await;
    let c = h.until_case(&c.id, |c| c.state != DunningState::Active).await;
    assert_eq!((c.state, c.retries), (DunningState::Recovered, 1), "{c:?}");

    // Paid between our look at the invoice and the charge: Stripe refuses the charge, which is a
    // recovery, not a failed retry.
    h.stripe.open_invoice("in_G");
    let g = h.commerce.start_dunning_for(&h.principal, start("in_G", Some(vec![1])), &h.actor).await.expect("g");
    let open = h.stripe.invoices.lock().expect("lock")["in_G"].clone();
    h.stripe.get_script.lock().expect("lock").push_back((StatusCode::OK, open));
    h.stripe.set_status("in_G", "paid");
    h.make_retries_due().await;
    let g = h.until_case(&g.id, |c| c.state != DunningState::Active).await;
    assert_eq!((g.state, g.retries), (DunningState::Recovered, 0), "{g:?}");

    // Paid by the customer meanwhile (Stripe's invoice.paid): recovered, never charged by us.
    h.stripe.open_invoice("in_D");
    let d = h.commerce.start_dunning_for(&h.principal, start("in_D", None), &h.actor).await.expect("d");
    let paid = json!({"id": "in_D", "object": "invoice", "status": "paid", "amount_paid": 4900, "amount_due": 4900,
        "currency": "eur", "customer": "cus_NffrFeUfNV2Hib"});
    h.deliver(&event("evt_1NvQpaidD0000000001", "invoice.paid", paid)).await.expect("deliver");
    let d = h.until_case(&d.id, |c| c.state != DunningState::Active).await;
    assert_eq!(d.state, DunningState::Recovered);
    assert!(h.stripe.calls("/v1/invoices/in_D").is_empty(), "{:?}", h.stripe.calls("in_D"));

    // Voided in Stripe: stopped with the reason; stopped by a person: no more retries.
    h.stripe.open_invoice("in_E");
    let e = h.commerce.start_dunning_for(&h.principal, start("in_E", None), &h.actor).await.expect("e");
    h.stripe.set_status("in_E", "void");
    h.make_retries_due().await;
    let e = h.until_case(&e.id, |c| c.state != DunningState::Active).await;
    assert_eq!(e.state, DunningState::Cancelled);
    assert!(e.last_error.as_deref().is_some_and(|m| m.contains("voided")), "{e:?}");
    h.stripe.open_invoice("in_F");
    let f = h.commerce.start_dunning_for(&h.principal, start("in_F", None), &h.actor).await.expect("f");
    let f = h.commerce.cancel_dunning(&h.principal, &f.id, &h.actor).await.expect("cancel");
    assert_eq!(f.state, DunningState::Cancelled);
    let twice = h.commerce.cancel_dunning(&h.principal, &f.id, &h.actor).await;
    assert!(matches!(twice, Err(Error::Conflict { code: "not_active", .. })), "{twice:?}");
    h.make_retries_due().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.stripe.calls("in_F").is_empty(), "a stopped case is not retried");

    // Bad input names its field.
    let r = h.commerce.start_dunning_for(&h.principal, start("pi_123", Some(vec![5, 3])), &h.actor).await;
    let Err(Error::Validation(errors)) = r else { panic!("expected validation errors, got {r:?}") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["invoice_id", "retry_after_hours"]);

    let active = h.commerce.dunning_cases(&h.principal, Some(DunningState::Active), None, 10).await.expect("list");
    assert!(active.is_empty(), "{active:?}");
    h.test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dunning_retries_until_paid_exhausted_or_stopped_on_sqlite() {
    dunning_retries_until_paid_exhausted_or_stopped(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dunning_retries_until_paid_exhausted_or_stopped_on_postgres() {
    dunning_retries_until_paid_exhausted_or_stopped(true).await;
}
