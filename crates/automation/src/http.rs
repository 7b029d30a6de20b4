//! Automation's JSON API under `/api/v1/webhooks`. Each handler's doc comment is its OpenAPI
//! text and its `security` names what it needs (see `frontdesk_web::routes`).

use crate::model::*;
use crate::service::Automation;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::Result;
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod workflows;

pub fn router(automation: Automation) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
        .routes(routes!(replay_delivery))
        .with_state(automation)
}

/// List webhook endpoints
///
/// Endpoints with their filters; never their secrets.
#[utoipa::path(get, path = "/api/v1/webhooks/endpoints", tag = "webhooks", params(PageRequest),
    responses((status = 200, body = Page<WebhookEndpoint>)), security(("bearer" = ["insights:read"])))]
async fn list_endpoints(
    State(a): State<Automation>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<WebhookEndpoint>>> {
    let limit = page.limit()?;
    let rows = a.endpoints(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id.as_str())))
}

/// Add a webhook endpoint
///
/// Events are POSTed to the URL signed per Standard Webhooks (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`). The response carries the signing secret
/// (`whsec_…`): the only time it is shown.
#[utoipa::path(post, path = "/api/v1/webhooks/endpoints", tag = "webhooks", request_body = CreateEndpointRequest,
    responses((status = 201, body = WebhookEndpointWithSecret), (status = 422, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn create_endpoint(
    State(a): State<Automation>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<CreateEndpointRequest>,
) -> Result<(StatusCode, Json<WebhookEndpointWithSecret>)> {
    Ok((StatusCode::CREATED, Json(a.create_endpoint(&p, req, &actor).await?)))
}

/// Get a webhook endpoint
#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path,)),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = Problem)),
    security(("bearer" = ["insights:read"])))]
async fn get_endpoint(
    State(a): State<Automation>,
    p: Principal,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpoint>> {
    Ok(Json(a.endpoint(&p, &id).await?))
}

/// Change a webhook endpoint
///
/// Its URL, description, event filter, or `disabled` (no new deliveries while disabled).
#[utoipa::path(patch, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path,)), request_body = UpdateEndpointRequest,
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn update_endpoint(
    State(a): State<Automation>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiJson(req): ApiJson<UpdateEndpointRequest>,
) -> Result<Json<WebhookEndpoint>> {
    Ok(Json(a.update_endpoint(&p, &id, req, &actor).await?))
}

/// Delete a webhook endpoint
///
/// Also deletes its delivery log; pending attempts stop.
#[utoipa::path(delete, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path,)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["insights:manage"])))]
async fn delete_endpoint(
    State(a): State<Automation>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<StatusCode> {
    a.delete_endpoint(&p, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the signing secret
///
/// Returns the new secret (shown once). For 24 hours every webhook carries two signatures, one
/// per secret, so the receiver can switch without missing one.
#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path,)),
    responses((status = 200, body = WebhookEndpointWithSecret), (status = 404, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn rotate_secret(
    State(a): State<Automation>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpointWithSecret>> {
    Ok(Json(a.rotate_secret(&p, &id, &actor).await?))
}

/// Send a test event
///
/// Queues a `webhook.test` event to this endpoint alone, whatever its filter; follow it in the
/// delivery log.
#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/test", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path,)),
    responses((status = 202, body = WebhookDelivery), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn send_test(
    State(a): State<Automation>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<(StatusCode, Json<WebhookDelivery>)> {
    Ok((StatusCode::ACCEPTED, Json(a.send_test(&p, &id, &actor).await?)))
}

/// List an endpoint's deliveries
///
/// Newest first, with each one's state, attempts, last status and error.
#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path,), PageRequest),
    responses((status = 200, body = Page<WebhookDelivery>), (status = 404, body = Problem)),
    security(("bearer" = ["insights:read"])))]
async fn list_deliveries(
    State(a): State<Automation>,
    p: Principal,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<WebhookDelivery>>> {
    let limit = page.limit()?;
    let rows = a.deliveries(&p, &id, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |d| d.id.as_str())))
}

/// Replay a delivery
///
/// Sends a finished (succeeded or failed) delivery again with the same `webhook-id` and body,
/// as a new delivery with a fresh schedule of attempts.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{delivery_id}/replay", tag = "webhooks",
    params(("delivery_id" = WebhookDeliveryId, Path,)),
    responses((status = 202, body = WebhookDelivery), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn replay_delivery(
    State(a): State<Automation>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WebhookDeliveryId>,
) -> Result<(StatusCode, Json<WebhookDelivery>)> {
    Ok((StatusCode::ACCEPTED, Json(a.replay(&p, &id, &actor).await?)))
}
