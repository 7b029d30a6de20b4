//! The web chat's public endpoints, and the widget script. The tenant comes from `?tenant=<slug>`
//! or from the custom domain the request was sent to — never a default: an unknown or malformed
//! tenant is a 404. The visitor is recognised by a sealed visitor token bound to the tenant. Only
//! what a visitor may see leaves here: the widget's look, the greeting, and the visitor's own
//! messages (no traces, no staff ids, no settings).

use crate::live::{LiveEvent, Topic};
use crate::model::*;
use crate::service::{Conversations, Holder, Inbound, Received, TurnEvent, TurnPlan};
use crate::sse;
use crate::store::{self, NewContact};
use crate::visitor::{self, Visitor};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use frontdesk_identity::model::Tenant;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::{Error, Result};
use frontdesk_web::ratelimit::Decision;
use frontdesk_web::{ApiQuery, ClientIp, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The header that carries the visitor token.
pub const VISITOR_HEADER: &str = "x-visitor-token";
/// The widget, embedded in the binary.
pub const WIDGET_JS: &str = include_str!("../assets/widget.js");

/// How often a visitor, and an address, may send messages.
#[derive(Debug, Clone, Copy)]
pub struct PublicLimits {
    pub per_visitor: Quota,
    pub per_ip: Quota,
}

impl Default for PublicLimits {
    fn default() -> Self {
        Self { per_visitor: Quota::per_minute(20), per_ip: Quota::per_minute(120) }
    }
}

#[derive(Clone)]
pub struct PublicState {
    pub conversations: Conversations,
    pub limiter: Arc<RateLimiter>,
    pub limits: PublicLimits,
}

pub fn router(state: PublicState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(bootstrap))
        .routes(routes!(chat))
        .routes(routes!(chat_stream))
        .routes(routes!(history))
        .routes(routes!(events))
        .routes(routes!(widget_js))
        .with_state(state)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// The business's slug; without it, the custom domain the request was sent to decides.
    pub tenant: Option<String>,
}

/// The tenant of a public request, and its settings after the origin check.
async fn resolve(s: &PublicState, q: &TenantQuery, headers: &HeaderMap) -> Result<(Tenant, Arc<AssistantSettings>)> {
    let tenant = match q.tenant.as_deref() {
        Some(slug) => s.conversations.public_tenant_by_slug(slug.trim()).await?,
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
            s.conversations.public_tenant_by_domain(host).await?
        }
    };
    let settings = s.conversations.settings(&tenant.id).await?;
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if !Conversations::origin_allowed(&settings, origin) {
        return Err(Error::forbidden("This website may not use this business's chat."));
    }
    Ok((tenant, settings))
}

fn presented_token(headers: &HeaderMap, body_token: Option<&str>) -> Option<String> {
    headers
        .get(VISITOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(body_token)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn bad_token() -> Error {
    Error::unauthenticated("invalid_visitor_token", "This visitor token is not valid here; start a new chat.")
}

async fn limit(s: &PublicState, key: String, quota: Quota) -> Result<()> {
    match s.limiter.hit(&key, quota).await {
        Decision::Allow => Ok(()),
        Decision::Deny(wait) => Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) }),
    }
}

/// What the widget shows before the first message.
#[derive(Serialize, ToSchema)]
pub struct Bootstrap {
    pub tenant: PublicTenant,
    pub widget: PublicWidget,
    /// The answer can be streamed (`/chat/stream`).
    pub streaming: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PublicTenant {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicWidget {
    pub title: String,
    pub greeting: String,
    pub placeholder: String,
    pub language: String,
    pub color: String,
    pub text_color: String,
    pub logo_url: Option<String>,
    pub position: String,
    pub quick_replies: Vec<String>,
}

/// Web chat bootstrap
///
/// The business's name, the widget's look and greeting, in its language. Nothing else.
#[utoipa::path(get, path = "/api/v1/public/bootstrap", tag = "web chat", params(TenantQuery),
    responses((status = 200, body = Bootstrap), (status = 404, body = Problem)), security(()))]
