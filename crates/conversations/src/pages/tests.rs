//! Checks of the pages that need no database: the catalogs agree, every key a template or handler
//! names is translated, every template renders in both languages (escaped, forms with CSRF
//! tokens, the ids the browser tests use), and the form parsing and error placement.

use super::assistant::{embed_snippet, AssistantView, DayHours, FaqRow, ModelForm, ModelView, SettingsForm};
use super::contacts::{ContactForm, ContactView};
use super::inbox::{
    CardView, ContactCard, ConversationView, FilterView, InboxView, MemberOption, MessageView, Row, TraceView,
};
use super::tasks::TaskRow;
use super::{duration_label, localized, strip_indices, templates, Shown, Wait, DE, EN, TASKS_DE, TASKS_EN, TEMPLATES};
use crate::model::*;
use axum::http::StatusCode;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::{FieldError, TenantId};
use frontdesk_web::pages::{Page, TemplatesBuilder};
use frontdesk_web::{Credential, Principal, Role};
use std::collections::BTreeMap;
use std::sync::Arc;

fn catalog(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).expect("catalog is a flat JSON object")
}

/// Keys of the web crate's catalog that these templates use.
const WEB_KEYS: &[&str] = &["action.copy", "action.save", "notice.saved"];
const HANDLERS: &[&str] =
    &[include_str!("mod.rs"), include_str!("inbox.rs"), include_str!("contacts.rs"), include_str!("assistant.rs")];

/// The string literals after each `marker` in `source` that do not continue a longer name.
fn literals_after<'a>(source: &'a str, marker: &str) -> Vec<&'a str> {
    source
        .match_indices(marker)
        .filter(|(at, _)| !source[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .filter_map(|(at, _)| source[at + marker.len()..].split('"').next())
        .collect()
}

#[test]
fn english_and_german_have_the_same_keys() {
    let en = catalog(EN);
    let de = catalog(DE);
    // Field errors are worded by the services in English; only German needs its own words.
    let de_shared: Vec<&String> = de.keys().filter(|k| !k.starts_with("conv.err.")).collect();
    assert_eq!(en.keys().collect::<Vec<_>>(), de_shared);
    assert!(!en.keys().any(|k| k.starts_with("conv.err.")), "English uses the services' own messages");
    assert!(de.values().all(|v| !v.trim().is_empty()));
    assert_eq!(catalog(TASKS_EN).keys().collect::<Vec<_>>(), catalog(TASKS_DE).keys().collect::<Vec<_>>());
}

#[test]
fn every_named_key_is_translated() {
    let mut en = catalog(EN);
    en.extend(catalog(TASKS_EN));
    let known = |k: &str| en.contains_key(k) || WEB_KEYS.contains(&k);
    let mut wanted: Vec<String> = Vec::new();
    for (name, source) in TEMPLATES {
        wanted.extend(
            literals_after(source, "t(\"")
                .into_iter()
                .filter(|k| !k.ends_with('.') && !k.ends_with('_'))
                .map(|k| format!("{name}: {k}")),
        );
    }
    for source in HANDLERS {
        wanted.extend(literals_after(source, "page.t(\"").into_iter().map(str::to_owned));
        wanted.extend(literals_after(source, "\"nav.").into_iter().map(|k| format!("nav.{k}")));
        for notice in literals_after(source, "notice=").into_iter().filter(|n| !n.starts_with('{')) {
            wanted.push(format!("notice.{}", notice.split(['#', '&']).next().unwrap_or(notice)));
        }
        wanted.extend(
            literals_after(source, "Some(\"conversation_").into_iter().map(|k| format!("notice.conversation_{k}")),
        );
    }
    wanted.push("notice.labels_saved".into());
    // Keys built in templates from values.
    wanted.extend(Status::ALL.iter().map(|s| format!("conv.status.{}", s.as_str())));
    wanted.extend(Channel::ALL.iter().map(|c| format!("conv.channel.{}", c.as_str())));
    wanted.extend(
        [Author::Customer, Author::Agent, Author::Staff, Author::System].map(|a| format!("conv.author.{}", a.as_str())),
    );
    wanted.extend(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].map(|d| format!("conv.day.{d}")),
    );
    wanted.extend(["friendly", "professional", "concise"].map(|t| format!("conv.assistant.tone_{t}")));
    wanted.extend(["right", "left"].map(|p| format!("conv.assistant.position_{p}")));
    wanted.extend(["tenant", "platform", "none"].map(|s| format!("conv.model.source_{s}")));
    // Every reason the pipeline and the staff actions hand off with.
    wanted.extend(
        [
            "customer_request",
            "needs_staff",
            "complaint",
            crate::assistant::REASON_UNKNOWN,
            "agent_unavailable",
            "staff_reply",
            "staff_takeover",
        ]
        .map(|r| format!("conv.reason.{r}")),
    );
    let missing: Vec<&String> = wanted.iter().filter(|w| !known(w.rsplit(' ').next().unwrap_or(w))).collect();
    assert!(missing.is_empty(), "untranslated keys: {missing:?}");
    assert!(wanted.len() > 150, "the scan found only {} keys", wanted.len());
}

