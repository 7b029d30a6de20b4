//! `Idempotency-Key`: a retried POST never creates twice.

use crate::both;
use crate::harness::TestApp;
use serde_json::{json, Value};

async fn retries_are_replayed(app: &TestApp) {
    let t = app.tenant("Idem Studio").await;
    let post = |body: Value, key: &'static str, token: String| {
        app.client
            .post(app.at("/api/v1/workspaces"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = post(json!({"name": "Downtown"}), "create-downtown-1", t.access_token.clone()).await.expect("send");
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body: Value = first.json().await.expect("json");
    let again = post(json!({"name": "Downtown"}), "create-downtown-1", t.access_token.clone()).await.expect("send");
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(again.json::<Value>().await.expect("json"), first_body, "the same answer");
    let list: Value = app.get_json("/api/v1/workspaces", &t.access_token).await;
    assert_eq!(list.as_array().expect("array").iter().filter(|w| w["name"] == "Downtown").count(), 1, "created once");
    // The same key for another request is refused, naming the header.
    let res = post(json!({"name": "Uptown"}), "create-downtown-1", t.access_token.clone()).await.expect("send");
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    // Keys belong to their caller: the API key may use the same key for its own request.
    let res = post(json!({"name": "Uptown"}), "create-downtown-1", t.api_key.clone()).await.expect("send");
    assert_eq!(res.status(), 201);
    // A malformed key is refused.
    let res = app
        .client
        .post(app.at("/api/v1/workspaces"))
        .bearer_auth(&t.access_token)
        .header("idempotency-key", "")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    // A validation failure is an answer too: replayed, not re-run.
    let bad = post(json!({"name": ""}), "bad-1", t.access_token.clone()).await.expect("send");
    assert_eq!(bad.status(), 422);
    let bad_again = post(json!({"name": ""}), "bad-1", t.access_token.clone()).await.expect("send");
    assert_eq!(bad_again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
}
both!(idempotency_keys, retries_are_replayed);