async fn bootstrap(
    State(s): State<PublicState>,
    ApiQuery(q): ApiQuery<TenantQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let (tenant, settings) = resolve(&s, &q, &headers).await?;
    let de = tenant.locale.starts_with("de");
    let greeting = if !settings.greeting.is_empty() {
        settings.greeting.clone()
    } else if de {
        format!("Hallo! Hier ist {}. Wie können wir helfen?", tenant.name)
    } else {
        format!("Hi! This is {}. How can we help?", tenant.name)
    };
    let body = Bootstrap {
        tenant: PublicTenant { slug: tenant.slug.clone(), name: tenant.name.clone() },
        widget: PublicWidget {
            title: tenant.name.clone(),
            greeting,
            placeholder: if de { "Nachricht schreiben…".into() } else { "Type your message…".into() },
            language: if de { "de".into() } else { "en".into() },
            color: settings.widget.color.clone(),
            text_color: settings.widget.text_color.clone(),
            logo_url: settings.widget.logo_url.clone(),
            position: settings.widget.position.clone(),
            quick_replies: settings.widget.quick_replies.clone(),
        },
        streaming: true,
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(response)
}

/// A visitor's message.
#[derive(Deserialize, ToSchema)]
pub struct ChatRequest {
    pub message: String,
    /// The token from an earlier answer (also accepted as the `x-visitor-token` header).
    #[serde(default)]
    pub visitor_token: Option<String>,
    /// The client's id of this message: re-sending the same id never stores it twice.
    #[serde(default)]
    pub client_message_id: Option<String>,
}

/// The stored message and the answers to it.
#[derive(Serialize, ToSchema)]
pub struct ChatAnswer {
    /// Keep it: it resumes the conversation on the next visit.
    pub visitor_token: String,
    pub conversation_id: ConversationId,
    pub message: PublicMessage,
    /// The assistant's reply and any notices; empty while the answer is still pending.
    pub replies: Vec<PublicMessage>,
    /// `open`, `waiting`, `handed_off` or `resolved`; `pending` when the reply comes later
    /// (through `/events` or the history).
    pub status: String,
}

/// Accepts a chat message: token, limits, storage. Returns the visitor's token and the outcome.
async fn accept(
    s: &PublicState,
    q: &TenantQuery,
    headers: &HeaderMap,
    ip: &str,
    body: ChatRequest,
) -> Result<(Received, String)> {
    let (tenant, _settings) = resolve(s, q, headers).await?;
    limit(s, format!("chat-ip:{}:{ip}", tenant.id), s.limits.per_ip).await?;
    let keys = s.conversations.keys();
    let (visitor, token) = match presented_token(headers, body.visitor_token.as_deref()) {
        Some(t) => {
            let v = visitor::verify(keys, &tenant.id, &t).ok_or_else(bad_token)?;
            (v, t)
        }
        None => visitor::issue(keys, &tenant.id),
    };
    limit(s, format!("chat-visitor:{}:{}", tenant.id, visitor.id), s.limits.per_visitor).await?;
    let inbound = Inbound {
        channel: Channel::Web,
        address: visitor.id.clone(),
        contact: NewContact::default(),
        text: body.message,
        attachments: Vec::new(),
        client_message_id: body.client_message_id,
        provider_message_id: None,
    };
    let received = s.conversations.receive(&tenant, inbound, true).await?;
    Ok((received, token))
}

fn ip_of(request_ip: Option<&ClientIp>) -> String {
    request_ip.map(|c| c.0.clone()).unwrap_or_default()
}

/// Web chat: send a message, get the whole answer
///
/// Stores the message first, then answers it. Returns the reply as JSON (or `status: pending`
/// when it takes longer than the wait: it then arrives through `/events` and the history).
#[utoipa::path(post, path = "/api/v1/public/chat", tag = "web chat", params(TenantQuery), request_body = ChatRequest,
    responses((status = 200, body = ChatAnswer), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)), security(()))]
