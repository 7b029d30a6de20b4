//! The knowledge base through the real application: upload and ingestion on the job queue,
//! search with citations (full text only without a model, and saying so), the FAQ and gaps,
//! permissions, another tenant's view, deletion, the dashboard page and the CLI.

use crate::both;
use crate::harness::{authed, Cred, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const GUIDE: &str = "# Harbour Studio\n\n## Opening hours\n\nWe open at six every morning.\n\n## Prices\n\n\
                     | Plan | Price |\n|---|---|\n| Monthly | 39 euros |\n";

/// Polls a source until its ingestion finished.
async fn ready(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let s = app.get_json(&format!("/api/v1/knowledge/sources/{id}"), token).await;
        if s["status"] == "ready" || s["status"] == "failed" {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("source {id} was not ingested in time");
}

async fn upload(app: &TestApp, token: &str, name: &str, body: &str) -> Value {
    let res = app
        .client
        .post(app.at(&format!("/api/v1/knowledge/uploads?filename={name}&tags=guide")))
        .bearer_auth(token)
        .header("content-type", "text/markdown")
        .body(body.to_owned())
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), 202, "upload");
    res.json().await.expect("json")
}

async fn knowledge_through_the_api(app: &TestApp) {
    let a = app.tenant("Alpha Studio").await;
    let b = app.tenant("Beta Studio").await;
    let src = upload(app, &a.api_key, "guide.md", GUIDE).await;
    let id = src["id"].as_str().expect("id").to_owned();
    let s = ready(app, &a.api_key, &id).await;
    assert_eq!(
        (s["status"].as_str(), s["chunks"].as_u64(), s["version"].as_u64()),
        (Some("ready"), Some(2), Some(1)),
        "{s}"
    );
    upload(app, &b.api_key, "guide.md", &GUIDE.replace("Harbour", "Beta")).await;

    let r = app.get_json("/api/v1/knowledge/search?q=how%20much%20is%20the%20monthly%20plan", &a.access_token).await;
    assert_eq!(r["mode"], "bm25", "{r}");
    assert!(r["mode_reason"].as_str().is_some_and(|m| m.contains("no embedding model")), "{r}");
    let top = &r["results"][0];
    assert_eq!(top["citation"]["locator"], "guide.md");
    assert_eq!(top["citation"]["section"], "Harbour Studio › Prices");
    assert!(top["passage"].as_str().is_some_and(|p| p.contains("39 euros")));
    assert!(top["score"].as_f64().is_some());

    // Another tenant sees neither the source nor its passages.
    let other = app
        .client
        .get(app.at(&format!("/api/v1/knowledge/sources/{id}")))
        .bearer_auth(&b.access_token)
        .send()
        .await
        .expect("get");
    assert_eq!(other.status(), 404);
    let rb = app.get_json("/api/v1/knowledge/search?q=Harbour&limit=50", &b.access_token).await;
    assert!(rb["results"].as_array().is_some_and(|r| r.is_empty()), "{rb}");

    // FAQ: searchable at once; gaps: recorded, counted, accepted.
    let res = app
        .client
        .post(app.at("/api/v1/knowledge/faq"))
        .bearer_auth(&a.api_key)
        .json(&json!({"question": "Is there parking?", "answer": "Yes, twenty spaces behind the studio."}))
        .send()
        .await
        .expect("faq");
    assert_eq!(res.status(), 201);
    let r = app.get_json("/api/v1/knowledge/search?q=parking", &a.access_token).await;
    assert_eq!(r["results"][0]["citation"]["source_kind"], "faq", "{r}");
    for _ in 0..2 {
        let res = app
            .client
            .post(app.at("/api/v1/knowledge/gaps"))
            .bearer_auth(&a.api_key)
            .json(&json!({"question": "Do you sell gift cards?", "conversation_ref": "cnv_test"}))
            .send()
            .await
            .expect("gap");
        assert_eq!(res.status(), 200);
    }
    let gaps = app.get_json("/api/v1/knowledge/gaps", &a.access_token).await;
    assert_eq!((gaps[0]["asked"].as_u64(), gaps.as_array().map(Vec::len)), (Some(2), Some(1)), "{gaps}");
    let gap_id = gaps[0]["id"].as_str().expect("gap id");
    let res = app
        .client
        .post(app.at(&format!("/api/v1/knowledge/gaps/{gap_id}/accept")))
        .bearer_auth(&a.api_key)
        .json(&json!({"answer": "Yes, at the front desk."}))
        .send()
        .await
        .expect("accept");
    assert_eq!(res.status(), 201);
    let r = app.get_json("/api/v1/knowledge/search?q=gift%20cards", &a.access_token).await;
    assert_eq!(r["results"][0]["passage"], "Yes, at the front desk.");

    // A viewer reads but cannot change; validation names the field.
    let (_, viewer) = app.member(&a, "VIEWER").await;
    assert_eq!(app.get_json("/api/v1/knowledge/sources", &viewer).await["items"].as_array().map(Vec::len), Some(2));
    let res = app
        .client
        .delete(app.at(&format!("/api/v1/knowledge/sources/{id}")))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.at("/api/v1/knowledge/sources"))
        .bearer_auth(&a.api_key)
        .json(&json!({"kind": "url", "url": "http://127.0.0.1:9/admin"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "url", "{problem}");

    // The dashboard page: sources, a tried question with its citation, the FAQ.
    let session = Cred::Session(a.session.0.clone(), a.session.1.clone());
    let page = authed(app.client.get(app.at("/app/knowledge?q=opening%20hours")), &session).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("id=\"search-results\"") && html.contains("Harbour Studio › Opening hours"), "{html}");
    assert!(html.contains("Is there parking?") && html.contains("guide.md"));

    // Deleting the source removes its passages at once.
    let res = app
        .client
        .delete(app.at(&format!("/api/v1/knowledge/sources/{id}")))
        .bearer_auth(&a.api_key)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    let r = app.get_json("/api/v1/knowledge/search?q=opening%20hours%20prices", &a.access_token).await;
    assert!(r["results"].as_array().is_some_and(|r| r.iter().all(|x| x["citation"]["locator"] != "guide.md")), "{r}");
}

