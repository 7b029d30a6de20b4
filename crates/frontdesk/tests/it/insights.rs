//! Metrics through the API: a seasonal metric with an injected drop yields an explained anomaly;
//! duplicates and late points do not duplicate anything; bad points are named.

use crate::both;
use crate::harness::TestApp;
use serde_json::{json, Value};

/// Bookings every 30 minutes for 8 days, with a daily cycle and mild noise; on the last day at
/// noon they collapse to 2 for three hours.
fn bookings(start_secs: i64, with_drop: bool) -> Vec<Value> {
    let mut points = Vec::new();
    let mut seed: u64 = 42;
    for i in 0..(8 * 48) {
        let t = start_secs + i * 1800;
        let hour = (i % 48) as f64 / 2.0;
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let noise = ((seed >> 33) % 100) as f64 / 100.0 - 0.5;
        let mut v = 20.0 + 15.0 * ((hour - 6.0) / 24.0 * std::f64::consts::TAU).sin() + noise * 2.0;
        if with_drop && (7 * 48 + 24..7 * 48 + 30).contains(&i) {
            v = 2.0;
        }
        points.push(
            json!({"metric": "bookings", "value": v.max(0.0), "timestamp": t, "dimensions": {"location": "north"}}),
        );
    }
    points
}

async fn ingest(app: &TestApp, key: &str, body: &Value) -> Value {
    let res = app.client.post(app.at("/api/v1/metrics/ingest")).bearer_auth(key).json(body).send().await.expect("send");
    assert_eq!(res.status(), 200, "ingest");
    res.json().await.expect("json")
}

async fn anomaly_from_api(app: &TestApp) {
    let t = app.tenant("Metrics Studio").await;
    let start = (frontdesk_kernel::time::now_ms() / 1000 / 86400 - 9) * 86400;
    let points = bookings(start, true);
    // Two batches; the second re-sends a part of the first (a retry) and is de-duplicated.
    let first = ingest(app, &t.api_key, &Value::Array(points[..200].to_vec())).await;
    assert_eq!(first["accepted"], 200);
    let second = ingest(app, &t.api_key, &Value::Array(points[150..].to_vec())).await;
    assert_eq!(second["accepted"], points.len() - 200);
    assert_eq!(second["duplicates"], 50);
    let mut anomalies = Value::Null;
    for _ in 0..100 {
        anomalies = app.get_json("/api/v1/anomalies", &t.access_token).await;
        let scored: Value = app.get_json("/api/v1/metrics", &t.access_token).await;
        if scored[0]["scored_until"].is_string()
            && scored[0]["points"] == points.len()
            && anomalies["items"].as_array().is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let items = anomalies["items"].as_array().expect("anomalies").clone();
    // Everything again, newest first (a client replaying its buffer out of order): nothing is
    // stored, scored or detected twice.
    let mut again = points.clone();
    again.reverse();
    let replay = ingest(app, &t.api_key, &Value::Array(again)).await;
    assert_eq!((replay["accepted"].as_u64(), replay["duplicates"].as_u64()), (Some(0), Some(points.len() as u64)));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after: Value = app.get_json("/api/v1/anomalies", &t.access_token).await;
    assert_eq!(after["items"].as_array().map(Vec::len), Some(items.len()), "no anomaly twice");
    // Late points (older than what was scored) are stored and rolled up, not scored.
    let late = json!([{"metric": "bookings", "value": 7, "timestamp": start + 7 * 48 * 1800 + 900, "dimensions": {"location": "north"}}]);
    let late = ingest(app, &t.api_key, &late).await;
    assert_eq!((late["accepted"].as_u64(), late["late"].as_u64()), (Some(1), Some(1)), "{late}");
    let drop_start = (start + (7 * 48 + 24) * 1800) * 1000;
    let found = items
        .iter()
        .find(|a| {
            let started =
                a["started_at"].as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()).map(|t| t.as_millisecond());
            a["direction"] == "down" && started.is_some_and(|s| (drop_start..drop_start + 3 * 3600 * 1000).contains(&s))
        })
        .unwrap_or_else(|| panic!("the drop is found: {anomalies:#}"));
    let explanation = found["explanation"].as_str().expect("explanation");
    assert!(explanation.starts_with("bookings (location=north) dropped to 2 at"), "{explanation}");
    assert!(found["observed"].as_f64().expect("observed") < found["expected_low"].as_f64().expect("low"));
    assert_eq!(found["dimensions"]["location"], "north");
    // Hourly values come from the rollups.
    let hours: Value = app
        .client
        .get(app.at("/api/v1/metrics/bookings?resolution=hour&dimensions=%7B%22location%22%3A%22north%22%7D"))
        .query(&[("from", jiff::Timestamp::from_second(start).expect("ts").to_string())])
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let buckets = hours.as_array().expect("buckets");
    assert!(buckets.len() >= 190 && buckets[0]["count"] == 2, "{} buckets", buckets.len());
    // The dashboard draws the series with its expected band and lists the explained anomaly.
    let page = app
        .client
        .get(app.at("/app/insights"))
        .header("cookie", format!("fd_session={}", t.session.0))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("<polyline class=\"line\"") && html.contains("class=\"band\""), "chart drawn");
    assert!(html.contains("class=\"anomaly\"") && html.contains("dropped to 2"), "anomaly marked and explained");
    // Acknowledging is audited.
    let id = found["id"].as_str().expect("id");
    let res = app
        .client
        .post(app.at(&format!("/api/v1/anomalies/{id}/acknowledge")))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
}
both!(seasonal_drop, anomaly_from_api);

