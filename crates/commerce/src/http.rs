//! Commerce's JSON API under `/api/v1/commerce`, and Stripe's webhook endpoint. Each handler's
//! doc comment is its OpenAPI text and its `security` names what it needs.

use crate::model::*;
use crate::service::{Commerce, Receipt, MAX_WEBHOOK_BYTES};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(commerce: Commerce) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(get_account, connect, disconnect))
        .routes(routes!(list_payments))
        .routes(routes!(list_dunning, start_dunning))
        .routes(routes!(get_dunning))
        .routes(routes!(cancel_dunning))
        .routes(routes!(stripe_webhook))
        .with_state(commerce)
}

/// The connected Stripe account
///
/// Its id, name, default currency, mode and the webhook address to give Stripe; never its keys.
#[utoipa::path(get, path = "/api/v1/commerce/stripe", tag = "commerce",
    responses((status = 200, body = StripeAccount), (status = 404, body = Problem)),
    security(("bearer" = ["payments:read"])))]
async fn get_account(State(c): State<Commerce>, p: Principal) -> Result<Json<StripeAccount>> {
    c.account(&p).await?.map(Json).ok_or(Error::NotFound)
}

/// Connect Stripe
///
/// Connects the tenant's Stripe account with a secret (or restricted) key and the signing
/// secret of a webhook endpoint pointing at `webhook_url` (events `invoice.paid`,
/// `invoice.payment_failed`, `checkout.session.completed`,
/// `checkout.session.async_payment_succeeded`, `checkout.session.async_payment_failed`). A new
/// key is checked with Stripe first. Both are sealed at rest and never shown again; leave one out
/// to keep the stored one.
#[utoipa::path(put, path = "/api/v1/commerce/stripe", tag = "commerce", request_body = ConnectStripeRequest,
    responses((status = 200, body = StripeAccount), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = ["payments:manage"])))]
async fn connect(
    State(c): State<Commerce>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<ConnectStripeRequest>,
) -> Result<Json<StripeAccount>> {
    Ok(Json(c.connect(&p, req, &actor).await?))
}

/// Disconnect Stripe
///
/// The keys are deleted; Stripe's deliveries are refused from now on and dunning retries fail.
#[utoipa::path(delete, path = "/api/v1/commerce/stripe", tag = "commerce",
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["payments:manage"])))]
async fn disconnect(State(c): State<Commerce>, p: Principal, AuditActor(actor): AuditActor) -> Result<StatusCode> {
    c.disconnect(&p, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// `succeeded` or `failed`; both when absent.
    pub state: Option<PaymentState>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List payments
///
/// Payments Stripe reported, newest first: paid and failed invoices, completed Checkout
/// payments.
#[utoipa::path(get, path = "/api/v1/commerce/payments", tag = "commerce", params(PaymentQuery),
    responses((status = 200, body = Page<Payment>), (status = 422, body = Problem)),
    security(("bearer" = ["payments:read"])))]
async fn list_payments(
    State(c): State<Commerce>,
    p: Principal,
    ApiQuery(q): ApiQuery<PaymentQuery>,
) -> Result<Json<Page<Payment>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let rows = c.payments(&p, q.state, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |r| r.id.as_str())))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DunningQuery {
    /// `active`, `recovered`, `exhausted` or `cancelled`; all when absent.
    pub state: Option<DunningState>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List dunning cases
#[utoipa::path(get, path = "/api/v1/commerce/dunning", tag = "commerce", params(DunningQuery),
    responses((status = 200, body = Page<DunningCase>), (status = 422, body = Problem)),
    security(("bearer" = ["payments:read"])))]
async fn list_dunning(
    State(c): State<Commerce>,
    p: Principal,
    ApiQuery(q): ApiQuery<DunningQuery>,
) -> Result<Json<Page<DunningCase>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let rows = c.dunning_cases(&p, q.state, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |r| r.id.as_str())))
}

/// Start dunning
///
/// Retries the invoice's payment in Stripe at each of `retry_after_hours` (default 24, 72 and
/// 168) until it is paid. An invoice with an active case keeps it. Workflows start dunning with
/// their `stripe_dunning` step.
#[utoipa::path(post, path = "/api/v1/commerce/dunning", tag = "commerce", request_body = StartDunningRequest,
    responses((status = 201, body = DunningCase), (status = 422, body = Problem)),
    security(("bearer" = ["payments:manage"])))]
async fn start_dunning(
    State(c): State<Commerce>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<StartDunningRequest>,
) -> Result<(StatusCode, Json<DunningCase>)> {
    Ok((StatusCode::CREATED, Json(c.start_dunning_for(&p, req, &actor).await?)))
}

/// Get a dunning case
#[utoipa::path(get, path = "/api/v1/commerce/dunning/{case_id}", tag = "commerce",
    params(("case_id" = DunningCaseId, Path,)),
    responses((status = 200, body = DunningCase), (status = 404, body = Problem)),
    security(("bearer" = ["payments:read"])))]
async fn get_dunning(
    State(c): State<Commerce>,
    p: Principal,
    ApiPath(id): ApiPath<DunningCaseId>,
) -> Result<Json<DunningCase>> {
    Ok(Json(c.dunning_case(&p, &id).await?))
}

/// Stop a dunning case
///
/// No further retries; `409` when the case is no longer active.
#[utoipa::path(post, path = "/api/v1/commerce/dunning/{case_id}/cancel", tag = "commerce",
    params(("case_id" = DunningCaseId, Path,)),
    responses((status = 200, body = DunningCase), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["payments:manage"])))]
async fn cancel_dunning(
    State(c): State<Commerce>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<DunningCaseId>,
) -> Result<Json<DunningCase>> {
    Ok(Json(c.cancel_dunning(&p, &id, &actor).await?))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// `stored`, `duplicate` (stored by an earlier delivery) or `ignored` (a type not used).
    pub outcome: &'static str,
}

/// Stripe webhook
///
/// Where the tenant's Stripe account sends its events (the address is shown when Stripe is
/// connected). Authenticated by the `Stripe-Signature` header; answered `200` only once the event
/// is stored. Events Frontdesk does not use are acknowledged and dropped.
#[utoipa::path(post, path = "/api/v1/public/stripe/{tenant_id}/webhook", tag = "commerce",
    params(("tenant_id" = String, Path,)),
    responses((status = 200, body = WebhookReceipt), (status = 400, body = Problem), (status = 404, body = Problem),
              (status = 413, body = Problem)),
    security(()))]
async fn stripe_webhook(
    State(c): State<Commerce>,
    ApiPath(tenant): ApiPath<String>,
    request: Request,
) -> Result<Json<WebhookReceipt>> {
    let tenant = TenantId::parse(&tenant).ok_or(Error::NotFound)?;
    let (parts, body) = request.into_parts();
    // The signature covers the exact bytes: the body is read raw, never re-serialised.
    let body = axum::body::to_bytes(body, MAX_WEBHOOK_BYTES).await.map_err(|_| Error::PayloadTooLarge)?;
    let signature = parts.headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let receipt = c.receive(&tenant, signature, &body).await?;
    let outcome = match receipt {
        Receipt::Stored => "stored",
        Receipt::Duplicate => "duplicate",
        Receipt::Ignored => "ignored",
    };
    Ok(Json(WebhookReceipt { outcome }))
}
