//! Dashboard pages of conversations: the staff inbox (`/app/inbox`), one conversation with its
//! messages and what staff do with it, the contact profile (`/app/contacts/{id}`), and the
//! assistant's settings with the web chat's embed snippet and the model endpoint
//! (`/app/assistant`).
//!
//! Every page works without JavaScript: forms post and redirect (post/redirect/get), failed
//! forms come back with each error next to its field. `assets/inbox.js` adds live updates over
//! the staff SSE stream; `assets/assistant.js` adds and removes FAQ rows in place.

mod assistant;
mod contacts;
mod inbox;
mod tasks;
#[cfg(test)]
mod tests;

use crate::service::Conversations;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use frontdesk_identity::Identity;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::{Error, FieldError, TenantId};
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{Permission, Requirement, Routes};
use jiff::tz::TimeZone;
use serde::Serialize;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("conversations/macros.html", include_str!("../../templates/macros.html")),
    ("conversations/inbox.html", include_str!("../../templates/inbox.html")),
    ("conversations/conversation.html", include_str!("../../templates/conversation.html")),
    ("conversations/contact.html", include_str!("../../templates/contact.html")),
    ("conversations/contact_tasks.html", include_str!("../../templates/contact_tasks.html")),
    ("conversations/assistant.html", include_str!("../../templates/assistant.html")),
];
const EN: &str = include_str!("../../i18n/en.json");
const DE: &str = include_str!("../../i18n/de.json");
/// The follow-up tasks' words (kept apart from the main catalogs).
const TASKS_EN: &str = include_str!("../../i18n/tasks.en.json");
const TASKS_DE: &str = include_str!("../../i18n/tasks.de.json");

pub fn templates(b: &mut TemplatesBuilder) {
    for (name, source) in TEMPLATES {
        b.template(name, source);
    }
    b.translations(Locale::En, EN)
        .translations(Locale::De, DE)
        .translations(Locale::En, TASKS_EN)
        .translations(Locale::De, TASKS_DE)
        .nav(NavItem {
            href: "/app/inbox",
            label: "nav.inbox",
            requirement: Requirement::Tenant(Permission::ConversationsRead),
            order: 20,
        })
        .nav(NavItem {
            href: "/app/assistant",
            label: "nav.assistant",
            requirement: Requirement::Tenant(Permission::AssistantManage),
            order: 60,
        });
}

/// What the page handlers share.
#[derive(Clone)]
pub(crate) struct PagesState {
    pub conversations: Conversations,
    pub identity: Identity,
    pub models: frontdesk_agent::ModelSettings,
}

pub fn routes(conversations: Conversations, identity: Identity, models: frontdesk_agent::ModelSettings) -> Routes {
    let read = Requirement::Tenant(Permission::ConversationsRead);
    let reply = Requirement::Tenant(Permission::ConversationsReply);
    let manage = Requirement::Tenant(Permission::AssistantManage);
    // The same permission as `PUT /api/v1/assistant/model`.
    let model = Requirement::Tenant(Permission::TenantManage);
    Routes::new()
        .get("/app/inbox", read, get(inbox::list))
        .get("/app/inbox/{conversation_id}", read, get(inbox::show))
        .post("/app/inbox/{conversation_id}/reply", reply, post(inbox::reply))
        .post("/app/inbox/{conversation_id}/takeover", reply, post(inbox::take_over))
        .post("/app/inbox/{conversation_id}/handback", reply, post(inbox::hand_back))
        .post("/app/inbox/{conversation_id}/resolve", reply, post(inbox::resolve))
        .post("/app/inbox/{conversation_id}/assign", reply, post(inbox::assign))
        .post("/app/inbox/{conversation_id}/labels", reply, post(inbox::labels))
        .get("/app/contacts/{contact_id}", read, get(contacts::show))
        .post("/app/contacts/{contact_id}", reply, post(contacts::update))
        .post("/app/contacts/{contact_id}/tasks/{task_id}/done", reply, post(tasks::done))
        .get("/app/assistant", manage, get(assistant::show))
        .post("/app/assistant", manage, post(assistant::update))
        .post("/app/assistant/model", model, post(assistant::update_model))
        .post("/app/assistant/model/reset", model, post(assistant::reset_model))
        .get("/assets/conversations/{file}", Requirement::Public, get(asset))
        .with_state(PagesState { conversations, identity, models })
}

// ---- assets ---------------------------------------------------------------------------------

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "inbox.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/inbox.js"),
    },
    Asset {
        name: "assistant.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/assistant.js"),
    },
    Asset { name: "inbox.css", content_type: "text/css; charset=utf-8", body: include_str!("../../assets/inbox.css") },
];

