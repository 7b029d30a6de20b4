//! Payments through the real application: connecting Stripe (the key checked against a local
//! stand-in of Stripe's API, set as `stripe_api_url`), Stripe's signed webhook on the public
//! endpoint, a workflow on `payment.failed` that starts dunning and e-mails the owner, the
//! dunning retry charging the invoice in the stand-in, and the Payments page.

use crate::harness::{Backend, TestApp};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_commerce::stripe::signature_header;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const STRIPE_KEY: &str = "sk_test_51NvQkEXAMPLEsecretKEYabcd";
pub(crate) const WEBHOOK_SECRET: &str = "whsec_5f1bd3a2c9e84d7f9a0b6c2e1d4f8a7b";

/// What the stand-in was asked to charge (invoice ids).
pub(crate) type Charged = Arc<Mutex<Vec<String>>>;

/// Stripe's `GET /v1/account`, `GET /v1/invoices/{id}` (every invoice open, €49) and
/// `POST /v1/invoices/{id}/pay` (paid), for one secret key.
pub(crate) async fn stripe_api() -> (String, Charged, tokio::task::JoinHandle<()>) {
    fn refused(headers: &HeaderMap) -> Option<Response> {
        let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {STRIPE_KEY}"));
        let error = json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****xxxx"}});
        (!ok).then(|| (StatusCode::UNAUTHORIZED, Json(error)).into_response())
    }
    fn invoice(id: &str, status: &str) -> Value {
        json!({"id": id, "object": "invoice", "status": status, "amount_due": 4900, "currency": "eur",
               "customer": "cus_NffrFeUfNV2Hib", "customer_email": "ada@example.com"})
    }
    async fn account(headers: HeaderMap) -> Response {
        refused(&headers).unwrap_or_else(|| {
            Json(json!({"id": "acct_1Nv0FGQ9RKHgCVdK", "object": "account", "default_currency": "eur",
                        "business_profile": {"name": "Payments Studio"}}))
            .into_response()
        })
    }
    async fn get_invoice(Path(id): Path<String>, headers: HeaderMap) -> Response {
        refused(&headers).unwrap_or_else(|| Json(invoice(&id, "open")).into_response())
    }
    async fn pay(State(charged): State<Charged>, Path(id): Path<String>, headers: HeaderMap) -> Response {
        if let Some(r) = refused(&headers) {
            return r;
        }
        charged.lock().expect("lock").push(id.clone());
        Json(invoice(&id, "paid")).into_response()
    }
    let charged: Charged = Arc::default();
    let app = Router::new()
        .route("/v1/account", get(account))
        .route("/v1/invoices/{id}", get(get_invoice))
        .route("/v1/invoices/{id}/pay", post(pay))
        .with_state(charged.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, charged, task)
}