async fn chat(
    State(s): State<PublicState>,
    ApiQuery(q): ApiQuery<TenantQuery>,
    request: Request,
) -> Result<Json<ChatAnswer>> {
    let (parts, body) = request.into_parts();
    let ip = ip_of(parts.extensions.get::<ClientIp>());
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| Error::PayloadTooLarge)?;
    let req: ChatRequest = frontdesk_web::extract::parse_json(&bytes)?;
    let (received, token) = accept(&s, &q, &parts.headers, &ip, req).await?;
    let tenant = received.tenant.id.clone();
    let conversation_id = received.conversation.id.clone();
    let message = received.message.clone();
    let mut replies: Vec<Message> = received.notices.clone();
    let mut status = received.conversation.status.as_str().to_owned();
    match received.plan {
        TurnPlan::Inline(claim) => {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let svc = s.conversations.clone();
            let (t, c, m) = (tenant.clone(), conversation_id.clone(), message.id.clone());
            // On its own task: a client that hangs up does not cancel the turn. Failures were
            // turned into notices (and a retry) by the pipeline.
            let turn = tokio::spawn(async move { svc.run_turn(&t, &c, &m, Holder::Inline(claim), Some(tx)).await });
            let _ = turn.await;
            while let Ok(event) = rx.try_recv() {
                match event {
                    TurnEvent::Message(m) => replies.push(*m),
                    TurnEvent::Status { status: st, .. } => status = st.as_str().to_owned(),
                    TurnEvent::Delta(_) => {}
                }
            }
            if !replies.iter().any(|m| m.reply_to.as_ref() == Some(&message.id)) && status != "handed_off" {
                status = "pending".into();
            }
        }
        TurnPlan::Queued => match wait_for_reply(&s, &tenant, &conversation_id, &message.id, None).await? {
            Some(reply) => replies.push(reply),
            None => status = "pending".into(),
        },
        TurnPlan::NoTurn if received.duplicate => {
            let mut tx = s.conversations.db().tenant_read(&tenant).await?;
            if let Some(reply) = store::reply_to(&mut tx, &message.id).await? {
                replies.push(reply);
            }
        }
        TurnPlan::NoTurn => {}
    }
    Ok(Json(ChatAnswer {
        visitor_token: token,
        conversation_id,
        message: PublicMessage::from(&message),
        replies: replies.iter().map(PublicMessage::from).collect(),
        status,
    }))
}

/// Waits for the reply to `message` produced elsewhere (a worker, maybe another replica),
/// forwarding its fragments to `out`. Checks the database around the wait, so a reply stored
/// before the subscription is not missed.
async fn wait_for_reply(
    s: &PublicState,
    tenant: &frontdesk_kernel::TenantId,
    conversation: &ConversationId,
    message: &MessageId,
    out: Option<&sse::SseOut>,
) -> Result<Option<Message>> {
    let mut rx = s.conversations.hub().subscribe(&Topic::Conversation(tenant.clone(), conversation.clone()));
    let stored = |s: &PublicState| {
        let s = s.clone();
        let tenant = tenant.clone();
        let message = message.clone();
        async move {
            let mut tx = s.conversations.db().tenant_read(&tenant).await?;
            Ok::<_, Error>(store::reply_to(&mut tx, &message).await?)
        }
    };
    if let Some(reply) = stored(s).await? {
        return Ok(Some(reply));
    }
    let deadline = tokio::time::Instant::now() + s.conversations.config().reply_wait;
    loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = tokio::time::sleep_until(deadline) => return stored(s).await,
        };
        match event {
            Ok(e) => match &*e {
                LiveEvent::Delta { reply_to, text, .. } if reply_to == message.as_str() => {
                    if let Some(out) = out {
                        out.send(sse::event("delta", &serde_json::json!({"text": text}), None)).await;
                    }
                }
                LiveEvent::Message { reply_to: Some(r), .. } if r == message.as_str() => return stored(s).await,
                LiveEvent::Status { status: Status::HandedOff, .. } => return stored(s).await,
                _ => {}
            },
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                if let Some(reply) = stored(s).await? {
                    return Ok(Some(reply));
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return stored(s).await,
        }
    }
}

/// Web chat: send a message, get the answer streamed (SSE)
///
/// `text/event-stream`: `accepted` (visitor token, conversation, the stored message), `typing`,
/// `delta` (`{"text"}` fragments of the answer), `message` (each stored reply or notice),
/// `status` (a handoff), `error`, and `done`. Errors before the stream starts are problem+json.
#[utoipa::path(post, path = "/api/v1/public/chat/stream", tag = "web chat", params(TenantQuery), request_body = ChatRequest,
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 401, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)),
    security(()))]