async fn bad_and_late_points(app: &TestApp) {
    let t = app.tenant("Points Studio").await;
    let now = frontdesk_kernel::time::now_ms() / 1000;
    let batch = json!([
        {"metric": "signups", "value": 4, "timestamp": now - 600},
        {"metric": "sign ups!", "value": 1, "timestamp": now},
        {"metric": "signups", "value": "many", "timestamp": now},
        {"metric": "signups", "value": 1, "timestamp": "yesterday"},
        {"metric": "signups", "value": 1},
        {"metric": "signups", "value": 2, "timestamp": "2026-01-01T00:00:00Z", "dimensions": {"a": "b"}},
    ]);
    let r = ingest(app, &t.api_key, &batch).await;
    assert_eq!(r["accepted"], 2, "{r}");
    let rejected: Vec<(u64, String)> = r["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|x| (x["index"].as_u64().unwrap_or(99), x["field"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(
        rejected,
        vec![(1, "metric".into()), (2, "".into()), (3, "timestamp".into()), (4, "timestamp".into())],
        "{r}"
    );
    // NDJSON works too; an exact re-send is a no-op.
    let nd = format!("{{\"metric\":\"signups\",\"value\":4,\"timestamp\":{}}}\n{{\"metric\":\"signups\",\"value\":5,\"timestamp\":{}}}\n", now - 600, now - 300);
    let res = app
        .client
        .post(app.at("/api/v1/metrics/ingest"))
        .bearer_auth(&t.api_key)
        .header("content-type", "application/x-ndjson")
        .body(nd)
        .send()
        .await
        .expect("send");
    let v: Value = res.json().await.expect("json");
    assert_eq!((v["accepted"].as_u64(), v["duplicates"].as_u64()), (Some(1), Some(1)), "{v}");
    // A key without metrics:ingest cannot send points.
    let res = app
        .client
        .post(app.at("/api/v1/api-keys"))
        .bearer_auth(&t.access_token)
        .json(&json!({"name": "ro", "permissions": ["insights:read"]}))
        .send()
        .await
        .expect("send");
    let ro: Value = res.json().await.expect("json");
    let res = app
        .client
        .post(app.at("/api/v1/metrics/ingest"))
        .bearer_auth(ro["secret"].as_str().expect("secret"))
        .json(&batch)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 403);
}
both!(points, bad_and_late_points);

