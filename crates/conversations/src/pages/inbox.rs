//! The staff inbox (`/app/inbox`) and one conversation (`/app/inbox/{id}`): the list with its
//! filters and paging, the messages with the agent's trace, and the forms staff act through
//! (reply, take over, hand back, resolve, assign, label).

use super::{comma_list, local_time, safe_url, translated_or, zone_of, PagesState, Shown, Wait};
use crate::http::{staff_of, InboxQuery};
use crate::model::*;
use crate::store;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use frontdesk_identity::model::Member;
use frontdesk_kernel::paging::PageRequest;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_web::pages::Page;
use frontdesk_web::{ApiQuery, AuditActor, Permission, Principal};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Conversations per inbox page unless `limit` says otherwise.
const INBOX_PAGE: u32 = 25;
/// The newest messages a conversation page shows (older ones stay in the API).
const SHOWN_MESSAGES: u32 = 200;

// ---- the list -------------------------------------------------------------------------------

/// A team member to pick in the assignee filter and the assign form.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemberOption {
    pub user_id: String,
    pub name: String,
}

pub(crate) fn member_options(members: &[Member]) -> Vec<MemberOption> {
    members
        .iter()
        .map(|m| MemberOption {
            user_id: m.user_id.as_str().to_owned(),
            name: if m.name.trim().is_empty() { m.email.clone() } else { m.name.clone() },
        })
        .collect()
}

fn name_of(members: &[MemberOption], user_id: Option<&str>) -> Option<String> {
    let user_id = user_id?;
    Some(members.iter().find(|m| m.user_id == user_id).map_or_else(|| user_id.to_owned(), |m| m.name.clone()))
}

/// One row of the inbox (also the contact page's list of conversations).
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub contact_name: Option<String>,
    pub assignee_name: Option<String>,
    pub last_at: String,
    pub waiting: Option<Wait>,
}

impl Row {
    pub fn new(
        conversation: Conversation,
        contact_name: Option<String>,
        members: &[MemberOption],
        zone: &TimeZone,
        now: i64,
    ) -> Row {
        Row {
            contact_name,
            assignee_name: name_of(members, conversation.assignee_id.as_deref()),
            last_at: local_time(conversation.last_message_at, zone),
            waiting: Wait::since(conversation.waiting_since, now),
            conversation,
        }
    }
}

/// The filters as the form shows them (what was asked for, unparsed).
#[derive(Debug, Default, Serialize)]
pub(crate) struct FilterView {
    pub status: String,
    pub channel: String,
    pub assignee: String,
    pub label: String,
    pub sort: String,
}

impl FilterView {
    fn of(q: &InboxQuery) -> FilterView {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        FilterView {
            status: text(&q.status),
            channel: text(&q.channel),
            assignee: text(&q.assignee),
            label: text(&q.label),
            sort: text(&q.sort),
        }
    }