both!(knowledge_api, knowledge_through_the_api, |c: &mut frontdesk::config::Config| {
    c.embedding_provider = "off".into();
});

#[test]
fn cli_imports_and_searches() {
    let dir = std::env::temp_dir().join(crate::harness::unique("frontdesk-kn-cli-"));
    let docs = dir.join("docs");
    std::fs::create_dir_all(docs.join("team")).expect("dirs");
    std::fs::write(docs.join("guide.md"), GUIDE).expect("write");
    std::fs::write(docs.join("team/coaches.md"), "# Coaches\n\nAnna teaches yoga on Mondays.").expect("write");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .env("FRONTDESK_PASSWORD", "cli password 12345")
            .env("FRONTDESK_EMBEDDING_PROVIDER", "off")
            .env_remove("DATABASE_URL")
            .output()
            .expect("run frontdesk");
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "{args:?}: {stderr}");
        stdout
    };
    run(&["tenant", "create", "--name", "Kn Studio", "--owner-email", "kn@example.com"]);
    let out = run(&["knowledge", "import", "--tenant", "kn-studio", docs.to_str().expect("path")]);
    assert!(
        out.contains("guide.md: added (2 passages)") && out.contains("team/coaches.md: added (1 passages)"),
        "{out}"
    );
    let again = run(&["knowledge", "import", "--tenant", "kn-studio", docs.to_str().expect("path")]);
    assert!(again.contains("guide.md: unchanged"), "{again}");
    let json: Value = serde_json::from_str(&run(&[
        "knowledge",
        "search",
        "--tenant",
        "kn-studio",
        "--json",
        "--limit",
        "3",
        "who",
        "teaches",
        "yoga",
    ]))
    .expect("json");
    assert_eq!(json["results"][0]["citation"]["locator"], "team/coaches.md", "{json}");
    assert_eq!(json["results"][0]["citation"]["document_title"], "Coaches");
    let out = run(&["knowledge", "reindex", "--tenant", "kn-studio"]);
    assert!(out.contains("3 passages"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
