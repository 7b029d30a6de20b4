//! Tenants kept apart on the public chat and the staff API; no secret in a public answer; CORS
//! per tenant; rate limits per visitor; idempotent re-sends.

use super::*;
use crate::both;
use crate::harness::{unique, Backend};
use frontdesk_agent::testing::{Reply, StandIn};
use futures_util::future::join_all;

/// Everything a visitor's browser receives from the public endpoints of `slug`, as raw text:
/// bootstrap, widget, a chat answer, a streamed answer, the history, the replayed events.
async fn public_bodies(app: &TestApp, slug: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let text = |res: reqwest::Response| async move {
        assert!(res.status().is_success(), "{}", res.url());
        res.text().await.expect("body")
    };
    let q = [("tenant", slug)];
    out.push((
        "bootstrap".into(),
        text(app.client.get(app.at("/api/v1/public/bootstrap")).query(&q).send().await.expect("send")).await,
    ));
    out.push(("widget.js".into(), text(app.client.get(app.at("/widget.js")).send().await.expect("send")).await));
    let chat_body = text(
        app.client
            .post(app.at("/api/v1/public/chat"))
            .query(&q)
            .json(&json!({"message": "Where can I park?"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    let answer: Value = serde_json::from_str(&chat_body).expect("json");
    let token = answer["visitor_token"].as_str().expect("token").to_owned();
    let first = answer["message"]["id"].as_str().expect("id").to_owned();
    out.push(("chat".into(), chat_body));
    let stream_body = text(
        app.client
            .post(app.at("/api/v1/public/chat/stream"))
            .query(&q)
            .json(&json!({"message": "And is there a shower?", "visitor_token": token}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    out.push(("chat/stream".into(), stream_body));
    let history = app.client.get(app.at("/api/v1/public/history")).query(&q).header("x-visitor-token", &token);
    out.push(("history".into(), text(history.send().await.expect("send")).await));
    // The events stream replays everything after the first message, then stays open.
    let res = app
        .client
        .get(app.at("/api/v1/public/events"))
        .query(&[("tenant", slug), ("after", first.as_str())])
        .header("x-visitor-token", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let mut live = Live::new(res);
    let mut replayed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Some(event) = live.next(deadline).await {
        replayed.push(format!("{} {}", event.name, event.data));
        if replayed.len() == 3 {
            break; // the chat's reply, the streamed message and its reply
        }
    }
    assert_eq!(replayed.len(), 3, "{replayed:?}");
    out.push(("events".into(), replayed.join("\n")));
    out
}

/// Unknown and malformed tenants are 404 everywhere (never a default tenant); a visitor token or
/// a conversation of one tenant is worthless at another; no public answer carries a secret or
/// another tenant's settings.
async fn tenants_stay_apart(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("There is parking behind the building.".into()));
    let a = app.tenant("Alpha Studio").await;
    let b = app.tenant("Beta Studio").await;
    let mark = unique("").to_uppercase();
    let persona = format!("PERSONA{mark}");
    let instructions = format!("INSTRUCTIONS{mark}");
    let faq_answer = format!("FAQANSWER{mark}");
    let api_key = format!("sk-KEY{mark}");
    let greeting = format!("Welcome to Alpha GREETING{mark}");
    put_settings(
        app,
        &a,
        json!({"persona": persona, "instructions": instructions, "greeting": greeting,
               "faq": [{"question": "What is the door code?", "answer": faq_answer}],
               "widget": {"color": "#a1b2c3"}}),
    )
    .await;
    use_model(app, &a, &model, json!({"api_key": api_key})).await;
    let res = app
        .client
        .post(app.at("/api/v1/webhooks/endpoints"))
        .bearer_auth(&a.access_token)
        .json(&json!({"url": "http://127.0.0.1:9/hook", "event_types": ["conversation.resolved"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let webhook_secret = res.json::<Value>().await.expect("json")["secret"].as_str().expect("secret").to_owned();

    let seen_a = public_bodies(app, &a.slug).await;
    let seen_b = public_bodies(app, &b.slug).await;
    for (what, body) in seen_a.iter().chain(&seen_b) {
        for secret in [&persona, &instructions, &faq_answer, &api_key, &webhook_secret] {
            assert!(!body.contains(secret.as_str()), "{what} leaks {secret}: {body}");
        }
    }
    for (what, body) in &seen_b {
        for a_setting in [greeting.as_str(), "#a1b2c3", "Alpha"] {
            assert!(!body.contains(a_setting), "B's {what} shows A's {a_setting}: {body}");
        }
    }
    // Positive controls: A's public look is public, and the private settings were in force.
    assert!(seen_a[0].1.contains(&greeting) && seen_a[0].1.contains("#a1b2c3"), "{}", seen_a[0].1);
    let asked = model.received();
    assert!(asked.iter().any(|r| r.body.to_string().contains(&persona) && r.body.to_string().contains(&faq_answer)));
    assert!(asked.iter().all(|r| r.header("authorization") == Some(format!("Bearer {api_key}").as_str())));

    // Unknown and malformed tenants: 404 problem+json on every public endpoint.
    let a_answer = say(app, &a.slug, None, "Do you sell gift cards?").await;
    let a_token = a_answer["visitor_token"].as_str().expect("token").to_owned();
    let a_conversation = a_answer["conversation_id"].as_str().expect("id").to_owned();
    let unknown = format!("no-such-studio-{}", mark.to_lowercase());
    let long = "x".repeat(80);
    for slug in [Some(unknown.as_str()), Some("Bad Slug!"), Some("../etc/passwd"), Some(long.as_str()), Some(""), None]
    {
        let q: Vec<(&str, &str)> = slug.map(|s| vec![("tenant", s)]).unwrap_or_default();
        let message = json!({"message": "Hello", "visitor_token": a_token});
        let requests = [
            ("bootstrap", app.client.get(app.at("/api/v1/public/bootstrap")).query(&q)),
            ("chat", app.client.post(app.at("/api/v1/public/chat")).query(&q).json(&message)),
            ("chat/stream", app.client.post(app.at("/api/v1/public/chat/stream")).query(&q).json(&message)),
            ("history", app.client.get(app.at("/api/v1/public/history")).query(&q).header("x-visitor-token", &a_token)),
            ("events", app.client.get(app.at("/api/v1/public/events")).query(&q).header("x-visitor-token", &a_token)),
        ];
        for (what, request) in requests {
            assert_problem(request.send().await.expect("send"), 404, &format!("{what} for tenant {slug:?}")).await;
        }
    }

    // A's visitor token at B: 401, in the body or the header, on every endpoint that takes one.
    let q = [("tenant", b.slug.as_str())];
    let requests = [
        (
            "chat",
            app.client
                .post(app.at("/api/v1/public/chat"))
                .query(&q)
                .json(&json!({"message": "Hi", "visitor_token": a_token})),
        ),
        (
            "chat header",
            app.client
                .post(app.at("/api/v1/public/chat"))
                .query(&q)
                .header("x-visitor-token", &a_token)
                .json(&json!({"message": "Hi"})),
        ),
        (
            "chat/stream",
            app.client
                .post(app.at("/api/v1/public/chat/stream"))
                .query(&q)
                .json(&json!({"message": "Hi", "visitor_token": a_token})),
        ),
        ("history", app.client.get(app.at("/api/v1/public/history")).query(&q).header("x-visitor-token", &a_token)),
        ("events", app.client.get(app.at("/api/v1/public/events")).query(&q).header("x-visitor-token", &a_token)),
    ];
    for (what, request) in requests {
        assert_problem(request.send().await.expect("send"), 401, &format!("A's token at B: {what}")).await;
    }
    let mut forged = a_token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let res = app
        .client
        .get(app.at("/api/v1/public/history"))
        .query(&[("tenant", a.slug.as_str())])
        .header("x-visitor-token", forged);
    assert_problem(res.send().await.expect("send"), 401, "an altered token").await;

    // A's conversation in B's staff API: 404 for reading and for every change.
    let base = format!("/api/v1/conversations/{a_conversation}");
    let requests = [
        ("get", app.client.get(app.at(&base))),
        ("messages", app.client.get(app.at(&format!("{base}/messages")))),
        ("reply", app.client.post(app.at(&format!("{base}/messages"))).json(&json!({"text": "Hi from B"}))),
        ("takeover", app.client.post(app.at(&format!("{base}/takeover")))),
        ("handback", app.client.post(app.at(&format!("{base}/handback")))),
        ("resolve", app.client.post(app.at(&format!("{base}/resolve")))),
        ("labels", app.client.put(app.at(&format!("{base}/labels"))).json(&json!({"labels": ["b"]}))),
        ("assignee", app.client.put(app.at(&format!("{base}/assignee"))).json(&json!({"user_id": null}))),
        (
            "events",
            app.client.get(app.at("/api/v1/conversations/events")).query(&[("conversation", a_conversation.as_str())]),
        ),
    ];
    for (what, request) in requests {
        assert_problem(
            request.bearer_auth(&b.access_token).send().await.expect("send"),
            404,
            &format!("B's staff: {what}"),
        )
        .await;
    }
    let untouched = staff_conversation(app, &a.access_token, &a_conversation).await;
    assert_eq!((untouched["status"].as_str(), untouched["labels"].clone()), (Some("open"), json!([])), "{untouched}");
    let messages = staff_messages(app, &a.access_token, &a_conversation).await;
    assert!(by(&messages, "staff").is_empty(), "{messages:#?}");
}
both!(tenant_confusion, tenants_stay_apart, |c: &mut frontdesk::config::Config| super::fast(c));

/// A tenant's allowed origins: other origins get 403 problem+json (and nothing is stored);
/// preflights on the public paths answer; a tenant without a list accepts any origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_per_tenant() {
    let app = TestApp::spawn_with(Backend::Sqlite, fast).await;
    let a = app.tenant("Origin Studio").await;
    let b = app.tenant("Open Studio").await;
    // Written as an admin might; kept as browsers send it.
    put_settings(&app, &a, json!({"allowed_origins": ["https://Studio.Example:443/"]})).await;
    let good = "https://studio.example";
    let evil = "https://evil.example";
    let q = [("tenant", a.slug.as_str())];

    let bootstrap = app.client.get(app.at("/api/v1/public/bootstrap")).query(&q).header("origin", evil);
    assert_problem(bootstrap.send().await.expect("send"), 403, "bootstrap from another origin").await;
    let chat = app.client.post(app.at("/api/v1/public/chat")).query(&q).header("origin", evil);
    assert_problem(chat.json(&json!({"message": "Hi"})).send().await.expect("send"), 403, "chat from another origin")
        .await;
    let stream = app.client.post(app.at("/api/v1/public/chat/stream")).query(&q).header("origin", evil);
    assert_problem(
        stream.json(&json!({"message": "Hi"})).send().await.expect("send"),
        403,
        "stream from another origin",
    )
    .await;
    let inbox = app.get_json("/api/v1/conversations", &a.access_token).await;
    assert_eq!(inbox["items"], json!([]), "nothing was stored: {inbox}");

    for (method, path) in [("GET", "/api/v1/public/bootstrap"), ("POST", "/api/v1/public/chat")] {
        let request = if method == "GET" { app.client.get(app.at(path)) } else { app.client.post(app.at(path)) };
        let request = if method == "POST" { request.json(&json!({"message": "Hi"})) } else { request };
        let res = request.query(&q).header("origin", good).send().await.expect("send");
        assert_eq!(res.status(), 200, "{path} from the allowed origin");
        assert_eq!(
            res.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
            Some(good),
            "{path}"
        );
    }

    // Preflights of the widget's requests.
    for (path, method, headers) in [
        ("/api/v1/public/chat", "POST", "content-type,x-visitor-token"),
        ("/api/v1/public/chat/stream", "POST", "content-type,x-visitor-token"),
        ("/api/v1/public/history", "GET", "x-visitor-token"),
    ] {
        let res = app
            .client
            .request(reqwest::Method::OPTIONS, app.at(path))
            .query(&q)
            .header("origin", good)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .expect("send");
        assert!(res.status().is_success(), "preflight {path}: {}", res.status());
        let h = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_lowercase();
        assert_eq!(h("access-control-allow-origin"), good, "{path}");
        assert!(h("access-control-allow-methods").contains(method.to_lowercase().as_str()), "{path}");
        assert!(h("access-control-allow-headers").contains("x-visitor-token"), "{path}");
    }

    // A tenant without a list: any origin.
    let open =
        app.client.get(app.at("/api/v1/public/bootstrap")).query(&[("tenant", b.slug.as_str())]).header("origin", evil);
    assert_eq!(open.send().await.expect("send").status(), 200);
    // The staff API is not opened to other origins by the public chat's CORS.
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.at("/api/v1/conversations"))
        .header("origin", evil)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("send");
    assert!(res.headers().get("access-control-allow-origin").is_none(), "{:?}", res.headers());
    app.stop().await;
}

/// Three messages a minute per visitor, five per address and tenant: the next is 429
/// problem+json with `Retry-After`, and is not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_visitor_and_address() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        fast(c);
        c.chat_limit_per_visitor = 3;
        c.chat_limit_per_ip = 5;
    })
    .await;
    let a = app.tenant("Limit Studio").await;
    let b = app.tenant("Other Limit Studio").await;
    let first = say(&app, &a.slug, None, "Hello").await;
    let token = first["visitor_token"].as_str().expect("token").to_owned();
    for text in ["Are you open today?", "Do you have towels?"] {
        say(&app, &a.slug, Some(&token), text).await;
    }
    let res = app
        .client
        .post(app.at("/api/v1/public/chat"))
        .query(&[("tenant", a.slug.as_str())])
        .json(&json!({"message": "One more?", "visitor_token": token}))
        .send()
        .await
        .expect("send");
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(res, 429, "the fourth message of a visitor").await;
    assert_eq!(problem["code"], "rate_limited");
    let conversation = first["conversation_id"].as_str().expect("id");
    assert_eq!(by(&staff_messages(&app, &a.access_token, conversation).await, "customer").len(), 3);

    // Another visitor from the same address still has the address's fifth message…
    say(&app, &a.slug, None, "Hi from another visitor").await;
    // …and then the address is limited too, for this tenant only.
    let (status, body) = chat(&app, &a.slug, json!({"message": "And another one"})).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    say(&app, &b.slug, None, "Hello other studio").await;
    app.stop().await;
}

/// The same `client_message_id` sent again — after the first finished, or at the same time —
/// stores one message and answers it once.
async fn resend_is_stored_once(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("Yes, we take cards.".into()));
    let t = app.tenant("Resend Studio").await;
    use_model(app, &t, &model, json!({})).await;
    let first = say(app, &t.slug, None, "Hello").await;
    let token = first["visitor_token"].as_str().expect("token").to_owned();
    let conversation = first["conversation_id"].as_str().expect("id").to_owned();

    let body = json!({"message": "Can I pay by card?", "client_message_id": "widget-1", "visitor_token": token});
    let (s1, one) = chat(app, &t.slug, body.clone()).await;
    let (s2, two) = chat(app, &t.slug, body.clone()).await;
    assert_eq!((s1, s2), (200, 200), "{one} {two}");
    assert_eq!(one["message"]["id"], two["message"]["id"]);
    assert_eq!(one["replies"], two["replies"], "the re-send shows the same answer");
    let events = stream(app, &t.slug, body).await;
    assert_eq!(named(&events, "accepted")[0]["message"]["id"], one["message"]["id"]);
    assert_eq!(named(&events, "message").first().map(|m| &m["id"]), Some(&one["replies"][0]["id"]));

    // Two sends racing each other.
    let body = json!({"message": "Do you have a sauna?", "client_message_id": "widget-2", "visitor_token": token});
    let raced = join_all([chat(app, &t.slug, body.clone()), chat(app, &t.slug, body)]).await;
    assert!(raced.iter().all(|(s, _)| *s == 200), "{raced:?}");
    assert_eq!(raced[0].1["message"]["id"], raced[1].1["message"]["id"], "{raced:?}");

    let messages =
        messages_until(app, &t.access_token, &conversation, Duration::from_secs(15), |m| by(m, "agent").len() >= 3)
            .await;
    let texts: Vec<&str> = by(&messages, "customer").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["Hello", "Can I pay by card?", "Do you have a sauna?"]);
    assert_eq!(by(&messages, "agent").len(), 3, "{messages:#?}");
    assert_eq!(model.received().len(), 3, "each message went to the model once");
}
both!(idempotent_resend, resend_is_stored_once, |c: &mut frontdesk::config::Config| super::fast(c));
