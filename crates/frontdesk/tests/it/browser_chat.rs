//! The web chat and the staff inbox in a real headless Chromium, live on both sides.
//!
//! A visitor chats through the widget embedded in another site (its own loopback server): the
//! answer of the tenant's model (the OpenAI stand-in, in paced chunks) streams in, and a reload
//! shows the history. A staff member signed in to the dashboard sees the conversation arrive in
//! the inbox without reloading, opens it (with the agent's trace), takes it over and replies; the
//! widget shows the notice and the reply without reloading, and the visitor's next message reaches
//! the open conversation page live. Last, the assistant page's script adds and removes FAQ rows.
//!
//! The same pages also work without JavaScript: [`forms_without_javascript`] posts every form as
//! a browser without scripts does (url-encoded, CSRF field, 303 on success, the page again with
//! the errors next to their fields on failure), on SQLite and PostgreSQL.

use crate::both;
use crate::conversations::{fast, say, staff_conversation, staff_messages, use_model};
use crate::harness::{Backend, TenantCtx, TestApp, PASSWORD};
use crate::webdriver::Browser;
use frontdesk_agent::testing::{Reply, Shape, StandIn};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const QUESTION: &str = "When do you open on Saturdays?";
const ANSWER: &str = "On Saturdays we open at nine and close at two in the afternoon. See you then!";
const STAFF_REPLY: &str = "Hi, this is the team: we also have a yoga class at ten.";
const FOLLOW_UP: &str = "Great, thanks a lot!";

/// Every wait is bounded; the CI machine has two cores and runs two browsers here.
const WAIT: Duration = Duration::from_secs(20);

/// Opens the widget's shadow root as `r` (null until the widget is built) for a script.
const WIDGET: &str = "const host = document.querySelector('frontdesk-widget'); \
                      const r = host && host.shadowRoot;";

/// The tenant's website: one page embedding the widget, on its own origin.
struct HostSite {
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl HostSite {
    async fn start(app_url: &str, slug: &str) -> HostSite {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Studio</title></head>\
             <body><h1>Welcome to the studio</h1>\
             <script src=\"{app_url}/widget.js\" data-tenant=\"{slug}\" async></script></body></html>"
        );
        let router =
            axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(html) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the host site");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        HostSite { url: format!("http://{addr}/"), server }
    }
}