fn principal(role: Role) -> Principal {
    Principal {
        user_id: Some("usr_test".into()),
        label: "ada@example.com".into(),
        tenant_id: Some(TenantId::new()),
        role: Some(role),
        permissions: role.permissions(),
        platform_operator: false,
        credential: Credential::Session { session_id: "ses_test".into(), csrf_token: "csrf-token-123".into() },
        locale: None,
        tenant_name: Some("Studio Nord".into()),
        memberships: Vec::new(),
    }
}

fn page(locale: Locale, role: Role) -> Page {
    let mut b = TemplatesBuilder::new();
    templates(&mut b);
    let templates = b.build().expect("templates compile");
    Page {
        templates: Arc::new(templates),
        locale,
        principal: Some(principal(role)),
        path: "/app/inbox".into(),
        query: String::new(),
    }
}

async fn render(page: &Page, template: &str, data: impl serde::Serialize) -> String {
    let response = page.render_status(StatusCode::OK, template, data);
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let html = String::from_utf8(body.to_vec()).expect("utf-8");
    assert_eq!(status, StatusCode::OK, "{template}: {html}");
    html
}

/// Every POST form carries the session's CSRF token; no inline scripts or styles (the CSP).
fn assert_safe(template: &str, html: &str) {
    for form in html.split("<form").skip(1) {
        let form = form.split("</form>").next().unwrap_or("");
        if form.contains("method=\"post\"") {
            assert!(form.contains("name=\"_csrf\" value=\"csrf-token-123\""), "{template}: form without CSRF: {form}");
        }
    }
    assert!(!html.contains(" style=\""), "{template}: inline style");
    for script in html.split("<script").skip(1) {
        assert!(script.trim_start().starts_with("src="), "{template}: inline script");
    }
    assert!(!html.contains("<b>evil</b>") && !html.contains("javascript:"), "{template}: not escaped");
}

const EVIL: &str = "<b>evil</b>";

fn conversation(status: Status, waiting: bool) -> Conversation {
    Conversation {
        id: ConversationId::new(),
        contact_id: ContactId::new(),
        contact_name: None,
        channel: Channel::Web,
        status,
        assignee_id: Some("usr_1".into()),
        labels: vec!["vip".into(), EVIL.into()],
        handoff_reason: (status == Status::HandedOff).then(|| "customer_request".into()),
        handed_off_at: None,
        waiting_since: waiting.then_some(1_700_000_000_000),
        human_wait_ms: 0,
        human_waits: 0,
        summary: None,
        summary_upto: None,
        last_preview: format!("Hello {EVIL}"),
        last_author: Some(Author::Customer),
        message_count: 3,
        last_message_at: 1_700_000_000_000,
        created_at: 1_700_000_000_000,
        resolved_at: None,
    }
}

fn contact() -> Contact {
    Contact {
        id: ContactId::new(),
        name: Some(format!("Ada {EVIL}")),
        email: Some("ada@example.com".into()),
        phone: Some("+4930123456".into()),
        language: Some("de".into()),
        consent_marketing: true,
        consent_updated_at: Some(1_700_000_000_000),
        tags: vec!["member".into()],
        notes: format!("Likes yoga {EVIL}"),
        identities: vec![ChannelIdentity { channel: Channel::Web, address: "vis_123".into() }],
        created_at: 1_700_000_000_000,
    }
}

fn members() -> Vec<MemberOption> {
    vec![MemberOption { user_id: "usr_1".into(), name: format!("Bo {EVIL}") }]
}

