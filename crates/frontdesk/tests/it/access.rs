//! Route declarations, anonymous callers, bad input, health and the API document.

use crate::both;
use crate::harness::{authed, Cred, TestApp};
use serde_json::{json, Value};

/// Every operation of the OpenAPI document: (method, path, operation).
pub fn operations(app: &TestApp) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in app.openapi["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    ops.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    ops
}

/// The scopes an operation declares; `None` when public.
pub fn scopes(op: &Value) -> Option<Vec<String>> {
    let reqs = op["security"].as_array().expect("every operation declares security");
    let first = reqs.first()?;
    let scopes = first.as_object()?.values().next()?.as_array()?;
    Some(scopes.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
}

/// Path with every `{param}` replaced by `value`.
pub fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e + 1).unwrap_or(rest.len());
        out.push_str(value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

pub fn request(app: &TestApp, method: &str, url: &str) -> reqwest::RequestBuilder {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    app.client.request(m, url)
}

async fn assert_problem(res: reqwest::Response, what: &str) -> Value {
    let status = res.status();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = res.text().await.unwrap_or_default();
    assert!(ct.starts_with("application/problem+json"), "{what}: content type {ct}, body {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert_eq!(v["status"].as_u64(), Some(status.as_u16() as u64), "{what}: {body}");
    assert!(v["type"].as_str().unwrap_or("").starts_with("urn:frontdesk:problem:"), "{what}: {body}");
    v
}

async fn public_and_protected_routes(app: &TestApp) {
    let ops = operations(app);
    assert!(ops.len() >= 40, "the API has its routes ({} found)", ops.len());
    let mut public = Vec::new();
    for (method, path, op) in &ops {
        let url = app.at(&fill(path, "ten_01JD3Q9ZK6Y2V8T4N1M5R7B3XW"));
        match scopes(op) {
            None => {
                assert_eq!(op["security"], json!([]), "{method} {path}: public routes say security: []");
                public.push(format!("{method} {path}"));
            }
            Some(_) => {
                let res = request(app, method, &url).json(&json!({})).send().await.expect("send");
                assert_eq!(res.status(), 401, "{method} {path} must refuse anonymous callers");
                assert_problem(res, &format!("{method} {path}")).await;
            }
        }
    }
    for expected in ["POST /api/v1/auth/signup", "POST /api/v1/auth/token", "GET /health", "GET /health/ready"] {
        assert!(public.contains(&expected.to_owned()), "{expected} is public; public: {public:?}");
    }
    // Pages: a protected page redirects an anonymous browser to the log-in page.
    for (method, path, req) in app.route_table.iter() {
        if path.starts_with("/api/") || *method != reqwest::Method::GET || req == frontdesk_web::Requirement::Public {
            continue;
        }
        let res = app.client.get(app.at(&fill(path, "x"))).header("accept", "text/html").send().await.expect("send");
        assert_eq!(res.status(), 303, "GET {path} redirects anonymous browsers");
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(location.starts_with("/login?next="), "GET {path} → {location}");
    }
}
both!(public_and_protected, public_and_protected_routes);

async fn bad_input_is_problem_json(app: &TestApp) {
    let t = app.tenant("Bad Input Studio").await;
    let cred = Cred::Token(t.access_token.clone());
    // (what, body, must be refused): the lenient ones may be valid for all-optional bodies.
    let huge = format!(r#"{{"name": "{}", "email": "{}@x.com"}}"#, "x".repeat(5000), "y".repeat(300));
    let bodies: [(&str, &str, bool); 6] = [
        ("not json", "{nope", true),
        ("array", "[]", true),
        (
            "wrong types",
            r#"{"email": 5, "password": [], "name": {}, "role": "EMPEROR", "tenant_name": 1, "locale": 7}"#,
            true,
        ),
        (
            "empty strings",
            r#"{"email": "", "password": "", "name": "", "tenant_name": "", "refresh_token": "", "token": "", "code": "", "current_password": "", "new_password": ""}"#,
            false,
        ),
        ("huge string", &huge, false),
        ("nulls", r#"{"email": null, "name": null, "role": null}"#, false),
    ];
    for (method, path, op) in operations(app) {
        if method == "GET" || path.contains("revoke-all") || path.ends_with("/logout") {
            continue;
        }
        let url = app.at(&fill(&path, "mem_01JD3Q9ZK6Y2V8T4N1M5R7B3XW"));
        for (what, body, strict) in &bodies {
            let res = authed(request(app, &method, &url), &cred)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            if op.get("requestBody").is_some() && *strict {
                assert!((400..500).contains(&status), "{method} {path} with {what}: {status}");
                assert_problem(res, &format!("{method} {path} with {what}")).await;
            } else if status >= 400 {
                assert!(status < 500, "{method} {path} with {what}: {status}");
                assert_problem(res, &format!("{method} {path} with {what}")).await;
            } else {
                assert!(status < 500, "{method} {path} with {what}: {status}");
            }
        }
        // Wrong content type.
        if op.get("requestBody").is_some() {
            let res = authed(request(app, &method, &url), &cred).body("a=b").send().await.expect("send");
            assert!(res.status().is_client_error(), "{method} {path} without JSON content type");
            assert_problem(res, &format!("{method} {path} form body")).await;
        }
    }
    // Query parameters and malformed ids.
    for (path, q) in [
        ("/api/v1/members", "limit=abc"),
        ("/api/v1/members", "limit=0"),
        ("/api/v1/api-keys", "cursor=%%%"),
        ("/api/v1/audit-log", "since=yesterday"),
    ] {
        let res = authed(app.client.get(app.at(&format!("{path}?{q}"))), &cred).send().await.expect("send");
        assert!(res.status().is_client_error(), "{path}?{q}: {}", res.status());
        let v = assert_problem(res, &format!("{path}?{q}")).await;
        assert!(v["errors"][0]["field"].as_str().is_some_and(|f| !f.is_empty()), "{path}?{q} names the field: {v}");
    }
    let res = authed(app.client.get(app.at("/api/v1/members/'%20OR%201=1")), &cred).send().await.expect("send");
    assert_eq!(res.status(), 404);
    // A validation error names each field at fault.
    let res = app
        .client
        .post(app.at("/api/v1/auth/signup"))
        .json(&json!({"tenant_name": "", "name": "A", "email": "not-an-email", "password": "short"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    let v = assert_problem(res, "signup validation").await;
    let fields: Vec<&str> =
        v["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    for f in ["tenant_name", "email", "password"] {
        assert!(fields.contains(&f), "{f} named in {fields:?}");
    }
}
both!(bad_input, bad_input_is_problem_json);

async fn health_metrics_and_docs(app: &TestApp) {
    for path in ["/health", "/health/live", "/health/ready"] {
        let res = app.client.get(app.at(path)).send().await.expect("send");
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers().contains_key("x-request-id"));
        assert_eq!(res.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    }
    let metrics = app.client.get(app.at("/metrics")).send().await.expect("send").text().await.expect("text");
    assert!(
        metrics.contains("frontdesk_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("frontdesk_jobs{state=\"queued\"}"));
    assert!(metrics.contains("frontdesk_http_request_duration_seconds_bucket"));
    // SQLite's group commit reports its batches (transactions per fsync); PostgreSQL has none.
    let sqlite = app.db.backend() == frontdesk_store::Backend::Sqlite;
    let counter =
        |name: &str| metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok());
    match (counter("frontdesk_sqlite_transactions_total"), counter("frontdesk_sqlite_commits_total")) {
        (Some(tx), Some(commits)) => assert!(sqlite && tx >= commits && commits > 0, "{tx} {commits}"),
        (None, None) => assert!(!sqlite, "{metrics}"),
        other => panic!("half the writer's counters: {other:?}"),
    }
    let doc: Value =
        app.client.get(app.at("/api/openapi.json")).send().await.expect("send").json().await.expect("json");
    assert!(doc["paths"]["/api/v1/members/{member_id}"]["patch"]["description"]
        .as_str()
        .unwrap_or("")
        .contains("owner"));
    let docs = app.client.get(app.at("/api/docs")).send().await.expect("send");
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.expect("text").contains("api-keys"));
    // The operator's detailed health; refused to a tenant owner.
    let t = app.tenant("Health Studio").await;
    let res = app.client.get(app.at("/health/detailed")).bearer_auth(&t.access_token).send().await.expect("send");
    assert_eq!(res.status(), 403);
    let res = app.client.get(app.at("/nowhere")).send().await.expect("send");
    assert_eq!(res.status(), 404);
    assert_problem(res, "unknown route").await;
}
both!(health_and_docs, health_metrics_and_docs);

/// Behind https, browsers are told to stay on https (HSTS) and cookies are Secure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_deployments_send_hsts() {
    let plain = TestApp::spawn(crate::harness::Backend::Sqlite).await;
    let res = plain.client.get(plain.at("/health")).send().await.expect("send");
    assert!(res.headers().get("strict-transport-security").is_none());
    plain.stop().await;
    let app =
        TestApp::spawn_with(crate::harness::Backend::Sqlite, |c| c.public_url = Some("https://studio.example".into()))
            .await;
    let res = app.client.get(app.at("/health")).send().await.expect("send");
    assert!(res
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("max-age=")));
    app.stop().await;
}

/// With REDIS_URL set, the per-IP limit lives in Redis (shared by replicas) and answers 429
/// with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_in_redis() {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let app = TestApp::spawn_with(crate::harness::Backend::Sqlite, |c| {
        c.redis_url = Some(redis);
        c.rate_limit_per_ip = 5;
    })
    .await;
    let mut limited = None;
    for _ in 0..12 {
        let res = app.client.get(app.at("/health/live")).send().await.expect("send");
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the sixth request within a minute is limited");
    assert!(res.headers().get("retry-after").is_some());
    assert_problem(res, "rate limited").await;
    app.stop().await;
}
