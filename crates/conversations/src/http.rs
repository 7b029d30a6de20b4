//! The staff JSON API: the inbox, conversations and their messages, replies and handoff, contacts,
//! the assistant's settings, and a live event stream (SSE).

use crate::live::{LiveEvent, Topic};
use crate::model::*;
use crate::service::{Conversations, StaffMember};
use crate::sse;
use crate::store::{ContactUpdate, InboxFilter};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use frontdesk_identity::Identity;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::Page;
use frontdesk_kernel::{Error, Result};
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct ApiState {
    pub conversations: Conversations,
    pub identity: Identity,
}

pub fn router(conversations: Conversations, identity: Identity) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(list_messages, post_message))
        .routes(routes!(take_over))
        .routes(routes!(typing))
        .routes(routes!(hand_back))
        .routes(routes!(resolve))
        .routes(routes!(put_assignee))
        .routes(routes!(put_labels))
        .routes(routes!(events))
        .routes(routes!(list_contacts))
        .routes(routes!(get_contact, patch_contact))
        .routes(routes!(get_settings, put_settings))
        .merge(crate::tasks_http::routes())
        .with_state(ApiState { conversations, identity })
}

/// The staff member behind a request (a user; API keys cannot speak to customers as a person).
pub async fn staff_of(identity: &Identity, p: &Principal) -> Result<StaffMember> {
    let user_id = p.user_id()?.to_owned();
    let me = identity.me(p).await?;
    let name =
        if me.name.trim().is_empty() { p.label.split('@').next().unwrap_or("Staff").to_owned() } else { me.name };
    Ok(StaffMember { user_id, name })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// `open`, `waiting`, `handed_off` or `resolved`.
    pub status: Option<String>,
    /// `web`, `whatsapp`, `telegram`, `sms`, `voice`, `messenger`, `instagram`, `email`.
    pub channel: Option<String>,
    /// A user id, or `none` for unassigned.
    pub assignee: Option<String>,
    pub label: Option<String>,
    /// `recent` (default) or `waiting_longest`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl InboxQuery {
    pub fn filter(&self) -> Result<InboxFilter> {
        let mut v = frontdesk_kernel::error::Validator::new();
        let status = self.status.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
            let parsed = Status::parse(s);
            if parsed.is_none() {
                v.push("status", "invalid", "open, waiting, handed_off or resolved.");
            }
            parsed
        });
        let channel = self.channel.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
            let parsed = Channel::parse(s);
            if parsed.is_none() {
                v.push("channel", "invalid", "A channel such as web or whatsapp.");
            }
            parsed
        });
        let waiting_longest = match self.sort.as_deref() {
            None | Some("") | Some("recent") => false,
            Some("waiting_longest") => true,
            Some(_) => {
                v.push("sort", "invalid", "recent or waiting_longest.");
                false
            }
        };
        v.finish()?;
        Ok(InboxFilter {
            status,
            channel,
            assignee: self.assignee.as_deref().filter(|a| !a.is_empty()).map(|a| {
                if a == "none" {
                    String::new()
                } else {
                    a.to_owned()
                }
            }),
            label: self.label.clone().filter(|l| !l.is_empty()).map(|l| l.to_lowercase()),
            waiting_longest,
        })
    }
}

fn page_limit(limit: Option<u32>) -> Result<u32> {
    frontdesk_kernel::paging::PageRequest { limit, cursor: None }.limit()
}

/// The inbox
///
/// Conversations, most recent activity first (or customers waiting for a human the longest
/// first), filtered by status, channel, assignee and label.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(InboxQuery),
    responses((status = 200, body = Page<Conversation>), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:read"])))]
async fn list_conversations(
    State(s): State<ApiState>,
    p: Principal,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Result<Json<Page<Conversation>>> {
    let filter = q.filter()?;
    let limit = page_limit(q.limit)?;
    Ok(Json(s.conversations.inbox(p.tenant()?, &filter, q.cursor.as_deref(), limit).await?))
}

/// A conversation with its contact.
#[derive(Serialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub contact: Contact,
}

/// A conversation
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = String, Path,)),
    responses((status = 200, body = ConversationDetail), (status = 404, body = Problem)),
    security(("bearer" = ["conversations:read"])))]
