//! Channels' JSON API under `/api/v1/channels`. Each handler's doc comment is its OpenAPI text
//! and its `security` names what it needs (see `frontdesk_web::routes`).

use crate::model::*;
use crate::service::Channels;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::Result;
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(channels: Channels) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(connect, disconnect))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(get_message))
        .routes(routes!(resend_message))
        .with_state(channels)
}

/// List connected channels
///
/// The WhatsApp, SMS and Telegram accounts the tenant sends through; never their secrets.
#[utoipa::path(get, path = "/api/v1/channels/accounts", tag = "channels",
    responses((status = 200, body = Vec<ChannelAccount>)), security(("bearer" = ["channels:read"])))]
async fn list_accounts(State(c): State<Channels>, p: Principal) -> Result<Json<Vec<ChannelAccount>>> {
    Ok(Json(c.accounts(&p).await?))
}

/// Connect a channel
///
/// Connects `whatsapp` (WhatsApp Cloud API or Twilio), `sms` (Twilio) or `telegram` (a bot),
/// or changes its account. The secret is sealed at rest and never shown again; leave it out to
/// keep the stored one.
#[utoipa::path(put, path = "/api/v1/channels/accounts/{channel}", tag = "channels",
    params(("channel" = ChannelKind, Path,)), request_body = ConnectChannelRequest,
    responses((status = 200, body = ChannelAccount), (status = 422, body = Problem)),
    security(("bearer" = ["channels:manage"])))]
async fn connect(
    State(c): State<Channels>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(channel): ApiPath<ChannelKind>,
    ApiJson(req): ApiJson<ConnectChannelRequest>,
) -> Result<Json<ChannelAccount>> {
    Ok(Json(c.connect(&p, channel, req, &actor).await?))
}

/// Disconnect a channel
///
/// Its secret is deleted; messages sent to it afterwards are held in the outbox.
#[utoipa::path(delete, path = "/api/v1/channels/accounts/{channel}", tag = "channels",
    params(("channel" = ChannelKind, Path,)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["channels:manage"])))]
async fn disconnect(
    State(c): State<Channels>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(channel): ApiPath<ChannelKind>,
) -> Result<StatusCode> {
    c.disconnect(&p, channel, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List outbound messages
///
/// The outbox, newest first: each message's state (`queued`, `sent`, `held`, `failed`), the
/// provider's message id and the last error.
#[utoipa::path(get, path = "/api/v1/channels/messages", tag = "channels", params(PageRequest),
    responses((status = 200, body = Page<OutboundMessage>)), security(("bearer" = ["channels:read"])))]
async fn list_messages(
    State(c): State<Channels>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<OutboundMessage>>> {
    let limit = page.limit()?;
    let rows = c.messages(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |m| m.id.as_str())))
}

/// Send a message
///
/// Queues a text message to a phone number (WhatsApp, SMS) or a Telegram chat; it is sent in
/// the background and retried while the provider is unreachable. Without a connected account
/// it is held in the outbox. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/channels/messages", tag = "channels", request_body = SendMessageRequest,
    responses((status = 202, body = OutboundMessage), (status = 422, body = Problem)),
    security(("bearer" = ["channels:manage"])))]
async fn send_message(
    State(c): State<Channels>,
    p: Principal,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> Result<(StatusCode, Json<OutboundMessage>)> {
    Ok((StatusCode::ACCEPTED, Json(c.send(&p, req, "api").await?)))
}

/// Get an outbound message
#[utoipa::path(get, path = "/api/v1/channels/messages/{message_id}", tag = "channels",
    params(("message_id" = OutboundMessageId, Path,)),
    responses((status = 200, body = OutboundMessage), (status = 404, body = Problem)),
    security(("bearer" = ["channels:read"])))]
async fn get_message(
    State(c): State<Channels>,
    p: Principal,
    ApiPath(id): ApiPath<OutboundMessageId>,
) -> Result<Json<OutboundMessage>> {
    Ok(Json(c.message(&p, &id).await?))
}

/// Send a message again
///
/// A held or failed message is queued again with a fresh set of attempts (after connecting
/// its channel or fixing the account).
#[utoipa::path(post, path = "/api/v1/channels/messages/{message_id}/resend", tag = "channels",
    params(("message_id" = OutboundMessageId, Path,)),
    responses((status = 202, body = OutboundMessage), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["channels:manage"])))]
async fn resend_message(
    State(c): State<Channels>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<OutboundMessageId>,
) -> Result<(StatusCode, Json<OutboundMessage>)> {
    Ok((StatusCode::ACCEPTED, Json(c.resend(&p, &id, &actor).await?)))
}