    /// `/app/inbox?…` with these filters and `cursor`.
    pub(super) fn href(&self, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("channel", &self.channel),
            ("assignee", &self.assignee),
            ("label", &self.label),
            ("sort", &self.sort),
        ] {
            if !v.is_empty() {
                query.append_pair(k, v);
            }
        }
        if let Some(c) = cursor {
            query.append_pair("cursor", c);
        }
        let query = query.finish();
        if query.is_empty() {
            "/app/inbox".to_owned()
        } else {
            format!("/app/inbox?{query}")
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct InboxView {
    pub rows: Vec<Row>,
    pub filter: FilterView,
    pub members: Vec<MemberOption>,
    pub statuses: Vec<&'static str>,
    pub channels: Vec<&'static str>,
    /// Link to the next (older) page, with the same filters.
    pub next_href: Option<String>,
    /// Link back to the first page, when on a later one.
    pub first_href: Option<String>,
}

/// Contacts' names for a page of conversations, in one read transaction.
pub(crate) async fn contact_names<'a>(
    state: &PagesState,
    tenant: &TenantId,
    ids: impl Iterator<Item = &'a ContactId>,
) -> Result<HashMap<ContactId, Option<String>>> {
    let mut tx = state.conversations.db().tenant_read(tenant).await?;
    let mut names = HashMap::new();
    for id in ids {
        if !names.contains_key(id) {
            let name = store::contact(&mut tx, id).await?.and_then(|c| c.name);
            names.insert(id.clone(), name);
        }
    }
    Ok(names)
}

pub(super) async fn list(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Response {
    let result = async {
        let tenant = p.tenant()?;
        let filter = q.filter()?;
        let limit = match q.limit {
            None => INBOX_PAGE,
            limit => PageRequest { limit, cursor: None }.limit()?,
        };
        let found = s.conversations.inbox(tenant, &filter, q.cursor.as_deref(), limit).await?;
        let members = member_options(&s.identity.members(&p, None, 200).await?);
        let zone = zone_of(&s.conversations, tenant).await?;
        let names = contact_names(&s, tenant, found.items.iter().map(|c| &c.contact_id)).await?;
        let now = now_ms();
        let rows = found
            .items
            .into_iter()
            .map(|c| {
                let name = names.get(&c.contact_id).cloned().flatten();
                Row::new(c, name, &members, &zone, now)
            })
            .collect();
        let filter = FilterView::of(&q);
        Ok::<_, Error>(InboxView {
            rows,
            next_href: found.next_cursor.as_deref().map(|c| filter.href(Some(c))),
            first_href: q.cursor.is_some().then(|| filter.href(None)),
            filter,
            members,
            statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
            channels: Channel::ALL.iter().map(|c| c.as_str()).collect(),
        })
    };
    match result.await {
        Ok(view) => page.render("conversations/inbox.html", view),
        Err(e) => page.error(e),
    }
}

// ---- one conversation -----------------------------------------------------------------------

/// A suggested reply or card of a message, with only safe links.
#[derive(Debug, Serialize)]
pub(crate) struct CardView {
    pub title: String,
    pub subtitle: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AttachmentView {
    pub name: String,
    pub url: Option<String>,
}

/// The agent's bookkeeping on a reply, every field present (the templates are strict).
#[derive(Debug, Serialize)]
pub(crate) struct TraceView {
    pub specialist: Option<String>,
    pub tools: Vec<ToolView>,
    pub model: Option<String>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub latency_ms: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToolView {
    pub name: String,
    pub summary: Option<String>,
}

impl From<AgentTrace> for TraceView {
    fn from(t: AgentTrace) -> Self {
        TraceView {
            specialist: t.specialist,
            tools: t.tools.into_iter().map(|u| ToolView { name: u.name, summary: u.summary }).collect(),
            model: t.model,
            tokens_in: t.tokens_in,
            tokens_out: t.tokens_out,
            latency_ms: t.latency_ms,
        }
    }
}

/// A message as the conversation page shows it. `inbox.js` renders live ones the same way.
#[derive(Debug, Serialize)]
pub(crate) struct MessageView {
    pub id: MessageId,
    pub author: Author,
    /// Who wrote it, as staff read it.
    pub who: String,
    pub text: String,
    pub at: String,
    pub buttons: Vec<String>,
    pub cards: Vec<CardView>,
    pub attachments: Vec<AttachmentView>,
    pub trace: Option<TraceView>,
    pub failed: bool,
}

impl MessageView {
    pub fn new(page: &Page, m: Message, contact_name: &str, zone: &TimeZone) -> MessageView {
        let role = page.t(&format!("conv.author.{}", m.author.as_str()));
        let who = match m.author {
            Author::Customer => contact_name.to_owned(),
            Author::Staff => m.author_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or(role),
            Author::Agent | Author::System => role,
        };
        let mut buttons = Vec::new();
        let mut cards = Vec::new();
        for c in m.content {
            match c {
                Content::Buttons { buttons: b } => buttons.extend(b.into_iter().map(|b| b.label)),
                Content::Card { title, subtitle, url, buttons: b, .. } => {
                    buttons.extend(b.into_iter().map(|b| b.label));
                    cards.push(CardView { title, subtitle, url: url.as_deref().and_then(safe_url) });
                }
            }
        }
        let attachments = m
            .attachments
            .into_iter()
            .map(|a| AttachmentView { name: a.name.unwrap_or(a.content_type), url: safe_url(&a.url) })
            .collect();
        MessageView {
            id: m.id,
            author: m.author,
            who,
            text: m.text,
            at: local_time(m.created_at, zone),
            buttons,
            cards,
            attachments,
            trace: m.trace.map(TraceView::from),
            failed: m.delivery == Delivery::Failed,
        }
    }
}

/// The contact next to the conversation.
#[derive(Debug, Serialize)]
pub(crate) struct ContactCard {
    #[serde(flatten)]
    pub contact: Contact,
    pub display_name: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ConversationView {
    pub conversation: Conversation,
    pub contact: ContactCard,
    pub messages: Vec<MessageView>,
    /// The conversation has more messages than are shown.
    pub older_hidden: bool,
    pub last_id: Option<MessageId>,
    pub waiting: Option<Wait>,
    pub handoff_reason: Option<String>,
    pub assignee_name: Option<String>,
    pub members: Vec<MemberOption>,
    pub started_at: String,
    pub time_zone: String,
    pub can_reply: bool,
    /// What the forms show (after a failed post: what was typed).
    pub reply_text: String,
    pub labels_text: String,
    #[serde(flatten)]
    pub shown: Shown,
}

/// What a failed form gives back to the page.
#[derive(Debug, Default)]
struct Typed {
    reply: String,
    labels: Option<String>,
}

/// A handoff reason in words (unknown reasons as they are).
pub(super) fn reason_label(page: &Page, reason: &str) -> String {
    translated_or(page, &format!("conv.reason.{reason}"), reason.to_owned())
}

async fn render(
    s: &PagesState,
    page: &Page,
    p: &Principal,
    id: &ConversationId,
    shown: Shown,
    typed: Typed,
) -> Response {
    let result = async {
        let tenant = p.tenant()?;
        let (conversation, contact, messages) = {
            let mut tx = s.conversations.db().tenant_read(tenant).await?;
            let conversation = store::conversation(&mut tx, id).await?.ok_or(Error::NotFound)?;
            let contact = store::contact(&mut tx, &conversation.contact_id).await?.ok_or(Error::NotFound)?;
            let messages = store::latest_messages(&mut tx, id, SHOWN_MESSAGES).await?;
            (conversation, contact, messages)
        };
        let zone = zone_of(&s.conversations, tenant).await?;
        let members = member_options(&s.identity.members(p, None, 200).await?);
        let display_name = contact.name.clone().unwrap_or_else(|| page.t("conv.visitor"));
        let older_hidden = conversation.message_count > messages.len() as i64;
        let last_id = messages.last().map(|m| m.id.clone());
        let messages = messages.into_iter().map(|m| MessageView::new(page, m, &display_name, &zone)).collect();
        Ok::<_, Error>(ConversationView {
            waiting: Wait::since(conversation.waiting_since, now_ms()),
            handoff_reason: conversation.handoff_reason.as_deref().map(|r| reason_label(page, r)),
            assignee_name: name_of(&members, conversation.assignee_id.as_deref()),
            started_at: local_time(conversation.created_at, &zone),
            time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
            can_reply: p.can(Permission::ConversationsReply),
            reply_text: typed.reply,
            labels_text: typed.labels.unwrap_or_else(|| conversation.labels.join(", ")),
            contact: ContactCard { contact, display_name },
            messages,
            older_hidden,
            last_id,
            members,
            conversation,
            shown,
        })
    };
    match result.await {
        Ok(view) => page.render_status(view.shown.status, "conversations/conversation.html", view),
        Err(e) => page.error(e),
    }
}

fn parse_id(raw: &str) -> Result<ConversationId> {
    ConversationId::parse(raw).ok_or(Error::NotFound)
}

pub(super) async fn show(State(s): State<PagesState>, page: Page, p: Principal, Path(raw): Path<String>) -> Response {
    match parse_id(&raw) {
        Ok(id) => render(&s, &page, &p, &id, Shown::default(), Typed::default()).await,
        Err(e) => page.error(e),
    }
}

/// After a form: on success, 303 to the conversation (with a notice); a failure the user can
/// act on shows the page again with the error and what was typed.
async fn after<T>(
    s: &PagesState,
    page: &Page,
    p: &Principal,
    id: &ConversationId,
    result: Result<T>,
    notice: Option<&str>,
    typed: Typed,
) -> Response {
    match result {
        Ok(_) => {
            let to = match notice {
                Some(n) => format!("/app/inbox/{id}?notice={n}"),
                None => format!("/app/inbox/{id}"),
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => match Shown::from_error(page, e) {
            Ok(shown) => render(s, page, p, id, shown, typed).await,
            Err(e) => page.error(e),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ReplyForm {
    #[serde(default)]
    text: String,
}

pub(super) async fn reply(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async {
        let staff = staff_of(&s.identity, &p).await?;
        s.conversations.reply(p.tenant()?, &id, &staff, &f.text, &actor).await
    };
    let result = result.await;
    after(&s, &page, &p, &id, result, None, Typed { reply: f.text, labels: None }).await
}

pub(super) async fn take_over(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async {
        let staff = staff_of(&s.identity, &p).await?;
        s.conversations.take_over(p.tenant()?, &id, &staff, &actor).await
    };
    let result = result.await;
    after(&s, &page, &p, &id, result, Some("conversation_taken_over"), Typed::default()).await
}

pub(super) async fn hand_back(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async { s.conversations.hand_back(p.tenant()?, &id, &actor).await }.await;
    after(&s, &page, &p, &id, result, Some("conversation_handed_back"), Typed::default()).await
}

pub(super) async fn resolve(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async { s.conversations.resolve(p.tenant()?, &id, &actor).await }.await;
    after(&s, &page, &p, &id, result, Some("conversation_resolved"), Typed::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AssignForm {
    /// A member's user id; empty to unassign.
    #[serde(default)]
    user_id: String,
}

pub(super) async fn assign(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
    Form(f): Form<AssignForm>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async {
        let user = f.user_id.trim();
        let assignee = if user.is_empty() {
            None
        } else {
            let members = s.identity.members(&p, None, 200).await?;
            if !members.iter().any(|m| m.user_id.as_str() == user) {
                return Err(Error::field("user_id", "not_a_member", "This user is not a member of the team."));
            }
            Some(user.to_owned())
        };
        s.conversations.assign(p.tenant()?, &id, assignee, &actor).await
    };
    let result = result.await;
    after(&s, &page, &p, &id, result, Some("conversation_assigned"), Typed::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LabelsForm {
    /// Comma-separated.
    #[serde(default)]
    labels: String,
}

pub(super) async fn labels(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
    Form(f): Form<LabelsForm>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async { s.conversations.set_labels(p.tenant()?, &id, comma_list(&f.labels), &actor).await }.await;
    after(&s, &page, &p, &id, result, Some("labels_saved"), Typed { reply: String::new(), labels: Some(f.labels) })
        .await
}
