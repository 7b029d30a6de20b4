//! Dashboard pages of automation: webhook endpoints (create with the secret shown once, rotate,
//! disable, delete, send a test) and each endpoint's delivery log with replay.

use crate::model::*;
use crate::service::Automation;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Form;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::Error;
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{ApiPath, AuditActor, Permission, Principal, Requirement, Routes};
use serde::Deserialize;
use serde_json::json;

pub fn templates(b: &mut TemplatesBuilder) {
    b.template("automation/webhooks.html", include_str!("../templates/webhooks.html"))
        .template("automation/deliveries.html", include_str!("../templates/deliveries.html"))
        .translations(Locale::En, include_str!("../i18n/en.json"))
        .translations(Locale::De, include_str!("../i18n/de.json"))
        .nav(NavItem {
            href: "/app/webhooks",
            label: "nav.webhooks",
            requirement: Requirement::Tenant(Permission::InsightsRead),
            order: 46,
        });
}

pub fn routes(automation: Automation) -> Routes {
    let manage = Requirement::Tenant(Permission::InsightsManage);
    Routes::new()
        .get("/app/webhooks", Requirement::Tenant(Permission::InsightsRead), get(list))
        .post("/app/webhooks", manage, post(create))
        .get("/app/webhooks/{endpoint_id}", Requirement::Tenant(Permission::InsightsRead), get(deliveries))
        .post("/app/webhooks/{endpoint_id}/rotate", manage, post(rotate))
        .post("/app/webhooks/{endpoint_id}/test", manage, post(send_test))
        .post("/app/webhooks/{endpoint_id}/delete", manage, post(delete))
        .post("/app/webhooks/deliveries/{delivery_id}/replay", manage, post(replay))
        .with_state(automation)
}

#[derive(Deserialize)]
pub struct EndpointForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    /// Comma-separated event types; empty for all.
    #[serde(default)]
    event_types: String,
}

async fn render_list(
    a: &Automation,
    page: &Page,
    p: &Principal,
    status: StatusCode,
    extra: serde_json::Value,
) -> Response {
    match a.endpoints(p, None, 200).await {
        Ok(endpoints) => page.render_status(
            status,
            "automation/webhooks.html",
            json!({
                "endpoints": endpoints,
                "can_manage": p.can(Permission::InsightsManage),
                "created": extra.get("created"),
                "errors": extra.get("errors").cloned().unwrap_or(json!([])),
                "form": extra.get("form").cloned().unwrap_or(json!({"url": "", "description": "", "event_types": ""})),
            }),
        ),
        Err(e) => page.error(e),
    }
}

async fn list(State(a): State<Automation>, page: Page, p: Principal) -> Response {
    render_list(&a, &page, &p, StatusCode::OK, json!({})).await
}

async fn create(
    State(a): State<Automation>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<EndpointForm>,
) -> Response {
    let event_types: Vec<String> =
        f.event_types.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let req = CreateEndpointRequest { url: f.url.clone(), description: f.description.clone(), event_types };
    match a.create_endpoint(&p, req, &actor).await {
        Ok(created) => render_list(&a, &page, &p, StatusCode::OK, json!({"created": created})).await,
        Err(Error::Validation(errors)) => {
            let form = json!({"url": f.url, "description": f.description, "event_types": f.event_types});
            render_list(&a, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": errors, "form": form})).await
        }
        Err(e) => page.error(e),
    }
}

async fn deliveries(
    State(a): State<Automation>,
    page: Page,
    p: Principal,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Response {
    let result = async {
        let endpoint = a.endpoint(&p, &id).await?;
        let deliveries = a.deliveries(&p, &id, None, 100).await?;
        Ok::<_, Error>(
            json!({"endpoint": endpoint, "deliveries": deliveries, "can_manage": p.can(Permission::InsightsManage)}),
        )
    };
    match result.await {
        Ok(data) => page.render("automation/deliveries.html", data),
        Err(e) => page.error(e),
    }
}

async fn rotate(
    State(a): State<Automation>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Response {
    match a.rotate_secret(&p, &id, &actor).await {
        Ok(created) => render_list(&a, &page, &p, StatusCode::OK, json!({"created": created})).await,
        Err(e) => page.error(e),
    }
}

async fn send_test(
    State(a): State<Automation>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Response {
    page.after(a.send_test(&p, &id, &actor).await, &format!("/app/webhooks/{id}?notice=test_sent"))
}

async fn delete(
    State(a): State<Automation>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Response {
    page.after(a.delete_endpoint(&p, &id, &actor).await, "/app/webhooks?notice=deleted")
}

async fn replay(
    State(a): State<Automation>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookDeliveryId>,
) -> Response {
    match a.replay(&p, &id, &actor).await {
        Ok(d) => Redirect::to(&format!("/app/webhooks/{}?notice=replayed", d.endpoint_id)).into_response(),
        Err(e) => page.error(e),
    }
}