/// The whole path: points in, an anomaly detected, its explanation delivered to the tenant's
/// webhook endpoint signed per Standard Webhooks.
async fn anomaly_reaches_the_webhook(app: &TestApp) {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let sink = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let t = app.tenant("Webhook Studio").await;
    let res = app
        .client
        .post(app.at("/api/v1/webhooks/endpoints"))
        .bearer_auth(&t.access_token)
        .json(&json!({"url": hook, "description": "alerts", "event_types": ["anomaly.detected"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let endpoint: Value = res.json().await.expect("json");
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
    let start = (frontdesk_kernel::time::now_ms() / 1000 / 86400 - 9) * 86400;
    ingest(app, &t.api_key, &Value::Array(bookings(start, true))).await;
    let mut delivered = None;
    for _ in 0..150 {
        if let Some(first) = received.lock().expect("lock").first().cloned() {
            delivered = Some(first);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (headers, body) = delivered.expect("the anomaly reached the webhook");
    let secret = frontdesk_automation::signature::WebhookSecret::parse(&secret).expect("secret");
    frontdesk_automation::signature::verify(
        &headers,
        body.as_bytes(),
        &[secret],
        frontdesk_automation::signature::DEFAULT_TOLERANCE,
    )
    .expect("the Standard Webhooks signature verifies");
    let event: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(event["type"], "anomaly.detected");
    assert!(event["data"]["explanation"].as_str().unwrap_or("").contains("dropped"), "{event}");
    // The delivery log on the dashboard shows it.
    let endpoint_id = endpoint["id"].as_str().expect("id");
    let mut html = String::new();
    for _ in 0..50 {
        html = app
            .client
            .get(app.at(&format!("/app/webhooks/{endpoint_id}")))
            .header("cookie", format!("fd_session={}", t.session.0))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("html");
        if html.contains("delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(html.contains("anomaly.detected") && html.contains("delivered"), "{html}");
    server.abort();
}
both!(anomaly_webhook, anomaly_reaches_the_webhook, |c: &mut frontdesk::config::Config| c.webhooks_allow_private =
    true);

async fn wait_for_explanation(app: &TestApp, token: &str, check: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        let v: Value = app.get_json("/api/v1/anomalies", token).await;
        if let Some(text) = v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["direction"] == "down"))
            .and_then(|a| a["explanation"].as_str())
        {
            last = text.to_owned();
            if check(text) {
                return last;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("explanation never settled: {last}");
}

/// With a model configured, explanations are reworded — unless the model invents a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_rewords_explanations_without_inventing_numbers() {
    use frontdesk_agent::testing::{Reply, StandIn};
    let model = StandIn::start().await;
    let url = model.base_url();
    let app = TestApp::spawn_with(crate::harness::Backend::Sqlite, |c| c.llm_base_url = Some(url)).await;
    let start = (frontdesk_kernel::time::now_ms() / 1000 / 86400 - 9) * 86400;

    model.always(Reply::Text("Bookings in the north studio fell far below the usual range this afternoon.".into()));
    let t = app.tenant("Model Studio").await;
    ingest(&app, &t.api_key, &Value::Array(bookings(start, true))).await;
    let text = wait_for_explanation(&app, &t.access_token, |e| e.starts_with("Bookings in the north studio")).await;
    assert!(!text.contains("dropped to"));
    assert!(model.received().iter().any(|r| r.body.to_string().contains("dropped to 2")), "the model saw the template");

    model.always(Reply::Text("Bookings fell to 999, a record low.".into()));
    let t2 = app.tenant("Model Studio Two").await;
    ingest(&app, &t2.api_key, &Value::Array(bookings(start, true))).await;
    // The rewording is refused: the template stays.
    let text = wait_for_explanation(&app, &t2.access_token, |e| e.contains("dropped to 2")).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let again = wait_for_explanation(&app, &t2.access_token, |_| true).await;
    assert_eq!(text, again, "an invented number never replaces the data");
    app.stop().await;
}

/// An anomaly fires the tenant's workflow: its Slack message and its signed webhook both arrive.
async fn workflow_fires_on_anomaly(app: &TestApp) {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};
    type Seen = Arc<Mutex<Vec<(String, axum::http::HeaderMap, String)>>>;
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let receiver = axum::Router::new().route(
        "/{which}",
        post(
            move |axum::extract::Path(which): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let sink = sink.clone();
                async move {
                    sink.lock().expect("lock").push((which, headers, body));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let t = app.tenant("Workflow Studio").await;
    let endpoint: Value = app
        .client
        .post(app.at("/api/v1/webhooks/endpoints"))
        .bearer_auth(&t.access_token)
        .json(&json!({"url": format!("{base}/crm"), "event_types": ["bookings.alert"]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let workflow = json!({
        "name": "Bookings collapse",
        "trigger": {"event": "anomaly.detected", "metric": "bookings", "direction": "down", "severity_at_least": "low"},
        "conditions": [{"field": "data.dimensions.location", "op": "eq", "value": "north"}],
        "actions": [
            {"type": "slack", "webhook_url": format!("{base}/slack"), "text": "Heads up: {{data.explanation}}"},
            {"type": "webhook", "event_type": "bookings.alert"}
        ]
    });
    let res = app
        .client
        .post(app.at("/api/v1/workflows"))
        .bearer_auth(&t.access_token)
        .json(&workflow)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let start = (frontdesk_kernel::time::now_ms() / 1000 / 86400 - 9) * 86400;
    ingest(app, &t.api_key, &Value::Array(bookings(start, true))).await;
    for _ in 0..150 {
        let got = seen.lock().expect("lock").iter().map(|(w, _, _)| w.clone()).collect::<Vec<_>>();
        if got.contains(&"slack".to_owned()) && got.contains(&"crm".to_owned()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let seen = seen.lock().expect("lock").clone();
    let slack = seen.iter().find(|(w, _, _)| w == "slack").expect("the Slack action ran");
    let text: Value = serde_json::from_str(&slack.2).expect("slack json");
    assert!(text["text"].as_str().unwrap_or("").starts_with("Heads up: bookings (location=north) dropped"), "{text}");
    let (_, headers, body) = seen.iter().find(|(w, _, _)| w == "crm").expect("the webhook action ran");
    let secret = frontdesk_automation::signature::WebhookSecret::parse(endpoint["secret"].as_str().expect("secret"))
        .expect("secret");
    frontdesk_automation::signature::verify(
        headers,
        body.as_bytes(),
        &[secret],
        frontdesk_automation::signature::DEFAULT_TOLERANCE,
    )
    .expect("signed");
    let runs: Value = app
        .client
        .get(app.at(&format!("/api/v1/workflows/{}/runs", res_id(app, &t.access_token).await)))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(runs["items"][0]["state"], "succeeded", "{runs}");
    // The dashboard lists the workflow and its run, and its editor names a field at fault.
    let cookie = format!("fd_session={}", t.session.0);
    let page = |path: String| app.client.get(app.at(&path)).header("cookie", cookie.clone()).send();
    let html = page("/app/workflows".into()).await.expect("send").text().await.expect("html");
    assert!(html.contains("Bookings collapse"), "{html}");
    let id = res_id(app, &t.access_token).await;
    let html = page(format!("/app/workflows/{id}")).await.expect("send").text().await.expect("html");
    assert!(html.contains("succeeded") && html.contains("slack"), "{html}");
    let form = [
        ("_csrf", t.session.1.as_str()),
        ("name", "Broken"),
        ("trigger", r#"{"event": "anomaly.detected"}"#),
        ("conditions", "[]"),
        ("actions", r#"[{"type": "slack", "webhook_url": "ftp://x", "text": "hi"}]"#),
        ("cooldown_secs", "300"),
    ];
    let res = app
        .client
        .post(app.at("/app/workflows"))
        .header("cookie", cookie.clone())
        .form(&form)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("html").contains("actions[0].webhook_url"));
    let res = page("/app/webhooks".into()).await.expect("send");
    assert_eq!(res.status(), 200);
    server.abort();
}
both!(workflow_on_anomaly, workflow_fires_on_anomaly, |c: &mut frontdesk::config::Config| c.webhooks_allow_private =
    true);

async fn res_id(app: &TestApp, token: &str) -> String {
    let list: Value = app.get_json("/api/v1/workflows", token).await;
    list["items"][0]["id"].as_str().expect("workflow id").to_owned()
}

/// Raw points past their retention are deleted; their hourly rollups stay.
async fn retention(app: &TestApp) {
    let t = app.tenant("Retention Studio").await;
    let now = frontdesk_kernel::time::now_ms() / 1000;
    // Five minutes at the start of an hour, 40 days ago: one hourly bucket.
    let old = (now - 40 * 86400) / 3600 * 3600 + 60;
    let batch: Vec<Value> =
        (0..5).map(|i| json!({"metric": "visits", "value": i, "timestamp": old + i * 60})).collect();
    ingest(app, &t.api_key, &Value::Array(batch)).await;
    let insights = frontdesk_insights::Insights::new(app.db.clone());
    assert!(insights.purge_expired().await.expect("purge") >= 5);
    let from = jiff::Timestamp::from_second(old - 3600).expect("ts").to_string();
    let to = jiff::Timestamp::from_second(old + 3600).expect("ts").to_string();
    let get = |resolution: &str| {
        app.client
            .get(app.at("/api/v1/metrics/visits"))
            .query(&[("resolution", resolution), ("from", &from), ("to", &to)])
            .bearer_auth(&t.access_token)
            .send()
    };
    let raw: Value = get("raw").await.expect("send").json().await.expect("json");
    assert_eq!(raw.as_array().map(Vec::len), Some(0), "raw points are gone");
    let hourly: Value = get("hour").await.expect("send").json().await.expect("json");
    assert_eq!(hourly.as_array().map(Vec::len), Some(1), "the hourly rollup stays");
}
both!(retention_purge, retention);

/// A backlog of expired points is purged in bounded batches, each its own transaction (so other
/// writers get the database in between), and nothing fresh goes with it.
async fn retention_backlog(app: &TestApp) {
    use frontdesk_store::{query, query_scalar, Tx};
    let t = app.tenant("Backlog Studio").await;
    let now = frontdesk_kernel::time::now_ms();
    let expired = 2 * frontdesk_insights::store::PURGE_BATCH + 3;
    let mut tx = app.db.system().await.expect("begin");
    query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1)
         INSERT INTO metric_points (tenant_id, metric, series, ts, value, received_at)
         SELECT $2, 'backlog', '', $3 + i * 1000, i, $4 FROM n",
    )
    .bind(expired)
    .bind(t.tenant_id.as_str())
    .bind(now - 40 * 86_400_000)
    .bind(now)
    .execute(tx.conn())
    .await
    .expect("expired points");
    for age in [1_000i64, 2_000] {
        query("INSERT INTO metric_points (tenant_id, metric, series, ts, value, received_at) VALUES ($1, 'backlog', '', $2, 1, $2)")
            .bind(t.tenant_id.as_str())
            .bind(now - age)
            .execute(tx.conn())
            .await
            .expect("fresh point");
    }
    tx.commit().await.expect("commit");

    let before = app.db.sqlite_writer_stats();
    let insights = frontdesk_insights::Insights::new(app.db.clone());
    assert_eq!(insights.purge_expired().await.expect("purge"), expired as u64);
    if let (Some(before), Some(after)) = (before, app.db.sqlite_writer_stats()) {
        assert!(
            after.transactions - before.transactions >= 3,
            "three batches, three transactions: {before:?} {after:?}"
        );
    }
    let mut tx = app.db.system_read().await.expect("read");
    let left: i64 = query_scalar("SELECT COUNT(*) FROM metric_points WHERE tenant_id = $1")
        .bind(t.tenant_id.as_str())
        .fetch_one(tx.conn())
        .await
        .expect("count");
    assert_eq!(left, 2, "the fresh points stay");
}
both!(retention_purge_backlog, retention_backlog);

/// A tenant's own model endpoint: stored with its key sealed, never shown, used with usage metered.
async fn tenant_model_settings(app: &TestApp) {
    use frontdesk_agent::testing::{Reply, StandIn};
    let model = StandIn::start().await;
    model.always(Reply::Text("Hello from the tenant's model.".into()));
    let t = app.tenant("Model Settings Studio").await;
    let view: Value = app.get_json("/api/v1/assistant/model", &t.access_token).await;
    assert_eq!(view["source"], "none");
    let bad = app
        .client
        .put(app.at("/api/v1/assistant/model"))
        .bearer_auth(&t.access_token)
        .json(&json!({"base_url": "ftp://x", "model": ""}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 422);
    let fields: Vec<String> = bad.json::<Value>().await.expect("json")["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(fields.contains(&"base_url".to_owned()) && fields.contains(&"model".to_owned()), "{fields:?}");
    let put = app
        .client
        .put(app.at("/api/v1/assistant/model"))
        .bearer_auth(&t.access_token)
        .json(&json!({"base_url": model.base_url(), "model": "studio-model", "api_key": "sk-tenant-secret-123"}))
        .send()
        .await
        .expect("send");
    assert_eq!(put.status(), 200);
    let text = put.text().await.expect("text");
    assert!(text.contains("\"has_api_key\":true") && !text.contains("sk-tenant-secret-123"), "{text}");
    // The stored settings drive the tenant's model, and its tokens are counted per tenant.
    let keys = frontdesk::app::keyring(&app.config).expect("keys");
    let settings = frontdesk_agent::ModelSettings::new(app.db.clone(), keys, None).expect("settings");
    let tenant = frontdesk_kernel::TenantId::parse(&t.tenant_id).expect("id");
    let metered = settings.provider(&tenant).await.expect("provider").expect("configured");
    let req = frontdesk_agent::ChatRequest::new(vec![frontdesk_agent::ChatMessage::user("hi")]);
    let answer = metered.complete(&tenant, "test", req).await.expect("answer");
    assert_eq!(answer.content, "Hello from the tenant's model.");
    assert_eq!(model.received()[0].header("authorization"), Some("Bearer sk-tenant-secret-123"));
    let usage: Value = app.get_json("/api/v1/usage/llm", &t.access_token).await;
    assert_eq!(usage[0]["calls"], 1, "{usage}");
    assert!(usage[0]["prompt_tokens"].as_i64().unwrap_or(0) > 0);
}
both!(model_settings, tenant_model_settings);