impl Drop for HostSite {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Runs `body` (with `r`, the widget's shadow root, in scope) until it returns something other
/// than `null`/`false`, and returns that.
async fn until(b: &Browser, what: &str, body: &str, args: Vec<Value>) -> Value {
    let script = format!("{WIDGET} {body}");
    let deadline = Instant::now() + WAIT;
    loop {
        let v = b.execute(&script, args.clone()).await;
        if !(v.is_null() || v == json!(false)) {
            return v;
        }
        if Instant::now() > deadline {
            let state = b
                .execute(&format!("{WIDGET} return r ? r.innerHTML.slice(-3000) : document.body.innerText"), vec![])
                .await;
            panic!("waited {WAIT:?} for {what}; the page shows: {state}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// The widget's messages as `[author, text, id, streaming]`.
async fn widget_messages(b: &Browser) -> Vec<Value> {
    let script = format!(
        "{WIDGET} if (!r) return []; return Array.from(r.querySelectorAll('[data-fd=message]')).map((m) => [\
           m.getAttribute('data-author'), \
           (m.querySelector('[data-fd=message-text]') || {{textContent: ''}}).textContent, \
           m.getAttribute('data-id'), m.hasAttribute('data-streaming')])"
    );
    b.execute(&script, vec![]).await.as_array().cloned().unwrap_or_default()
}

/// Opens the panel and sends `text` as the visitor types it.
async fn send_in_widget(b: &Browser, text: &str) {
    until(
        b,
        "the widget's input",
        "if (!r) return null; const p = r.querySelector('[data-fd=panel]'); \
         if (p && p.hidden) r.querySelector('[data-fd=launcher]').click(); \
         const i = r.querySelector('[data-fd=input]'); return !!(p && !p.hidden && i);",
        vec![],
    )
    .await;
    b.execute(
        &format!(
            "{WIDGET} const i = r.querySelector('[data-fd=input]'); i.focus(); i.value = arguments[0]; \
             i.dispatchEvent(new Event('input', {{bubbles: true}})); r.querySelector('[data-fd=send]').click(); return true;"
        ),
        vec![json!(text)],
    )
    .await;
}

/// Marks the page; [`still_same_page`] then proves nothing reloaded it.
async fn mark_page(b: &Browser) {
    b.execute("window.__fdMark = 'unchanged'; return true;", vec![]).await;
}

async fn still_same_page(b: &Browser, what: &str) {
    let mark = b.execute("return window.__fdMark || null;", vec![]).await;
    assert_eq!(mark, json!("unchanged"), "{what}: the page was reloaded");
}

async fn sign_in(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&app.at("/login")).await;
    b.fill("#f-email", email).await;
    b.fill("#f-password", PASSWORD).await;
    b.click("#login-submit").await;
    let deadline = Instant::now() + WAIT;
    while b.url().await.contains("/login") {
        assert!(Instant::now() < deadline, "sign-in did not finish: {}", b.page_text().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the dashboard page's `css` element's text contains `needle`.
async fn wait_for_in(b: &Browser, css: &str, needle: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = b
            .execute("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", vec![json!(css)])
            .await;
        if text.as_str().is_some_and(|t| t.contains(needle)) {
            return;
        }
        assert!(Instant::now() < deadline, "{css} never showed {needle:?}; it shows: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_chats_in_the_widget_and_staff_take_over_live() {
    let model = StandIn::start().await;
    model.always(Reply::Text(ANSWER.into()));
    // Eight pieces 200 ms apart: the answer is visibly on its way for more than a second.
    model.set_shape(Shape { chunks: 8, chunk_delay: Duration::from_millis(200), ..Shape::default() });
    let app = TestApp::spawn_with(Backend::Sqlite, fast).await;
    let t = app.tenant("Harbour Yoga").await;
    use_model(&app, &t, &model, json!({})).await;
    let site = HostSite::start(&app.url, &t.slug).await;

    // Staff first: the inbox is open and following live updates before anyone writes.
    let staff = Browser::start().await;
    sign_in(&staff, &app, &t.email).await;
    staff.goto(&app.at("/app/inbox")).await;
    staff.wait_for_text("No conversations match these filters.").await;
    staff.find("#inbox-live:not([hidden])").await;
    mark_page(&staff).await;

    // (a) The visitor on the studio's own site.
    let visitor = Browser::start().await;
    visitor.goto(&site.url).await;
    until(&visitor, "the launcher", "return !!(r && r.querySelector('[data-fd=launcher]'));", vec![]).await;
    send_in_widget(&visitor, QUESTION).await;

    // The answer streams in: part of it shows in the streaming bubble before the whole arrives.
    let partial = until(
        &visitor,
        "a part of the streamed answer",
        "const s = r && r.querySelector('[data-fd=message][data-streaming] [data-fd=message-text]'); \
         return s && s.textContent.length > 0 && s.textContent.length < arguments[0].length ? s.textContent : null;",
        vec![json!(ANSWER)],
    )
    .await;
    assert!(ANSWER.starts_with(partial.as_str().unwrap_or("-")), "a prefix of the answer: {partial}");
    until(
        &visitor,
        "the whole answer, stored",
        "const m = r && r.querySelector('[data-fd=message][data-author=agent][data-id]:not([data-streaming])'); \
         return m ? m.querySelector('[data-fd=message-text]').textContent === arguments[0] : null;",
        vec![json!(ANSWER)],
    )
    .await;
    let shown = widget_messages(&visitor).await;
    assert_eq!(shown.len(), 2, "the question and the answer, once each: {shown:?}");
    assert_eq!((shown[0][0].as_str(), shown[0][1].as_str()), (Some("customer"), Some(QUESTION)));
    assert!(shown[0][2].as_str().is_some_and(|id| id.starts_with("msg_")), "the question is stored: {shown:?}");
    assert_eq!((shown[1][0].as_str(), shown[1][1].as_str()), (Some("agent"), Some(ANSWER)));
    let request = model.received().last().cloned().expect("the model was asked");
    assert!(request.streamed(), "the widget's turn streams from the model");

    // A reload keeps the visitor's conversation (token in localStorage, history from the server).
    visitor.goto(&site.url).await;
    until(
        &visitor,
        "the history after a reload",
        "if (!r) return null; const l = r.querySelector('[data-fd=launcher]'); \
         const p = r.querySelector('[data-fd=panel]'); if (p.hidden) l.click(); \
         return r.querySelectorAll('[data-fd=message][data-id]').length === 2;",
        vec![],
    )
    .await;
    let history = widget_messages(&visitor).await;
    let texts: Vec<&str> = history.iter().filter_map(|m| m[1].as_str()).collect();
    assert_eq!(texts, [QUESTION, ANSWER], "the history, in order, once each");
    assert_eq!(history[0][2], shown[0][2], "the same stored messages");

    // (b) The conversation appeared in the staff inbox without a reload.
    staff.find("#inbox tr[data-conversation] a.conv-open").await;
    wait_for_in(&staff, "#inbox", "Visitor").await;
    wait_for_in(&staff, "#inbox", "Assistant answering").await;
    still_same_page(&staff, "the inbox").await;

    // Open it: the messages, with the agent's trace.
    staff.click("#inbox a.conv-open").await;
    staff.find("#takeover-submit").await;
    wait_for_in(&staff, "#messages", QUESTION).await;
    wait_for_in(&staff, "#messages", ANSWER).await;
    wait_for_in(&staff, "#messages .msg-agent .msg-trace", "primary").await;
    wait_for_in(&staff, "#messages .msg-agent .msg-trace", "ms").await;

    // Take over: the visitor is told, live.
    mark_page(&visitor).await;
    staff.click("#takeover-submit").await;
    staff.find("#handback-submit").await;
    wait_for_in(&staff, "#conversation-status", "With the team").await;
    until(
        &visitor,
        "the take-over notice in the widget",
        "return !!(r && Array.from(r.querySelectorAll('[data-fd=message][data-author=system]')).some((m) => m.textContent.includes('joined the conversation')));",
        vec![],
    )
    .await;

    // Reply as staff: the visitor sees it without reloading.
    staff.fill("#f-text", STAFF_REPLY).await;
    // While staff write, the visitor sees that someone is typing.
    until(
        &visitor,
        "the team typing in the widget",
        "const t = r && r.querySelector('[data-fd=typing]'); return !!(t && !t.hidden);",
        vec![],
    )
    .await;
    staff.click("#reply-submit").await;
    wait_for_in(&staff, "#messages", STAFF_REPLY).await;
    until(
        &visitor,
        "the staff reply in the widget",
        "return !!(r && Array.from(r.querySelectorAll('[data-fd=message][data-author=staff] [data-fd=message-text]')).some((m) => m.textContent === arguments[0]));",
        vec![json!(STAFF_REPLY)],
    )
    .await;
    still_same_page(&visitor, "the widget").await;
    let staff_shown = widget_messages(&visitor).await;
    assert_eq!(
        staff_shown.iter().filter(|m| m[1] == json!(STAFF_REPLY)).count(),
        1,
        "the reply shows once: {staff_shown:?}"
    );

    // The visitor answers; the open conversation page shows it live, and the assistant stays
    // silent while the team has the conversation.
    let asked = model.received().len();
    mark_page(&staff).await;
    send_in_widget(&visitor, FOLLOW_UP).await;
    wait_for_in(&staff, "#messages", FOLLOW_UP).await;
    still_same_page(&staff, "the conversation page").await;
    wait_for_in(&staff, "#conversation-state", "Waiting for a team reply").await;
    assert_eq!(model.received().len(), asked, "the assistant does not answer a handed-off conversation");

    // The assistant's FAQ: rows added and removed in place by the page's script, then saved.
    staff.goto(&app.at("/app/assistant")).await;
    staff.click("#faq-add").await;
    staff.fill("#f-faq-0-question", "Do you have showers?").await;
    staff.fill("#f-faq-0-answer", "Yes, two of them.").await;
    staff.fill("#f-faq-1-question", "A row to drop").await;
    staff.click("#faq-rows li:last-child [data-faq-remove]").await;
    let rows = staff.execute("return document.querySelectorAll('#faq-rows [data-faq-row]').length;", vec![]).await;
    assert_eq!(rows, json!(1), "the removed row is gone");
    staff.click("#assistant-submit").await;
    staff.wait_for_text("Saved.").await;
    let stored = app.get_json("/api/v1/assistant/settings", &t.access_token).await;
    assert_eq!(stored["settings"]["faq"], json!([{"question": "Do you have showers?", "answer": "Yes, two of them."}]));

    staff.quit().await;
    visitor.quit().await;
    drop(site);
    app.stop().await;
}

/// A signed-in dashboard browser without JavaScript: the session cookie, its CSRF token, a language.
struct Dashboard<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
    lang: &'static str,
}

impl<'a> Dashboard<'a> {
    fn of(app: &'a TestApp, session: &(String, String)) -> Self {
        Dashboard { app, cookie: session.0.clone(), csrf: session.1.clone(), lang: "en" }
    }

    fn cookies(&self) -> String {
        format!("fd_session={}; fd_lang={}", self.cookie, self.lang)
    }

    /// `GET path`: the status and the HTML.
    async fn get(&self, path: &str) -> (u16, String) {
        let res = self.app.client.get(self.app.at(path)).header("cookie", self.cookies()).send().await.expect("get");
        (res.status().as_u16(), res.text().await.expect("body"))
    }

    /// Posts a form: the status and the `Location` (after success) or the HTML (after a failure).
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        form.extend_from_slice(fields);
        let res = self
            .app
            .client
            .post(self.app.at(path))
            .header("cookie", self.cookies())
            .form(&form)
            .send()
            .await
            .expect("post");
        let status = res.status().as_u16();
        let location = res.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        (status, location.unwrap_or(res.text().await.expect("body")))
    }
}

fn owner_id(members: &Value, email: &str) -> String {
    members["items"]
        .as_array()
        .and_then(|items| items.iter().find(|m| m["email"] == email))
        .and_then(|m| m["user_id"].as_str())
        .unwrap_or_else(|| panic!("no member {email}: {members}"))
        .to_owned()
}

async fn forms_without_javascript(app: &TestApp) {
    let t: TenantCtx = app.tenant("Forms Studio").await;
    let first = say(app, &t.slug, None, "Hello there").await;
    let cv = first["conversation_id"].as_str().expect("conversation").to_owned();
    let owner = Dashboard::of(app, &t.session);

    // The inbox lists it; a filter that cannot be read is refused on the error page.
    let (status, html) = owner.get("/app/inbox").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&format!("href=\"/app/inbox/{cv}\"")) && html.contains("Visitor"), "{html}");
    let (status, _) = owner.get("/app/inbox?status=sleeping").await;
    assert_eq!(status, 422);
    let (status, html) = owner.get("/app/inbox?status=resolved").await;
    assert!(status == 200 && !html.contains(&cv), "filtered out");
    let (status, _) = owner.get("/app/inbox/cv_nope").await;
    assert_eq!(status, 404);

    // Reply: an empty one comes back with the error next to the field; then for real.
    let path = format!("/app/inbox/{cv}");
    let (status, html) = owner.post(&format!("{path}/reply"), &[("text", "  ")]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("field invalid") && html.contains("Write a reply."), "{html}");
    let (status, location) = owner.post(&format!("{path}/reply"), &[("text", "We are here to help.")]).await;
    assert_eq!((status, location.as_str()), (303, path.as_str()));
    let messages = staff_messages(app, &t.access_token, &cv).await;
    let last = messages.last().expect("messages");
    assert_eq!((last["author"].as_str(), last["text"].as_str()), (Some("staff"), Some("We are here to help.")));
    assert_eq!(staff_conversation(app, &t.access_token, &cv).await["status"], "handed_off");

    // Hand back, twice: the second is a conflict shown on the page.
    let (status, location) = owner.post(&format!("{path}/handback"), &[]).await;
    assert_eq!((status, location), (303, format!("{path}?notice=conversation_handed_back")));
    let (status, html) = owner.post(&format!("{path}/handback"), &[]).await;
    assert!(status == 409 && html.contains("The assistant is already answering."), "{status}: {html}");

    // Assign (only to members), label, resolve.
    let members = app.get_json("/api/v1/members", &t.access_token).await;
    let me = owner_id(&members, &t.email);
    let (status, html) = owner.post(&format!("{path}/assign"), &[("user_id", "usr_01JD3Q9ZK6Y2V8T4N1M5R7B3XW")]).await;
    assert!(status == 422 && html.contains("This user is not a member of the team."), "{status}: {html}");
    assert_eq!(owner.post(&format!("{path}/assign"), &[("user_id", &me)]).await.0, 303);
    assert_eq!(owner.post(&format!("{path}/labels"), &[("labels", "VIP, billing")]).await.0, 303);
    let (status, html) = owner.post(&format!("{path}/labels"), &[("labels", "a\"b")]).await;
    assert!(status == 422 && html.contains("no quotes"), "{status}: {html}");
    assert_eq!(owner.post(&format!("{path}/resolve"), &[]).await.0, 303);
    let c = staff_conversation(app, &t.access_token, &cv).await;
    assert_eq!((c["status"].as_str(), c["assignee_id"].as_str()), (Some("resolved"), Some(me.as_str())));
    assert_eq!(c["labels"], json!(["vip", "billing"]));
    let (_, html) = owner.get(&path).await;
    assert!(html.contains("conv-status-resolved") && html.contains(">vip</span>"), "{html}");
    let (_, html) = owner.get("/app/inbox?label=vip&status=resolved").await;
    assert!(html.contains(&cv), "filtered by label and status");

    // The contact: a bad phone number is named; a good edit is saved.
    let contact = c["contact_id"].as_str().expect("contact").to_owned();
    let contact_path = format!("/app/contacts/{contact}");
    let (status, html) = owner.get(&contact_path).await;
    assert!(status == 200 && html.contains(&path), "the contact's conversations: {html}");
    let (status, html) = owner.post(&contact_path, &[("name", "Ada"), ("phone", "12345")]).await;
    assert!(status == 422 && html.contains("international format") && html.contains("value=\"Ada\""), "{html}");
    let edit = [
        ("name", "Ada Lovelace"),
        ("email", "ADA@example.com"),
        ("phone", "+49 30 123456"),
        ("language", "en"),
        ("consent_marketing", "1"),
        ("tags", "member, yoga"),
        ("notes", "Prefers mornings."),
    ];
    assert_eq!(owner.post(&contact_path, &edit).await, (303, format!("{contact_path}?notice=saved")));
    let saved = app.get_json(&format!("/api/v1/contacts/{contact}"), &t.access_token).await["contact"].clone();
    assert_eq!(saved["name"], "Ada Lovelace");
    assert_eq!(saved["email"], "ada@example.com");
    assert_eq!(saved["phone"], "+4930123456");
    assert_eq!(saved["consent_marketing"], true);
    assert_eq!(saved["tags"], json!(["member", "yoga"]));
    let (_, html) = owner.get("/app/inbox").await;
    assert!(html.contains("Ada Lovelace"), "the inbox shows the contact's name");

    // The assistant: the embed snippet; errors on their fields, in German too; then saved.
    let (status, html) = owner.get("/app/assistant").await;
    assert!(status == 200 && html.contains(&format!("data-tenant=&quot;{}&quot;", t.slug)), "{html}");
    assert!(html.contains("widget.js"), "the embed snippet");
    let mut settings = vec![
        ("persona", "Mia, the front desk"),
        ("tone", "friendly"),
        ("faq-0-question", "Do you have parking?"),
        ("faq-0-answer", "Yes, behind the studio."),
        ("faq-4-question", ""),
        ("faq-4-answer", "An answer without its question"),
        ("color", "#112233"),
        ("text_color", "#ffffff"),
        ("position", "left"),
        ("quick_replies", "Prices\nHours"),
        ("hours_monday", "09:00-18:00"),
        ("hours_sunday", "late"),
        ("allowed_origins", "https://studio.example\nftp://bad.example"),
        ("domains", "chat.forms.example"),
        ("handoff_enabled", "1"),
    ];
    let (status, html) = owner.post("/app/assistant", &settings).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("&quot;late&quot; is not a range like 09:00-18:00."), "per weekday: {html}");
    assert!(html.contains("bad.example: An origin like"), "the line at fault: {html}");
    assert!(html.contains("Write the question."), "{html}");
    assert!(html.contains("value=\"Do you have parking?\""), "what was typed stays: {html}");
    let german = Dashboard { lang: "de", ..Dashboard::of(app, &t.session) };
    let (status, html) = german.post("/app/assistant", &settings).await;
    assert!(status == 422 && html.contains("Schreiben Sie die Frage."), "{html}");
    settings.retain(|(k, _)| !k.starts_with("faq-4") && *k != "hours_sunday");
    settings.retain(|(k, _)| *k != "allowed_origins");
    settings.push(("allowed_origins", "https://studio.example"));
    assert_eq!(owner.post("/app/assistant", &settings).await, (303, "/app/assistant?notice=saved".to_owned()));
    let stored = app.get_json("/api/v1/assistant/settings", &t.access_token).await;
    assert_eq!(
        stored["settings"]["faq"],
        json!([{"question": "Do you have parking?", "answer": "Yes, behind the studio."}])
    );
    assert_eq!(stored["settings"]["opening_hours"]["monday"], json!(["09:00-18:00"]));
    assert_eq!(stored["settings"]["widget"]["position"], "left");
    assert_eq!(stored["settings"]["widget"]["quick_replies"], json!(["Prices", "Hours"]));
    assert_eq!(stored["domains"], json!(["chat.forms.example"]));
    let (_, html) = german.get("/app/assistant").await;
    assert!(html.contains("Häufige Fragen") && html.contains("value=\"Do you have parking?\""), "{html}");

    // The model endpoint: checked, stored with its key (never shown), reset.
    let model = StandIn::start().await;
    let (status, html) = owner.post("/app/assistant/model", &[("base_url", "ftp://x"), ("model", "")]).await;
    assert!(status == 422 && html.contains("Name the model."), "{html}");
    let fields =
        [("base_url", model.base_url()), ("model", "studio-model".into()), ("api_key", "sk-page-secret".into())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(owner.post("/app/assistant/model", &fields).await.0, 303);
    let view = app.get_json("/api/v1/assistant/model", &t.access_token).await;
    assert_eq!((view["source"].as_str(), view["has_api_key"].as_bool()), (Some("tenant"), Some(true)));
    let (_, html) = owner.get("/app/assistant").await;
    assert!(html.contains("studio-model") && !html.contains("sk-page-secret"), "{html}");
    assert_eq!(owner.post("/app/assistant/model/reset", &[]).await.0, 303);
    assert_eq!(app.get_json("/api/v1/assistant/model", &t.access_token).await["source"], "none");

    // A viewer reads but cannot act; forms without the CSRF token are refused.
    let (viewer_email, _) = app.member(&t, "VIEWER").await;
    let viewer = Dashboard::of(app, &app.session_for(&viewer_email).await);
    let (status, html) = viewer.get(&path).await;
    assert!(status == 200 && !html.contains("id=\"reply-form\""), "read only: {html}");
    assert_eq!(viewer.post(&format!("{path}/reply"), &[("text", "hi")]).await.0, 403);
    assert_eq!(viewer.get("/app/assistant").await.0, 403);
    let res = app
        .client
        .post(app.at(&format!("{path}/resolve")))
        .header("cookie", owner.cookies())
        .form(&[("x", "y")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403, "no CSRF token");

    // The scripts and styles: strong ETags, no inline code needed.
    for file in ["inbox.js", "assistant.js", "inbox.css"] {
        let res = app.client.get(app.at(&format!("/assets/conversations/{file}"))).send().await.expect("asset");
        assert_eq!(res.status(), 200, "{file}");
        let etag = res.headers().get("etag").and_then(|v| v.to_str().ok()).expect("etag").to_owned();
        let again = app
            .client
            .get(app.at(&format!("/assets/conversations/{file}")))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("asset");
        assert_eq!(again.status(), 304, "{file}");
    }
    let missing = app.client.get(app.at("/assets/conversations/nope.js")).send().await.expect("asset");
    assert_eq!(missing.status(), 404);
}
both!(dashboard_forms, forms_without_javascript, crate::conversations::fast);
