//! The dashboard page of the knowledge base (`/app/knowledge`): try a question and see the
//! ranked passages with scores and citations, the sources with their status, progress and
//! errors, adding pages, catalogs and texts, uploading files, the FAQ editor, and the gaps
//! (questions the assistant could not answer) to accept as FAQ entries or dismiss.

use crate::model::*;
use crate::service::Knowledge;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Form;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::Error;
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{ApiPath, ApiQuery, AuditActor, Permission, Principal, Requirement, Routes};
use serde::Deserialize;
use serde_json::{json, Value};

/// The upload script: reads the chosen files and sends each to the upload API with the
/// session's CSRF token (a plain form cannot send a raw body).
const UPLOAD_JS: &str = include_str!("../assets/knowledge.js");

pub fn templates(b: &mut TemplatesBuilder) {
    b.template("knowledge/index.html", include_str!("../templates/index.html"))
        .translations(Locale::En, include_str!("../i18n/en.json"))
        .translations(Locale::De, include_str!("../i18n/de.json"))
        .nav(NavItem {
            href: "/app/knowledge",
            label: "nav.knowledge",
            requirement: Requirement::Tenant(Permission::KnowledgeRead),
            order: 40,
        });
}

pub fn routes(knowledge: Knowledge) -> Routes {
    let read = Requirement::Tenant(Permission::KnowledgeRead);
    let manage = Requirement::Tenant(Permission::KnowledgeManage);
    Routes::new()
        .get("/app/knowledge", read, get(index))
        .get("/app/knowledge/upload.js", read, get(script))
        .post("/app/knowledge/sources", manage, post(add_source))
        .post("/app/knowledge/sources/{source_id}/refresh", manage, post(refresh))
        .post("/app/knowledge/sources/{source_id}/delete", manage, post(delete))
        .post("/app/knowledge/faq", manage, post(add_faq))
        .post("/app/knowledge/faq/{faq_id}", manage, post(edit_faq))
        .post("/app/knowledge/faq/{faq_id}/delete", manage, post(delete_faq))
        .post("/app/knowledge/gaps/{gap_id}/accept", manage, post(accept_gap))
        .post("/app/knowledge/gaps/{gap_id}/dismiss", manage, post(dismiss_gap))
        .with_state(knowledge)
}

#[derive(Deserialize, Default)]
pub struct IndexQuery {
    #[serde(default)]
    q: Option<String>,
    /// An FAQ entry to edit.
    #[serde(default)]
    edit: Option<String>,
}

async fn script() -> Response {
    let mut r = UPLOAD_JS.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    r
}

/// Renders the page; `extra` carries form errors and values after a failed post.
async fn render(
    k: &Knowledge,
    page: &Page,
    p: &Principal,
    status: StatusCode,
    q: IndexQuery,
    extra: Value,
) -> Response {
    let result = async {
        let tenant = p.tenant()?;
        let search = match q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(query) => match k.search(tenant, SearchQuery { limit: Some(10), ..SearchQuery::new(query) }).await {
                Ok(r) => json!({"results": r, "error": null}),
                Err(Error::Validation(errors)) => {
                    json!({"results": null, "error": errors.first().map(|e| e.message.clone())})
                }
                Err(e) => return Err(e),
            },
            None => json!({"results": null, "error": null}),
        };
        let sources = k.sources(tenant, None, 200).await?;
        let faq = k.faq_entries(tenant, None, 200).await?;
        let gaps = k.gaps(tenant, GapStatus::Open, 50).await?;
        let editing = q.edit.as_deref().and_then(FaqId::parse).and_then(|id| faq.iter().find(|f| f.id == id).cloned());
        Ok::<_, Error>(json!({
            "q": q.q.unwrap_or_default(),
            "search": search,
            "sources": sources,
            "faq": faq,
            "gaps": gaps,
            "editing": editing,
            "model": k.embedder_info().map(|i| i.model),
            "max_upload_mb": k.config().max_upload_bytes / (1024 * 1024),
            "can_manage": p.can(Permission::KnowledgeManage),
            "errors": extra.get("errors").cloned().unwrap_or(json!([])),
            "form": form_values(extra.get("form")),
        }))
    };
    match result.await {
        Ok(data) => page.render_status(status, "knowledge/index.html", data),
        Err(e) => page.error(e),
    }
}