async fn chat_stream(
    State(s): State<PublicState>,
    ApiQuery(q): ApiQuery<TenantQuery>,
    request: Request,
) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let ip = ip_of(parts.extensions.get::<ClientIp>());
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| Error::PayloadTooLarge)?;
    let req: ChatRequest = frontdesk_web::extract::parse_json(&bytes)?;
    let (received, token) = accept(&s, &q, &parts.headers, &ip, req).await?;
    Ok(sse::stream(move |out| async move {
        let tenant = received.tenant.id.clone();
        let conversation_id = received.conversation.id.clone();
        let message = received.message.clone();
        let accepted = serde_json::json!({
            "visitor_token": token,
            "conversation_id": conversation_id,
            "message": PublicMessage::from(&message),
        });
        if !out.send(sse::event("accepted", &accepted, None)).await {
            return;
        }
        let send_message = |m: &Message| sse::event("message", &PublicMessage::from(m), Some(m.id.as_str()));
        for n in &received.notices {
            out.send(send_message(n)).await;
        }
        if received.conversation.status == Status::HandedOff || !received.notices.is_empty() {
            let notice = received.notices.last().map(|n| n.text.clone());
            out.send(sse::event("status", &serde_json::json!({"status": Status::HandedOff, "notice": notice}), None))
                .await;
        }
        match received.plan {
            TurnPlan::Inline(claim) => {
                out.send(sse::event("typing", &serde_json::json!({}), None)).await;
                let (tx, mut rx) = mpsc::unbounded_channel();
                let svc = s.conversations.clone();
                let (t, c, m) = (tenant.clone(), conversation_id.clone(), message.id.clone());
                // The turn runs on its own task: a client that goes away does not cancel it.
                let turn = tokio::spawn(async move { svc.run_turn(&t, &c, &m, Holder::Inline(claim), Some(tx)).await });
                let encode = |event: TurnEvent| match event {
                    TurnEvent::Delta(text) => sse::event("delta", &serde_json::json!({"text": text}), None),
                    TurnEvent::Message(m) => send_message(&m),
                    TurnEvent::Status { status, notice } => {
                        sse::event("status", &serde_json::json!({"status": status, "notice": notice}), None)
                    }
                };
                while let Some(event) = rx.recv().await {
                    // Events that are already waiting (a burst of fragments) go out in one write.
                    let mut chunk = encode(event);
                    if !rx.is_empty() {
                        let mut burst = chunk.to_vec();
                        while let Ok(more) = rx.try_recv() {
                            burst.extend_from_slice(&encode(more));
                        }
                        chunk = burst.into();
                    }
                    if !out.send(chunk).await {
                        return;
                    }
                }
                let _ = turn.await;
            }
            TurnPlan::Queued => {
                out.send(sse::event("typing", &serde_json::json!({}), None)).await;
                match wait_for_reply(&s, &tenant, &conversation_id, &message.id, Some(&out)).await {
                    Ok(Some(reply)) => {
                        out.send(send_message(&reply)).await;
                    }
                    Ok(None) => {
                        out.send(sse::event("status", &serde_json::json!({"status": "pending", "notice": null}), None))
                            .await;
                    }
                    Err(e) => {
                        let p = e.problem();
                        out.send(sse::event("error", &serde_json::json!({"title": p.title, "detail": p.detail}), None))
                            .await;
                    }
                }
            }
            TurnPlan::NoTurn if received.duplicate => {
                if let Ok(mut tx) = s.conversations.db().tenant_read(&tenant).await {
                    if let Ok(Some(reply)) = store::reply_to(&mut tx, &message.id).await {
                        out.send(send_message(&reply)).await;
                    }
                }
            }
            TurnPlan::NoTurn => {}
        }
        out.send(sse::event("done", &serde_json::json!({}), None)).await;
    }))
}

/// The visitor of a request with a token; 401 without a valid one.
async fn visitor_of(s: &PublicState, q: &TenantQuery, headers: &HeaderMap) -> Result<(Tenant, Visitor)> {
    let (tenant, _) = resolve(s, q, headers).await?;
    let token = presented_token(headers, None).ok_or_else(bad_token)?;
    let visitor = visitor::verify(s.conversations.keys(), &tenant.id, &token).ok_or_else(bad_token)?;
    Ok((tenant, visitor))
}

/// The visitor's current conversation.
async fn visitor_conversation(s: &PublicState, tenant: &Tenant, visitor: &Visitor) -> Result<Conversation> {
    let mut tx = s.conversations.db().tenant_read(&tenant.id).await?;
    let contact = store::contact_by_identity(&mut tx, Channel::Web, &visitor.id).await?.ok_or(Error::NotFound)?;
    store::latest_conversation(&mut tx, &contact, Channel::Web).await?.ok_or(Error::NotFound)
}

#[derive(Serialize, ToSchema)]
pub struct History {
    pub conversation_id: ConversationId,
    pub status: Status,
    pub messages: Vec<PublicMessage>,
}

