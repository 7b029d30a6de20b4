//! The dashboard's Payments page: connect the tenant's Stripe account (keys shown only by their
//! last four characters, with the webhook address to give Stripe), the payments Stripe reported,
//! and the dunning cases, where an active one can be stopped.

use crate::model::*;
use crate::service::{Commerce, HANDLED_EVENTS};
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
    b.template("commerce/payments.html", include_str!("../templates/payments.html"))
        .translations(Locale::En, include_str!("../i18n/en.json"))
        .translations(Locale::De, include_str!("../i18n/de.json"))
        .nav(NavItem {
            href: "/app/payments",
            label: "nav.payments",
            requirement: Requirement::Tenant(Permission::PaymentsRead),
            order: 49,
        });
}

pub fn routes(commerce: Commerce) -> Routes {
    let manage = Requirement::Tenant(Permission::PaymentsManage);
    Routes::new()
        .get("/app/payments", Requirement::Tenant(Permission::PaymentsRead), get(show))
        .post("/app/payments/connect", manage, post(connect))
        .post("/app/payments/disconnect", manage, post(disconnect))
        .post("/app/payments/dunning/{case_id}/cancel", manage, post(cancel))
        .with_state(commerce)
}

#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    webhook_secret: String,
}

/// The page, with the errors of a form that did not go through.
async fn render(c: &Commerce, page: &Page, p: &Principal, status: StatusCode, errors: serde_json::Value) -> Response {
    let data = async {
        let tenant = p.tenant()?.clone();
        let account = c.account(p).await?;
        let payments = c.payments(p, None, None, 50).await?;
        let cases = c.dunning_cases(p, None, None, 50).await?;
        Ok::<_, Error>(json!({
            "account": account,
            "webhook_url": c.webhook_url(&tenant),
            "events": HANDLED_EVENTS,
            "payments": payments.iter().map(|p| with_amount_text(json!(p), Some(p.amount))).collect::<Vec<_>>(),
            "cases": cases.iter().map(|c| with_amount_text(json!(c), c.amount)).collect::<Vec<_>>(),
            "can_manage": p.can(Permission::PaymentsManage),
            "connect_errors": errors,
        }))
    };
    match data.await {
        Ok(data) => page.render_status(status, "commerce/payments.html", data),
        Err(e) => page.error(e),
    }
}

/// Amounts as people read them (`49.00 EUR`), formatted from minor units, never through floats.
fn with_amount_text(mut row: serde_json::Value, amount: Option<frontdesk_kernel::money::Money>) -> serde_json::Value {
    row["amount_text"] = json!(amount.map(|m| m.display()));
    row
}

async fn show(State(c): State<Commerce>, page: Page, p: Principal) -> Response {
    render(&c, &page, &p, StatusCode::OK, json!([])).await
}

async fn connect(
    State(c): State<Commerce>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<ConnectForm>,
) -> Response {
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let req = ConnectStripeRequest { secret_key: some(&f.secret_key), webhook_secret: some(&f.webhook_secret) };
    match c.connect(&p, req, &actor).await {
        Ok(_) => Redirect::to("/app/payments?notice=stripe_connected").into_response(),
        // The keys are never echoed back into the page.
        Err(Error::Validation(errors)) => render(&c, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, json!(errors)).await,
        Err(e) => page.error(e),
    }
}

async fn disconnect(State(c): State<Commerce>, page: Page, p: Principal, AuditActor(actor): AuditActor) -> Response {
    page.after(c.disconnect(&p, &actor).await, "/app/payments?notice=stripe_disconnected")
}

async fn cancel(
    State(c): State<Commerce>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<DunningCaseId>,
) -> Response {
    page.after(c.cancel_dunning(&p, &id, &actor).await, "/app/payments?notice=dunning_cancelled")
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_languages_translate_every_key_the_page_names() {
        let (en, named) = frontdesk_web::pages::check_translations(
            include_str!("../templates/payments.html"),
            "payments.",
            include_str!("../i18n/en.json"),
            include_str!("../i18n/de.json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(named > 20, "the scan found only {named} keys");
        for state in ["succeeded", "failed", "active", "recovered", "exhausted", "cancelled"] {
            assert!(en.contains(&format!("payments.state.{state}")), "state {state}");
        }
        for source in ["invoice", "checkout"] {
            assert!(en.contains(&format!("payments.source.{source}")));
        }
    }
}
