//! Dashboard pages of ops: the audit log viewer and the operator's system view.

use crate::http::{query_audit, AuditQuery};
use crate::{health, Ops};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use frontdesk_kernel::domain::Locale;
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{ApiQuery, Permission, Principal, Requirement, Routes};
use serde_json::json;

pub fn templates(b: &mut TemplatesBuilder) {
    b.template("ops/audit.html", include_str!("../templates/audit.html"))
        .template("ops/system.html", include_str!("../templates/system.html"))
        .template("ops/api_docs.html", include_str!("../templates/api_docs.html"))
        .translations(Locale::En, include_str!("../i18n/en.json"))
        .translations(Locale::De, include_str!("../i18n/de.json"))
        .nav(NavItem {
            href: "/app/audit",
            label: "nav.audit",
            requirement: Requirement::Tenant(Permission::AuditRead),
            order: 50,
        })
        .nav(NavItem { href: "/platform/system", label: "nav.system", requirement: Requirement::Platform, order: 110 });
}

pub fn routes(ops: Ops) -> Routes {
    Routes::new()
        .get("/app/audit", Requirement::Tenant(Permission::AuditRead), get(audit_page))
        .get("/platform/system", Requirement::Platform, get(system_page))
        .with_state(ops)
}

async fn audit_page(
    State(ops): State<Ops>,
    page: Page,
    principal: Principal,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Response {
    let (filter, paging) = q.split();
    match query_audit(&ops, &principal, &filter, &paging).await {
        Ok(result) => page.render(
            "ops/audit.html",
            json!({ "entries": result.items, "next_cursor": result.next_cursor, "filter": filter_json(&q) }),
        ),
        Err(e) => page.error(e),
    }
}

fn filter_json(q: &AuditQuery) -> serde_json::Value {
    json!({
        "action": q.action.clone().unwrap_or_default(),
        "actor_id": q.actor_id.clone().unwrap_or_default(),
        "object_id": q.object_id.clone().unwrap_or_default(),
        "since": q.since.clone().unwrap_or_default(),
        "until": q.until.clone().unwrap_or_default(),
    })
}

async fn system_page(State(ops): State<Ops>, page: Page) -> Response {
    let report = health::detailed_report(&ops).await;
    page.render("ops/system.html", json!({ "health": report }))
}