fn failed(errors: &[(&str, &str)]) -> Shown {
    Shown {
        status: StatusCode::OK,
        errors: errors.iter().map(|(f, _)| FieldError::new(*f, "invalid", format!("Bad {EVIL}"))).collect(),
        alert: Some(format!("Nope {EVIL}")),
    }
}

fn inbox_view(rows: Vec<Row>, paged: bool) -> InboxView {
    InboxView {
        rows,
        filter: FilterView { status: "handed_off".into(), assignee: "none".into(), ..FilterView::default() },
        members: members(),
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        channels: Channel::ALL.iter().map(|c| c.as_str()).collect(),
        next_href: paged.then(|| "/app/inbox?cursor=abc".into()),
        first_href: paged.then(|| "/app/inbox".into()),
    }
}

fn messages(page: &Page) -> Vec<MessageView> {
    let zone = jiff::tz::TimeZone::UTC;
    let base = |author: Author, text: &str| Message {
        id: MessageId::new(),
        conversation_id: ConversationId::new(),
        author,
        author_id: None,
        author_name: Some("Kim".into()),
        text: text.into(),
        content: Vec::new(),
        attachments: Vec::new(),
        client_message_id: None,
        reply_to: None,
        trace: None,
        provider_message_id: None,
        delivery: Delivery::Stored,
        created_at: 1_700_000_000_000,
    };
    let mut agent = base(Author::Agent, "We open at 9.");
    agent.trace = Some(AgentTrace {
        specialist: Some("assistant".into()),
        tools: vec![
            ToolUse { name: "faq".into(), summary: Some(EVIL.into()) },
            ToolUse { name: "x".into(), summary: None },
        ],
        model: Some("studio-model".into()),
        tokens_in: Some(120),
        tokens_out: Some(14),
        latency_ms: Some(830),
    });
    agent.content = vec![
        Content::Buttons { buttons: vec![Button { label: "Yes".into(), value: "yes".into() }] },
        Content::Card {
            title: "Yoga".into(),
            subtitle: Some("Mondays".into()),
            image_url: None,
            url: Some("javascript:alert(1)".into()),
            buttons: Vec::new(),
        },
    ];
    let mut customer = base(Author::Customer, EVIL);
    customer.attachments = vec![
        Attachment { url: "javascript:alert(1)".into(), content_type: "image/png".into(), name: Some("x.png".into()) },
        Attachment { url: "https://files.example/a.pdf".into(), content_type: "application/pdf".into(), name: None },
    ];
    let mut staff = base(Author::Staff, "I'll check.");
    staff.delivery = Delivery::Failed;
    [customer, agent, staff, base(Author::System, "Kim joined.")]
        .into_iter()
        .map(|m| MessageView::new(page, m, "Ada", &zone))
        .collect()
}

fn conversation_view(page: &Page, status: Status, can_reply: bool, shown: Shown) -> ConversationView {
    let c = conversation(status, status == Status::HandedOff);
    let messages = messages(page);
    ConversationView {
        waiting: Wait::since(c.waiting_since, 1_700_000_600_000),
        handoff_reason: c.handoff_reason.as_deref().map(|r| super::inbox::reason_label(page, r)),
        assignee_name: Some("Bo".into()),
        members: members(),
        started_at: "2023-11-14 22:13".into(),
        time_zone: "Europe/Berlin".into(),
        can_reply,
        reply_text: EVIL.into(),
        labels_text: "vip".into(),
        contact: ContactCard { contact: contact(), display_name: "Ada".into() },
        last_id: messages.last().map(|m| m.id.clone()),
        messages,
        older_hidden: true,
        conversation: c,
        shown,
    }
}

fn contact_view(can_edit: bool, shown: Shown) -> ContactView {
    let c = contact();
    let rows =
        vec![Row::new(conversation(Status::Resolved, false), c.name.clone(), &members(), &jiff::tz::TimeZone::UTC, 0)];
    ContactView {
        display_name: "Ada".into(),
        form: ContactForm::default(),
        conversations: rows,
        tasks: vec![TaskRow {
            id: "tsk_01".into(),
            title: "Call back <b>evil</b>".into(),
            notes: "About <script>".into(),
            due: Some("2023-11-15 09:00".into()),
            overdue: true,
            assignee_name: Some("Ada".into()),
            created_by: "workflow Handoff".into(),
            created_at: "2023-11-14 22:13".into(),
        }],
        created_at: "2023-11-14 22:13".into(),
        consent_updated_at: Some("2023-11-14 22:13".into()),
        can_edit,
        contact: c,
        shown,
    }
}