/// Web chat: the visitor's conversation so far
///
/// The last 100 messages of the visitor's current conversation (token in `x-visitor-token`).
/// 404 before the first message; 401 for a token that is not valid here.
#[utoipa::path(get, path = "/api/v1/public/history", tag = "web chat", params(TenantQuery),
    responses((status = 200, body = History), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(()))]
async fn history(
    State(s): State<PublicState>,
    ApiQuery(q): ApiQuery<TenantQuery>,
    headers: HeaderMap,
) -> Result<Json<History>> {
    let (tenant, visitor) = visitor_of(&s, &q, &headers).await?;
    let conversation = visitor_conversation(&s, &tenant, &visitor).await?;
    let mut tx = s.conversations.db().tenant_read(&tenant.id).await?;
    let tail = store::latest_messages(&mut tx, &conversation.id, 100).await?;
    Ok(Json(History {
        conversation_id: conversation.id,
        status: conversation.status,
        messages: tail.iter().map(PublicMessage::from).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    pub tenant: Option<String>,
    /// The newest message id the client has; everything after it is replayed first.
    pub after: Option<String>,
}

/// Web chat: live updates (SSE)
///
/// `message` (staff replies, agent replies, notices), `status` and `typing` for the visitor's
/// conversation, after replaying what came after `after`. Reconnect with the newest id seen.
#[utoipa::path(get, path = "/api/v1/public/events", tag = "web chat", params(EventsQuery),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 401, body = Problem),
              (status = 404, body = Problem)), security(()))]
async fn events(
    State(s): State<PublicState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let tq = TenantQuery { tenant: q.tenant.clone() };
    let (tenant, visitor) = visitor_of(&s, &tq, &headers).await?;
    let conversation = visitor_conversation(&s, &tenant, &visitor).await?;
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Some(MessageId::parse(a).ok_or_else(|| Error::field("after", "invalid", "A message id."))?),
        None => None,
    };
    // Subscribe first, then replay: nothing falls between the two.
    let mut rx = s.conversations.hub().subscribe(&Topic::Conversation(tenant.id.clone(), conversation.id.clone()));
    let db = s.conversations.db().clone();
    Ok(sse::stream(move |out| async move {
        let mut last = after;
        let replay = |last: Option<MessageId>| {
            let db = db.clone();
            let tenant = tenant.id.clone();
            let conversation = conversation.id.clone();
            async move {
                let mut tx = db.tenant_read(&tenant).await.ok()?;
                store::messages_after(&mut tx, &conversation, last.as_ref(), 200).await.ok()
            }
        };
        if last.is_some() {
            for m in replay(last.clone()).await.unwrap_or_default() {
                if !out.send(sse::event("message", &PublicMessage::from(&m), Some(m.id.as_str()))).await {
                    return;
                }
                last = Some(m.id);
            }
        }
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let chunk = match &*event {
                        LiveEvent::Message { message, .. } => {
                            if last.as_ref().is_some_and(|l| message.id <= *l) {
                                continue;
                            }
                            last = Some(message.id.clone());
                            sse::event("message", message, Some(message.id.as_str()))
                        }
                        LiveEvent::Status { status, notice, .. } => {
                            sse::event("status", &serde_json::json!({"status": status, "notice": notice}), None)
                        }
                        LiveEvent::Typing { author, .. } => {
                            sse::event("typing", &serde_json::json!({"author": author}), None)
                        }
                        LiveEvent::Delta { .. } | LiveEvent::Changed { .. } => continue,
                    };
                    if !out.send(chunk).await {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for m in replay(last.clone()).await.unwrap_or_default() {
                        if !out.send(sse::event("message", &PublicMessage::from(&m), Some(m.id.as_str()))).await {
                            return;
                        }
                        last = Some(m.id);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }))
}

/// The embeddable widget
///
/// `<script src="…/widget.js" data-tenant="SLUG" async></script>`: the whole web chat, no
/// framework, styles isolated in a shadow root.
#[utoipa::path(get, path = "/widget.js", tag = "web chat",
    responses((status = 200, content_type = "text/javascript", body = String)), security(()))]
async fn widget_js(headers: HeaderMap) -> Response {
    static ETAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let etag =
        ETAG.get_or_init(|| format!("\"{}\"", &frontdesk_kernel::crypto::sha256_hex(WIDGET_JS.as_bytes())[..16]));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = WIDGET_JS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    // Embedded on other sites: allow cross-origin loading of the script.
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    response
}

impl std::fmt::Debug for PublicState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicState").finish_non_exhaustive()
    }
}