/// The forms' values: what was posted over empty defaults (templates read every key).
fn form_values(posted: Option<&Value>) -> Value {
    let mut form = json!({
        "kind": "url", "url": "", "title": "", "text": "", "tags": "", "max_pages": "1",
        "faq": {"question": "", "answer": ""},
    });
    if let (Some(Value::Object(posted)), Value::Object(defaults)) = (posted, &mut form) {
        for (k, v) in posted {
            defaults.insert(k.clone(), v.clone());
        }
    }
    form
}

async fn index(State(k): State<Knowledge>, page: Page, p: Principal, ApiQuery(q): ApiQuery<IndexQuery>) -> Response {
    render(&k, &page, &p, StatusCode::OK, q, json!({})).await
}

/// A failed form: the page again with the errors and what was typed.
async fn invalid(k: &Knowledge, page: &Page, p: &Principal, e: Error, form: Value) -> Response {
    match e {
        Error::Validation(errors) => {
            let extra = json!({"errors": errors, "form": form});
            render(k, page, p, StatusCode::UNPROCESSABLE_ENTITY, IndexQuery::default(), extra).await
        }
        other => page.error(other),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct SourceForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    max_pages: String,
}

async fn add_source(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<SourceForm>,
) -> Response {
    let result = async {
        let max_pages = match f.max_pages.trim() {
            "" => None,
            n => Some(n.parse::<u32>().map_err(|_| Error::field("max_pages", "invalid", "Give a number of pages."))?),
        };
        let req = CreateSourceRequest {
            kind: f.kind.clone(),
            title: Some(f.title.clone()).filter(|t| !t.trim().is_empty()),
            url: Some(f.url.clone()),
            text: Some(f.text.clone()),
            format: None,
            tags: f.tags.split(',').map(str::to_owned).collect(),
            max_pages,
            max_depth: None,
            refresh_minutes: None,
        };
        k.create_source(p.tenant()?, req, &actor).await
    };
    match result.await {
        Ok(_) => Redirect::to("/app/knowledge?notice=source_added").into_response(),
        Err(e) => invalid(&k, &page, &p, e, json!(f)).await,
    }
}

async fn refresh(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<SourceId>,
) -> Response {
    let result = async { k.refresh_source(p.tenant()?, &id, &actor).await }.await;
    page.after(result, "/app/knowledge?notice=refresh_queued")
}

async fn delete(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<SourceId>,
) -> Response {
    let result = async { k.delete_source(p.tenant()?, &id, &actor).await }.await;
    page.after(result, "/app/knowledge?notice=deleted")
}

#[derive(Deserialize, serde::Serialize)]
pub struct FaqForm {
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
}

async fn add_faq(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<FaqForm>,
) -> Response {
    let req = FaqRequest { question: f.question.clone(), answer: f.answer.clone() };
    let result = async { k.create_faq(p.tenant()?, req, &actor).await }.await;
    match result {
        Ok(_) => Redirect::to("/app/knowledge?notice=faq_saved#faq").into_response(),
        Err(e) => invalid(&k, &page, &p, e, json!({"faq": f})).await,
    }
}

async fn edit_faq(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<FaqId>,
    Form(f): Form<FaqForm>,
) -> Response {
    let req = FaqRequest { question: f.question.clone(), answer: f.answer.clone() };
    let result = async { k.update_faq(p.tenant()?, &id, req, &actor).await }.await;
    match result {
        Ok(_) => Redirect::to("/app/knowledge?notice=faq_saved#faq").into_response(),
        Err(e) => invalid(&k, &page, &p, e, json!({"faq": f})).await,
    }
}

async fn delete_faq(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<FaqId>,
) -> Response {
    let result = async { k.delete_faq(p.tenant()?, &id, &actor).await }.await;
    page.after(result, "/app/knowledge?notice=deleted#faq")
}

#[derive(Deserialize, serde::Serialize)]
pub struct AcceptForm {
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
}

async fn accept_gap(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<GapId>,
    Form(f): Form<AcceptForm>,
) -> Response {
    let req = AcceptGapRequest {
        question: Some(f.question.clone()).filter(|q| !q.trim().is_empty()),
        answer: f.answer.clone(),
    };
    let result = async { k.accept_gap(p.tenant()?, &id, req, &actor).await }.await;
    match result {
        Ok(_) => Redirect::to("/app/knowledge?notice=gap_accepted#gaps").into_response(),
        Err(e) => invalid(&k, &page, &p, e, json!({})).await,
    }
}

async fn dismiss_gap(
    State(k): State<Knowledge>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<GapId>,
) -> Response {
    let result = async { k.dismiss_gap(p.tenant()?, &id, &actor).await }.await;
    page.after(result, "/app/knowledge?notice=gap_dismissed#gaps")
}