fn settings_form() -> SettingsForm {
    let mut form = SettingsForm::parse(&[]);
    form.faq = vec![FaqRow { question: "When do you open?".into(), answer: EVIL.into() }];
    form.hours = vec![DayHours { day: "monday", value: "09:00-18:00, 19:00-21:00".into() }];
    form.allowed_origins = "https://studio.example".into();
    form.persona = EVIL.into();
    form
}

fn assistant_view(source: &str, can_manage_model: bool, shown: Shown) -> AssistantView {
    AssistantView {
        form: settings_form(),
        tones: ["friendly", "professional", "concise"],
        snippet: embed_snippet("http://127.0.0.1:8080/", "studio-nord"),
        model: ModelView {
            source: source.into(),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            model: Some("studio-model".into()),
            has_api_key: true,
            has_fallback_api_key: true,
        },
        model_form: ModelForm::default(),
        model_errors: vec![FieldError::new("base_url", "invalid_url", format!("Bad {EVIL}"))],
        can_manage_model,
        shown,
    }
}

#[tokio::test]
async fn every_template_renders_in_both_languages() {
    for locale in [Locale::En, Locale::De] {
        for role in [Role::Owner, Role::Viewer] {
            let page = page(locale, role);
            let rows = vec![
                Row::new(
                    conversation(Status::HandedOff, true),
                    Some("Ada".into()),
                    &members(),
                    &jiff::tz::TimeZone::UTC,
                    1_700_000_600_000,
                ),
                Row::new(conversation(Status::Open, false), None, &members(), &jiff::tz::TimeZone::UTC, 0),
            ];
            let html = render(&page, "conversations/inbox.html", inbox_view(rows, true)).await;
            assert_safe("inbox", &html);
            render(&page, "conversations/inbox.html", inbox_view(Vec::new(), false)).await;

            for status in Status::ALL {
                for (can_reply, shown) in
                    [(true, Shown::default()), (role == Role::Owner, failed(&[("text", ""), ("labels[0]", "")]))]
                {
                    let view = conversation_view(&page, status, can_reply, shown);
                    let html = render(&page, "conversations/conversation.html", view).await;
                    assert_safe("conversation", &html);
                }
            }
            for (can_edit, shown) in
                [(true, Shown::default()), (false, Shown::default()), (true, failed(&[("email", "")]))]
            {
                let html = render(&page, "conversations/contact.html", contact_view(can_edit, shown)).await;
                assert_safe("contact", &html);
            }
            for source in ["tenant", "platform", "none"] {
                for can_manage in [true, false] {
                    let shown = failed(&[("faq[0].answer", ""), ("widget.color", ""), ("hours_monday", "")]);
                    let html =
                        render(&page, "conversations/assistant.html", assistant_view(source, can_manage, shown)).await;
                    assert_safe("assistant", &html);
                }
            }
        }
    }
}