async fn get_conversation(
    State(s): State<ApiState>,
    p: Principal,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationDetail>> {
    let tenant = p.tenant()?;
    let conversation = s.conversations.conversation(tenant, &id).await?;
    let (contact, _) = s.conversations.contact(tenant, &conversation.contact_id).await?;
    Ok(Json(ConversationDetail { conversation, contact }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only messages after this message id.
    pub after: Option<String>,
    /// At most this many (1–200, default 50).
    pub limit: Option<u32>,
}

/// Messages of a conversation
///
/// Oldest first; with `after`, only newer messages (to catch up after a live event). Agent
/// messages carry their trace: specialist, tools, model, tokens and latency.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path,), MessagesQuery), responses((status = 200, body = Vec<Message>)),
    security(("bearer" = ["conversations:read"])))]
async fn list_messages(
    State(s): State<ApiState>,
    p: Principal,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<Vec<Message>>> {
    let after = q
        .after
        .as_deref()
        .map(|a| MessageId::parse(a).ok_or_else(|| Error::field("after", "invalid", "A message id.")))
        .transpose()?;
    let limit = page_limit(q.limit)?;
    Ok(Json(s.conversations.messages(p.tenant()?, &id, after.as_ref(), limit).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewReply {
    pub text: String,
}

/// Reply as staff
///
/// Sends a message to the customer as the signed-in team member. Replying takes the
/// conversation over: the assistant stops answering until it is handed back. Honours
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path,)), request_body = NewReply,
    responses((status = 201, body = Message), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn post_message(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<NewReply>,
) -> Result<Response> {
    let staff = staff_of(&s.identity, &p).await?;
    let m = s.conversations.reply(p.tenant()?, &id, &staff, &body.text, &actor).await?;
    Ok((axum::http::StatusCode::CREATED, Json(m)).into_response())
}

/// Staff is typing
///
/// A live hint to the customer's widget and to other staff following the conversation; the
/// inbox sends it at most every few seconds while a reply is being written. Nothing is stored.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/typing", tag = "conversations",
    params(("id" = String, Path,)), responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn typing(State(s): State<ApiState>, p: Principal, ApiPath(id): ApiPath<ConversationId>) -> Result<Response> {
    s.conversations.staff_typing(p.tenant()?, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Take over
///
/// The assistant stops answering; the customer is told that a team member joined.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/takeover", tag = "conversations",
    params(("id" = String, Path,)), responses((status = 200, body = Conversation)),
    security(("bearer" = ["conversations:reply"])))]
async fn take_over(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<Conversation>> {
    let staff = staff_of(&s.identity, &p).await?;
    Ok(Json(s.conversations.take_over(p.tenant()?, &id, &staff, &actor).await?))
}

/// Hand back to the assistant
#[utoipa::path(post, path = "/api/v1/conversations/{id}/handback", tag = "conversations",
    params(("id" = String, Path,)), responses((status = 200, body = Conversation), (status = 409, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn hand_back(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<Conversation>> {
    Ok(Json(s.conversations.hand_back(p.tenant()?, &id, &actor).await?))
}

/// Resolve
#[utoipa::path(post, path = "/api/v1/conversations/{id}/resolve", tag = "conversations",
    params(("id" = String, Path,)), responses((status = 200, body = Conversation)),
    security(("bearer" = ["conversations:reply"])))]
async fn resolve(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<Conversation>> {
    Ok(Json(s.conversations.resolve(p.tenant()?, &id, &actor).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct Assignee {
    /// A member's user id; `null` to unassign.
    pub user_id: Option<String>,
}

/// Assign
#[utoipa::path(put, path = "/api/v1/conversations/{id}/assignee", tag = "conversations",
    params(("id" = String, Path,)), request_body = Assignee,
    responses((status = 200, body = Conversation), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn put_assignee(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<Assignee>,
) -> Result<Json<Conversation>> {
    let assignee = match body.user_id.filter(|u| !u.is_empty()) {
        None => None,
        Some(user) => {
            let members = s.identity.members(&p, None, 200).await?;
            if !members.iter().any(|m| m.user_id.as_str() == user) {
                return Err(Error::field("user_id", "not_a_member", "This user is not a member of the team."));
            }
            Some(user)
        }
    };
    Ok(Json(s.conversations.assign(p.tenant()?, &id, assignee, &actor).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct Labels {
    pub labels: Vec<String>,
}

/// Set labels
#[utoipa::path(put, path = "/api/v1/conversations/{id}/labels", tag = "conversations",
    params(("id" = String, Path,)), request_body = Labels,
    responses((status = 200, body = Conversation), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn put_labels(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<Labels>,
) -> Result<Json<Conversation>> {
    Ok(Json(s.conversations.set_labels(p.tenant()?, &id, body.labels, &actor).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Follow one conversation (messages, status, typing) instead of the whole inbox.
    pub conversation: Option<String>,
}

/// Live updates (SSE)
///
/// `text/event-stream` of the inbox (`changed` with a conversation id) or, with
/// `conversation`, of one conversation (`message`, `status`, `typing`, `changed`). Events are
/// hints: fetch the changed objects from the API. A `: ping` comment keeps the stream alive.
#[utoipa::path(get, path = "/api/v1/conversations/events", tag = "conversations", params(EventsQuery),
    responses((status = 200, content_type = "text/event-stream", body = String)),
    security(("bearer" = ["conversations:read"])))]
async fn events(State(s): State<ApiState>, p: Principal, ApiQuery(q): ApiQuery<EventsQuery>) -> Result<Response> {
    let tenant = p.tenant()?.clone();
    let topic = match q.conversation.as_deref().filter(|c| !c.is_empty()) {
        None => Topic::Inbox(tenant),
        Some(c) => {
            let id = ConversationId::parse(c)
                .ok_or_else(|| Error::field("conversation", "invalid", "A conversation id."))?;
            s.conversations.conversation(&tenant, &id).await?; // 404 for another tenant's id
            Topic::Conversation(tenant, id)
        }
    };
    let mut rx = s.conversations.hub().subscribe(&topic);
    Ok(sse::stream(move |out| async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let (name, data) = match &*event {
                        LiveEvent::Message { conversation_id, message, .. } => {
                            ("message", serde_json::json!({"conversation_id": conversation_id, "message": message}))
                        }
                        LiveEvent::Status { conversation_id, status, notice } => (
                            "status",
                            serde_json::json!({"conversation_id": conversation_id, "status": status, "notice": notice}),
                        ),
                        LiveEvent::Typing { conversation_id, author } => {
                            ("typing", serde_json::json!({"conversation_id": conversation_id, "author": author}))
                        }
                        LiveEvent::Changed { conversation_id } => {
                            ("changed", serde_json::json!({"conversation_id": conversation_id}))
                        }
                        LiveEvent::Delta { .. } => continue,
                    };
                    if !out.send(sse::event(name, &data, None)).await {
                        return;
                    }
                }
                // Missed some: tell the client to refetch what it shows.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if !out.send(sse::event("resync", &serde_json::json!({}), None)).await {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactsQuery {
    /// Part of a name, e-mail or phone number.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Contacts
#[utoipa::path(get, path = "/api/v1/contacts", tag = "conversations", params(ContactsQuery),
    responses((status = 200, body = Page<Contact>)), security(("bearer" = ["conversations:read"])))]
async fn list_contacts(
    State(s): State<ApiState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ContactsQuery>,
) -> Result<Json<Page<Contact>>> {
    let limit = page_limit(q.limit)?;
    Ok(Json(s.conversations.contacts(p.tenant()?, q.q.as_deref(), q.cursor.as_deref(), limit).await?))
}

/// A contact with all their conversations.
#[derive(Serialize, ToSchema)]
pub struct ContactDetail {
    pub contact: Contact,
    pub conversations: Vec<Conversation>,
}

/// A contact
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "conversations", params(("id" = String, Path,)),
    responses((status = 200, body = ContactDetail), (status = 404, body = Problem)),
    security(("bearer" = ["conversations:read"])))]
async fn get_contact(
    State(s): State<ApiState>,
    p: Principal,
    ApiPath(id): ApiPath<ContactId>,
) -> Result<Json<ContactDetail>> {
    let (contact, conversations) = s.conversations.contact(p.tenant()?, &id).await?;
    Ok(Json(ContactDetail { contact, conversations }))
}

#[derive(Deserialize, ToSchema)]
pub struct ContactPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub language: Option<String>,
    pub consent_marketing: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// Update a contact
///
/// Fields left out keep their value; send an empty string to clear one.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "conversations", params(("id" = String, Path,)),
    request_body = ContactPatch, responses((status = 200, body = Contact), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn patch_contact(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<ContactId>,
    ApiJson(body): ApiJson<ContactPatch>,
) -> Result<Json<Contact>> {
    let tenant = p.tenant()?;
    let (current, _) = s.conversations.contact(tenant, &id).await?;
    let update = ContactUpdate {
        name: body.name.or(current.name),
        email: body.email.or(current.email),
        phone: body.phone.or(current.phone),
        language: body.language.or(current.language),
        consent_marketing: body.consent_marketing.unwrap_or(current.consent_marketing),
        tags: body.tags.unwrap_or(current.tags),
        notes: body.notes.unwrap_or(current.notes),
    };
    Ok(Json(s.conversations.update_contact(tenant, &id, update, &actor).await?))
}

/// The assistant's settings and the web chat's custom domains.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SettingsBody {
    pub settings: AssistantSettings,
    /// Host names that serve this business's public chat (instead of `?tenant=`).
    #[serde(default)]
    pub domains: Option<Vec<String>>,
}

/// Assistant settings
#[utoipa::path(get, path = "/api/v1/assistant/settings", tag = "conversations",
    responses((status = 200, body = SettingsBody)), security(("bearer" = ["conversations:read"])))]
async fn get_settings(State(s): State<ApiState>, p: Principal) -> Result<Json<SettingsBody>> {
    let tenant = p.tenant()?;
    let settings = (*s.conversations.settings(tenant).await?).clone();
    Ok(Json(SettingsBody { settings, domains: Some(s.conversations.domains(tenant).await?) }))
}

/// Change the assistant settings
///
/// Persona, tone, instructions, FAQ, greeting, the widget's look, opening hours (for handoff
/// notices), allowed origins of the web chat and its custom domains. Each field is checked and
/// named when wrong.
#[utoipa::path(put, path = "/api/v1/assistant/settings", tag = "conversations", request_body = SettingsBody,
    responses((status = 200, body = SettingsBody), (status = 422, body = Problem)),
    security(("bearer" = ["assistant:manage"])))]
async fn put_settings(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<SettingsBody>> {
    let tenant = p.tenant()?;
    let settings = s.conversations.update_settings(tenant, body.settings, body.domains, &actor).await?;
    Ok(Json(SettingsBody { settings: (*settings).clone(), domains: Some(s.conversations.domains(tenant).await?) }))
}