/// `GET /assets/conversations/{file}`: the pages' scripts and styles, with a strong ETag (the
/// CSP forbids inline scripts and styles, so they are files).
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    let Some(index) = ASSETS.iter().position(|a| a.name == file) else {
        return Error::NotFound.into_response();
    };
    let etags = ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &frontdesk_kernel::crypto::sha256_hex(a.body.as_bytes())[..16]))
            .collect()
    });
    let (asset, etag) = (&ASSETS[index], &etags[index]);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = asset.body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    response
}

// ---- shared helpers -------------------------------------------------------------------------

/// What a failed form shows on its own page: errors next to their fields, or one message on top.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Shown {
    #[serde(skip)]
    pub status: StatusCode,
    pub errors: Vec<FieldError>,
    pub alert: Option<String>,
}

impl Shown {
    /// Problems the user can act on come back to the form; anything else is the error page's.
    pub fn from_error(page: &Page, error: Error) -> Result<Shown, Error> {
        let status = error.status();
        match error {
            Error::Validation(errors) => Ok(Shown { status, errors: localized(page, errors), alert: None }),
            Error::Conflict { .. } | Error::Forbidden { .. } | Error::BadRequest { .. } | Error::RateLimited { .. } => {
                let detail = error.problem().detail.unwrap_or_default();
                let alert = match page.locale {
                    Locale::En => detail,
                    _ => translated_or(page, &format!("conv.err.{}", error.code()), detail),
                };
                Ok(Shown { status, errors: Vec::new(), alert: Some(alert) })
            }
            other => Err(other),
        }
    }
}

/// `key`'s translation, or `fallback` when no catalog has it (translation echoes unknown keys).
pub(crate) fn translated_or(page: &Page, key: &str, fallback: String) -> String {
    let text = page.t(key);
    if text == key {
        fallback
    } else {
        text
    }
}

/// Field errors in the page's language. The services word their messages in English, so English
/// pages show them as they are; German pages look up `conv.err.<field>.<code>` (indices
/// dropped: `faq[2].answer` → `faq.answer`), then `conv.err.<code>`, else keep the English.
pub(crate) fn localized(page: &Page, errors: Vec<FieldError>) -> Vec<FieldError> {
    if page.locale == Locale::En {
        return errors;
    }
    errors
        .into_iter()
        .map(|e| {
            let field = strip_indices(&e.field);
            let message = translated_or(page, &format!("conv.err.{field}.{}", e.code), String::new());
            let message = if message.is_empty() {
                translated_or(page, &format!("conv.err.{}", e.code), e.message.clone())
            } else {
                message
            };
            FieldError { message, ..e }
        })
        .collect()
}

/// `faq[2].answer` → `faq.answer`.
fn strip_indices(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut depth = 0;
    for c in field.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The tenant's time zone (UTC when unknown), for the times pages show.
pub(crate) async fn zone_of(conversations: &Conversations, tenant: &TenantId) -> Result<TimeZone, Error> {
    let tenant = conversations.tenant(tenant).await?;
    Ok(tenant.and_then(|t| TimeZone::get(&t.time_zone).ok()).unwrap_or(TimeZone::UTC))
}

/// A time as `2026-03-01 14:05` in `zone`.
pub(crate) fn local_time(ms: i64, zone: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A wait as people say it, the same in English and German: `< 1 min`, `12 min`, `3 h 5 min`,
/// `2 d 4 h`. (`inbox.js` counts on with the same rules.)
pub(crate) fn duration_label(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "< 1 min".to_owned(),
        1..=59 => format!("{minutes} min"),
        60..=1439 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => format!("{} d {} h", minutes / 1440, (minutes % 1440) / 60),
    }
}

/// A customer's wait for a human, for the templates (`since` lets the script count on).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Wait {
    pub since: i64,
    pub label: String,
}

impl Wait {
    pub fn since(since: Option<i64>, now: i64) -> Option<Wait> {
        since.map(|since| Wait { since, label: duration_label(now - since) })
    }
}

/// A URL safe to put in `href`/`src`: http(s) only (`javascript:` and friends are shown as text).
pub(crate) fn safe_url(url: &str) -> Option<String> {
    url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https")).map(|u| u.to_string())
}

/// Splits a comma-separated field into trimmed, non-empty parts.
pub(crate) fn comma_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// Splits a one-per-line field into trimmed, non-empty lines.
pub(crate) fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}