#[tokio::test]
async fn pages_carry_what_the_scripts_and_browser_tests_use() {
    let page = page(Locale::En, Role::Admin);
    let rows = vec![Row::new(
        conversation(Status::HandedOff, true),
        None,
        &members(),
        &jiff::tz::TimeZone::UTC,
        1_700_000_600_000,
    )];
    let inbox = render(&page, "conversations/inbox.html", inbox_view(rows, false)).await;
    for part in [
        "id=\"inbox-list\" data-live-inbox",
        "class=\"conv-open\"",
        "<strong>Visitor</strong>",
        "data-since=\"1700000000000\"",
        ">10 min</span>",
        "src=\"/assets/conversations/inbox.js\"",
    ] {
        assert!(inbox.contains(part), "inbox lacks {part}");
    }
    let view = conversation_view(&page, Status::Open, true, Shown::default());
    let id = view.conversation.id.clone();
    let html = render(&page, "conversations/conversation.html", view).await;
    for part in [
        format!("data-conversation=\"{id}\""),
        "id=\"takeover-submit\"".into(),
        "id=\"f-text\" name=\"text\"".into(),
        "id=\"reply-submit\"".into(),
        "id=\"message-template\"".into(),
        "<dd>faq (&lt;b&gt;evil&lt;&#x2f;b&gt;), x</dd>".into(),
        "<dd>120 → 14</dd>".into(),
        "<dd>830 ms</dd>".into(),
        "<dd>studio-model</dd>".into(),
        "href=\"https:&#x2f;&#x2f;files.example&#x2f;a.pdf\"".into(),
        "data-who-customer=\"Ada\"".into(),
    ] {
        assert!(html.contains(&part), "conversation lacks {part}");
    }
    assert!(!html.contains("id=\"handback-submit\""), "an open conversation cannot be handed back");
    let handed = render(
        &page,
        "conversations/conversation.html",
        conversation_view(&page, Status::HandedOff, true, Shown::default()),
    )
    .await;
    assert!(handed.contains("id=\"handback-submit\"") && !handed.contains("id=\"takeover-submit\""));
    assert!(handed.contains("The customer asked for a person"), "the handoff reason in words");
    let read_only = render(
        &page,
        "conversations/conversation.html",
        conversation_view(&page, Status::Open, false, Shown::default()),
    )
    .await;
    assert!(!read_only.contains("action=\"/app/inbox/"), "no forms without conversations:reply");

    let assistant =
        render(&page, "conversations/assistant.html", assistant_view("tenant", true, Shown::default())).await;
    for part in [
        "&lt;script src=&quot;http:&#x2f;&#x2f;127.0.0.1:8080&#x2f;widget.js&quot; data-tenant=&quot;studio-nord&quot; async&gt;",
        "name=\"faq-0-question\" value=\"When do you open?\"",
        "name=\"faq-1-question\" value=\"\"",
        "data-next=\"2\"",
        "id=\"f-hours_monday\" name=\"hours_monday\" type=\"text\" value=\"09:00-18:00, 19:00-21:00\"",
        "action=\"/app/assistant/model/reset\"",
        "name=\"remove_api_key\"",
    ] {
        assert!(assistant.contains(part), "assistant lacks {part}");
    }
    assert!(!assistant.contains("type=\"password\" value=\"s"), "keys are never shown");
}