/// `invoice.payment_failed` for `invoice`, as Stripe sends it.
pub(crate) fn failed_invoice_event(event_id: &str, invoice: &str) -> Value {
    let now = frontdesk_kernel::time::now_ms() / 1000;
    json!({"id": event_id, "object": "event", "api_version": "2024-06-20", "created": now, "livemode": false,
        "type": "invoice.payment_failed", "pending_webhooks": 1,
        "data": {"object": {"id": invoice, "object": "invoice", "status": "open", "amount_due": 4900,
            "amount_paid": 0, "currency": "eur", "customer": "cus_NffrFeUfNV2Hib",
            "customer_email": "ada@example.com", "customer_name": "Ada Lovelace", "attempt_count": 1,
            "next_payment_attempt": now + 86_400,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_1/{invoice}")}}})
}

/// Posts `event` to the tenant's webhook endpoint, signed with `secret`.
pub(crate) async fn deliver(app: &TestApp, tenant_id: &str, event: &Value, secret: &str) -> reqwest::Response {
    let body = event.to_string();
    let header = signature_header(secret, frontdesk_kernel::time::now_ms() / 1000, body.as_bytes());
    app.client
        .post(app.at(&format!("/api/v1/public/stripe/{tenant_id}/webhook")))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("send")
}

async fn until(app: &TestApp, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = app.get_json(path, token).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there: {last:#}");
}

async fn payments_end_to_end(backend: Backend) {
    let (stripe_url, charged, stripe) = stripe_api().await;
    let app = TestApp::spawn_with(backend, |c| c.stripe_api_url = Some(stripe_url)).await;
    let t = app.tenant("Payments Studio").await;
    let api = |method: reqwest::Method, path: &str| app.client.request(method, app.at(path)).bearer_auth(&t.api_key);

    // Not connected: the webhook endpoint does not exist for the tenant (nor for a made-up one).
    let event = failed_invoice_event("evt_1NvQfailed00000001", "in_1NvQfailedA");
    let res = deliver(&app, &t.tenant_id, &event, WEBHOOK_SECRET).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = deliver(&app, "not-a-tenant", &event, WEBHOOK_SECRET).await;
    assert_eq!(res.status(), 404);
    let res = api(reqwest::Method::GET, "/api/v1/commerce/stripe").send().await.expect("send");
    assert_eq!(res.status(), 404);

    // A key Stripe refuses is named; then connected.
    let res = api(reqwest::Method::PUT, "/api/v1/commerce/stripe")
        .json(&json!({"secret_key": "sk_test_51NvQkEXAMPLEwrongKEYzzzz", "webhook_secret": WEBHOOK_SECRET}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(
        (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
        (Some("secret_key"), Some("rejected"))
    );
    let res = api(reqwest::Method::PUT, "/api/v1/commerce/stripe")
        .json(&json!({"secret_key": STRIPE_KEY, "webhook_secret": WEBHOOK_SECRET}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let shown = res.text().await.expect("text");
    assert!(shown.contains("acct_1Nv0FGQ9RKHgCVdK") && !shown.contains(STRIPE_KEY) && !shown.contains(WEBHOOK_SECRET));
    assert!(shown.contains(&format!("/api/v1/public/stripe/{}/webhook", t.tenant_id)), "{shown}");

    // A workflow for failed payments: dunning, and an e-mail to the owner with the amount.
    let workflow = json!({
        "name": "Collect failed payments",
        "trigger": {"event": "payment.failed"},
        "actions": [
            {"type": "stripe_dunning", "retry_after_hours": [1, 24]},
            {"type": "email", "to": t.email, "subject": "Payment failed: {{data.amount_text}}",
             "body": "{{data.customer_email}} could not pay {{data.invoice_id}}."},
        ],
    });
    let res = api(reqwest::Method::POST, "/api/v1/workflows").json(&workflow).send().await.expect("send");
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let workflow_id = res.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    // A dunning step that cannot work is refused with the field at fault.
    let bad = json!({"name": "Bad dunning", "trigger": {"event": "payment.failed"},
        "actions": [{"type": "stripe_dunning", "invoice_id": "pi_3MtwBwLkdIwHu7ix", "retry_after_hours": [48, 24]}]});
    let res = api(reqwest::Method::POST, "/api/v1/workflows").json(&bad).send().await.expect("send");
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    let fields: Vec<&str> =
        problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["actions[0].invoice_id", "actions[0].retry_after_hours"], "{problem}");

    // A forged delivery is refused; Stripe's is stored, and once only.
    let res = deliver(&app, &t.tenant_id, &event, "whsec_forged0000000000000000").await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_signature");
    let res = deliver(&app, &t.tenant_id, &event, WEBHOOK_SECRET).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json"), json!({"outcome": "stored"}));
    let res = deliver(&app, &t.tenant_id, &event, WEBHOOK_SECRET).await;
    assert_eq!(res.json::<Value>().await.expect("json"), json!({"outcome": "duplicate"}));

    // The workflow ran: a dunning case for the invoice, and the e-mail.
    let cases = until(&app, &t.access_token, "/api/v1/commerce/dunning", |v| {
        v["items"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let case = &cases["items"][0];
    assert_eq!(case["invoice_id"], "in_1NvQfailedA");
    assert_eq!(case["state"], "active");
    assert_eq!(case["customer_email"], "ada@example.com");
    assert_eq!(case["amount"], json!({"minor": 4900, "currency": "EUR"}));
    assert_eq!(case["origin"], format!("workflow {workflow_id}"));
    assert_eq!(case["hosted_invoice_url"], "https://invoice.stripe.com/i/acct_1/in_1NvQfailedA", "from the event");
    let runs = until(&app, &t.access_token, &format!("/api/v1/workflows/{workflow_id}/runs"), |v| {
        v["items"][0]["state"] == "succeeded"
    })
    .await;
    assert_eq!(runs["items"].as_array().map(Vec::len), Some(1), "one run for one event: {runs}");
    let payments = app.get_json("/api/v1/commerce/payments?state=failed", &t.access_token).await;
    assert_eq!(payments["items"][0]["amount"], json!({"minor": 4900, "currency": "EUR"}), "{payments}");

    // The retry falls due: the invoice is charged in Stripe and the case is recovered.
    {
        use frontdesk_store::Tx;
        let mut tx = app.db.system().await.expect("tx");
        frontdesk_store::query("UPDATE jobs SET run_at = 0 WHERE kind = 'commerce.dunning_retry' AND state = 'queued'")
            .execute(tx.conn())
            .await
            .expect("the clock moves on");
        tx.commit().await.expect("commit");
    }
    let case_path = format!("/api/v1/commerce/dunning/{}", case["id"].as_str().expect("id"));
    let done = until(&app, &t.access_token, &case_path, |v| v["state"] != "active").await;
    assert_eq!((done["state"].as_str(), done["retries"].as_i64()), (Some("recovered"), Some(1)), "{done}");
    assert_eq!(*charged.lock().expect("lock"), ["in_1NvQfailedA"]);

    // The Payments page shows the account, the payment and the case.
    let cookie = format!("fd_session={}", t.session.0);
    let page = app.client.get(app.at("/app/payments")).header("cookie", &cookie).send().await.expect("send");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    for needle in ["acct_1Nv0FGQ9RKHgCVdK", "in_1NvQfailedA", "49.00 EUR", "Recovered", "ada@example.com"] {
        assert!(html.contains(needle), "the page shows {needle}");
    }
    assert!(!html.contains(STRIPE_KEY) && !html.contains(WEBHOOK_SECRET));

    // A viewer sees nothing of the tenant's payments; another tenant cannot reach them.
    let (_, viewer) = app.member(&t, "VIEWER").await;
    let res = app.client.get(app.at("/api/v1/commerce/payments")).bearer_auth(&viewer).send().await.expect("send");
    assert_eq!(res.status(), 403);
    let other = app.tenant("Other Studio").await;
    let res = app.client.get(app.at(&case_path)).bearer_auth(&other.api_key).send().await.expect("send");
    assert_eq!(res.status(), 404);
    let res = deliver(&app, &other.tenant_id, &event, WEBHOOK_SECRET).await;
    assert_eq!(res.status(), 404, "another tenant's endpoint does not take this tenant's events");

    app.stop().await;
    stripe.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_end_to_end_on_sqlite() {
    payments_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_end_to_end_on_postgres() {
    payments_end_to_end(Backend::Postgres).await;
}