#[test]
fn the_settings_form_reads_rows_in_order_and_drops_removed_and_empty_ones() {
    let pairs: Vec<(String, String)> = [
        ("persona", "Mia"),
        ("faq-7-question", "Parking?"),
        ("faq-7-answer", "Behind the studio."),
        ("faq-2-question", "Open?"),
        ("faq-2-answer", "9 to 6."),
        ("faq-3-question", "Old"),
        ("faq-3-answer", "Gone"),
        ("faq-3-remove", "1"),
        ("faq-9-question", " "),
        ("faq-9-answer", ""),
        ("hours_monday", "09:00-18:00, 19:00-21:00"),
        ("hours_funday", "all day"),
        ("allowed_origins", "https://a.example\n\n https://b.example "),
        ("quick_replies", "Prices\nHours\n"),
        ("color", "#4F46E5"),
        ("text_color", "#FFFFFF"),
        ("position", "left"),
        ("handoff_enabled", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let form = SettingsForm::parse(&pairs);
    let questions: Vec<&str> = form.faq.iter().map(|f| f.question.as_str()).collect();
    assert_eq!(questions, ["Open?", "Parking?"]);
    let s = form.settings();
    assert_eq!(s.persona, "Mia");
    assert_eq!(s.opening_hours.monday, ["09:00-18:00", "19:00-21:00"]);
    assert!(s.opening_hours.tuesday.is_empty());
    assert_eq!(s.allowed_origins, ["https://a.example", "https://b.example"]);
    assert_eq!(s.widget.quick_replies, ["Prices", "Hours"]);
    assert_eq!(s.widget.color, "#4f46e5");
    assert_eq!(s.widget.logo_url, None);
    assert!(s.handoff_enabled);
    assert!(!SettingsForm::parse(&[]).settings().handoff_enabled, "an unchecked box is absent");
    assert!(crate::service::validate_settings(s).is_ok());
}

#[test]
fn saved_settings_fill_the_form_and_read_back_the_same() {
    let mut s = AssistantSettings {
        faq: vec![FaqEntry { question: "Q".into(), answer: "A".into() }],
        allowed_origins: vec!["https://studio.example".into()],
        ..AssistantSettings::default()
    };
    s.opening_hours.friday = vec!["10:00-14:00".into()];
    s.widget.quick_replies = vec!["Prices".into()];
    let form = SettingsForm::of(&s, &["chat.studio.example".to_owned()]);
    assert_eq!(form.hours.len(), 7);
    let mut pairs = vec![
        ("tone".to_owned(), form.tone.clone()),
        ("color".to_owned(), form.color.clone()),
        ("text_color".to_owned(), form.text_color.clone()),
        ("position".to_owned(), form.position.clone()),
        ("quick_replies".to_owned(), form.quick_replies.clone()),
        ("allowed_origins".to_owned(), form.allowed_origins.clone()),
        ("domains".to_owned(), form.domains.clone()),
        ("handoff_enabled".to_owned(), "1".to_owned()),
        ("faq-0-question".to_owned(), "Q".to_owned()),
        ("faq-0-answer".to_owned(), "A".to_owned()),
    ];
    pairs.extend(form.hours.iter().map(|h| (format!("hours_{}", h.day), h.value.clone())));
    let back = SettingsForm::parse(&pairs);
    assert_eq!(back.settings(), s);
    assert_eq!(back.domains, "chat.studio.example");
}

#[tokio::test]
async fn errors_land_next_to_their_fields() {
    let page = page(Locale::De, Role::Owner);
    let mut form = SettingsForm::parse(&[]);
    form.allowed_origins = "https://ok.example\nftp://bad.example".into();
    form.hours = vec![DayHours { day: "sunday", value: "late, 10:00-12:00".into() }];
    let mut settings = form.settings();
    settings.faq = vec![FaqEntry { question: String::new(), answer: "A".into() }];
    let errors = match crate::service::validate_settings(settings) {
        Err(frontdesk_kernel::Error::Validation(errors)) => errors,
        other => panic!("expected field errors, got {other:?}"),
    };
    let placed = super::assistant::place_errors(&page, &form, localized(&page, errors));
    let find = |field: &str| placed.iter().find(|e| e.field == field).map(|e| e.message.clone());
    assert_eq!(find("faq[0].question").as_deref(), Some("Schreiben Sie die Frage."));
    assert_eq!(
        find("allowed_origins").as_deref(),
        Some("ftp://bad.example: Ein Ursprung wie https://studio.example (ohne Pfad).")
    );
    assert_eq!(find("hours_sunday").as_deref(), Some("„late“ ist kein Zeitraum wie 09:00-18:00."));
    assert!(find("opening_hours").is_none(), "moved onto the weekday");
    // English keeps the service's own words.
    let en = page_with(Locale::En);
    let kept = localized(&en, vec![FieldError::new("persona", "too_long", "At most 500 characters.")]);
    assert_eq!(kept[0].message, "At most 500 characters.");
}

fn page_with(locale: Locale) -> Page {
    page(locale, Role::Owner)
}

#[test]
fn small_helpers() {
    assert_eq!(duration_label(20_000), "< 1 min");
    assert_eq!(duration_label(12 * 60_000), "12 min");
    assert_eq!(duration_label((3 * 60 + 5) * 60_000), "3 h 5 min");
    assert_eq!(duration_label((2 * 1440 + 4 * 60) * 60_000), "2 d 4 h");
    assert_eq!(duration_label(-5), "< 1 min");
    assert_eq!(strip_indices("faq[12].answer"), "faq.answer");
    assert_eq!(strip_indices("labels[0]"), "labels");
    assert_eq!(
        embed_snippet("https://app.example/", "studio"),
        "<script src=\"https://app.example/widget.js\" data-tenant=\"studio\" async></script>"
    );
    assert_eq!(super::safe_url("javascript:alert(1)"), None);
    assert_eq!(super::safe_url("https://x.example/a b").as_deref(), Some("https://x.example/a%20b"));
    let f = FilterView { status: "open".into(), label: "v i p".into(), ..FilterView::default() };
    assert_eq!(f.href(Some("c1")), "/app/inbox?status=open&label=v+i+p&cursor=c1");
    assert_eq!(FilterView::default().href(None), "/app/inbox");
    let card = CardView { title: "t".into(), subtitle: None, url: None };
    assert!(serde_json::to_value(&card).is_ok_and(|v| v["url"].is_null()));
    let trace = TraceView::from(AgentTrace::default());
    assert!(serde_json::to_value(&trace).is_ok_and(|v| v["model"].is_null() && v["tools"] == serde_json::json!([])));
}
