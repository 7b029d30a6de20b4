//! What staff do: read the inbox and conversations, reply, take over and hand back, assign,
//! label, resolve; and the contacts behind the conversations. Every change is audited and shown
//! live to the customer and to the other staff.

use super::Conversations;
use crate::live::LiveEvent;
use crate::model::*;
use crate::store::{self, ContactUpdate, InboxFilter};
use frontdesk_kernel::paging::{decode_cursor, encode_cursor, Page};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use serde_json::json;

/// The team member acting.
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub user_id: String,
    /// Shown to the customer next to staff messages.
    pub name: String,
}

/// A staff message's longest text.
const MAX_REPLY_CHARS: usize = 4_000;

impl Conversations {
    pub async fn inbox(
        &self,
        tenant: &TenantId,
        filter: &InboxFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Conversation>> {
        let after = match cursor {
            None => None,
            Some(c) => {
                let raw = decode_cursor(c)
                    .ok_or_else(|| Error::field("cursor", "invalid_cursor", "This cursor is not valid."))?;
                let (key, id) = raw
                    .split_once(':')
                    .and_then(|(k, id)| Some((k.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| Error::field("cursor", "invalid_cursor", "This cursor is not valid."))?;
                Some((key, id))
            }
        };
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let mut rows = store::inbox(&mut tx, filter, after, limit).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|c| {
                let key = if filter.waiting_longest { c.waiting_since.unwrap_or_default() } else { c.last_message_at };
                encode_cursor(&format!("{key}:{}", c.id))
            })
        } else {
            None
        };
        Ok(Page { items: rows, next_cursor })
    }

    pub async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        store::conversation(&mut tx, id).await?.ok_or(Error::NotFound)
    }

    /// Messages of a conversation after `after` (oldest first).
    pub async fn messages(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        after: Option<&MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        if store::conversation(&mut tx, id).await?.is_none() {
            return Err(Error::NotFound);
        }
        Ok(store::messages_after(&mut tx, id, after, limit).await?)
    }

    /// Loads, changes and saves a conversation's state in one transaction, audited.
    async fn change<F>(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        actor: &Actor,
        action: &str,
        f: F,
    ) -> Result<(Conversation, Vec<Message>)>
    where
        F: FnOnce(&mut Conversation) -> Result<Vec<Message>>,
    {
        let mut tx = self.inner.db.tenant(tenant).await?;
        let mut c = store::conversation(&mut tx, id).await?.ok_or(Error::NotFound)?;
        let before = c.status;
        let notices = f(&mut c)?;
        store::save_conversation_state(&mut tx, &c).await?;
        for n in &notices {
            store::insert_message(&mut tx, n).await?;
        }
        audit::record(&mut tx, actor, Change::new(action, "conversation", Some(id.as_str()))).await?;
        if before != Status::Resolved && c.status == Status::Resolved {
            frontdesk_store::events::emit(&mut tx, "conversation.resolved", json!({"conversation_id": id})).await?;
        }
        if before != Status::HandedOff && c.status == Status::HandedOff {
            frontdesk_store::events::emit(
                &mut tx,
                "conversation.handed_off",
                json!({"conversation_id": id, "contact_id": c.contact_id, "reason": c.handoff_reason,
                       "channel": c.channel}),
            )
            .await?;
        }
        tx.commit().await?;
        for n in &notices {
            self.publish_message(tenant, n).await;
        }
        if before != c.status {
            self.publish(
                tenant,
                LiveEvent::Status {
                    conversation_id: id.clone(),
                    status: c.status,
                    notice: notices.last().map(|n| n.text.clone()),
                },
            )
            .await;
        } else {
            self.publish(tenant, LiveEvent::Changed { conversation_id: id.clone() }).await;
        }
        Ok((c, notices))
    }

    /// Tells whoever follows the conversation (the customer's widget, other staff) that a
    /// team member is typing: a live hint, nothing is stored. The conversation must be the
    /// tenant's.
    pub async fn staff_typing(&self, tenant: &TenantId, id: &ConversationId) -> Result<()> {
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        if store::conversation(&mut tx, id).await?.is_none() {
            return Err(Error::NotFound);
        }
        drop(tx);
        self.publish(tenant, LiveEvent::Typing { conversation_id: id.clone(), author: "staff".into() }).await;
        Ok(())
    }

    /// A staff message to the customer. Replying takes the conversation over (the assistant
    /// stops) and ends the customer's wait for a human.
    pub async fn reply(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        staff: &StaffMember,
        text: &str,
        actor: &Actor,
    ) -> Result<Message> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::field("text", "required", "Write a reply."));
        }
        if text.chars().count() > MAX_REPLY_CHARS {
            return Err(Error::field("text", "too_long", format!("At most {MAX_REPLY_CHARS} characters.")));
        }
        let now = now_ms();
        let message = Message {
            id: MessageId::new(),
            conversation_id: id.clone(),
            author: Author::Staff,
            author_id: Some(staff.user_id.clone()),
            author_name: Some(staff.name.clone()),
            text: text.to_owned(),
            content: Vec::new(),
            attachments: Vec::new(),
            client_message_id: None,
            reply_to: None,
            trace: None,
            provider_message_id: None,
            delivery: Delivery::Stored,
            created_at: now,
        };
        let staff_id = staff.user_id.clone();
        let m = message.clone();
        self.change(tenant, id, actor, "conversation.replied", move |c| {
            if let Some(since) = c.waiting_since.take() {
                c.human_wait_ms += (now - since).max(0);
                c.human_waits += 1;
            }
            if c.status != Status::HandedOff {
                c.status = Status::HandedOff;
                c.handoff_reason = Some("staff_reply".into());
                c.handed_off_at = Some(now);
            }
            c.resolved_at = None;
            if c.assignee_id.is_none() {
                c.assignee_id = Some(staff_id);
            }
            Ok(vec![m])
        })
        .await?;
        Ok(message)
    }

    /// Staff take over: the assistant stops answering; the customer is told who joined.
    pub async fn take_over(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        staff: &StaffMember,
        actor: &Actor,
    ) -> Result<Conversation> {
        let (c, _) = self
            .change(tenant, id, actor, "conversation.taken_over", |c| {
                if c.status == Status::HandedOff {
                    if c.assignee_id.is_none() {
                        c.assignee_id = Some(staff.user_id.clone());
                    }
                    return Ok(Vec::new());
                }
                let now = now_ms();
                c.status = Status::HandedOff;
                c.handoff_reason = Some("staff_takeover".into());
                c.handed_off_at = Some(now);
                c.resolved_at = None;
                c.assignee_id = Some(staff.user_id.clone());
                let text = format!("{} from the team has joined the conversation.", staff.name);
                Ok(vec![notice(id, text)])
            })
            .await?;
        Ok(c)
    }

    /// Hands the conversation back to the assistant, which answers again with the full history.
    pub async fn hand_back(&self, tenant: &TenantId, id: &ConversationId, actor: &Actor) -> Result<Conversation> {
        let (c, _) = self
            .change(tenant, id, actor, "conversation.handed_back", |c| {
                if c.status != Status::HandedOff {
                    return Err(Error::conflict("not_handed_off", "The assistant is already answering."));
                }
                c.status = Status::Open;
                c.handoff_reason = None;
                c.waiting_since = None;
                Ok(vec![notice(id, "You're chatting with our assistant again.".into())])
            })
            .await?;
        Ok(c)
    }

    pub async fn resolve(&self, tenant: &TenantId, id: &ConversationId, actor: &Actor) -> Result<Conversation> {
        let (c, _) = self
            .change(tenant, id, actor, "conversation.resolved", |c| {
                c.status = Status::Resolved;
                c.resolved_at = Some(now_ms());
                c.waiting_since = None;
                Ok(Vec::new())
            })
            .await?;
        Ok(c)
    }

    /// Assigns to a member (checked by the caller to belong to the tenant), or unassigns.
    pub async fn assign(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        assignee: Option<String>,
        actor: &Actor,
    ) -> Result<Conversation> {
        let (c, _) = self
            .change(tenant, id, actor, "conversation.assigned", |c| {
                c.assignee_id = assignee;
                Ok(Vec::new())
            })
            .await?;
        Ok(c)
    }

    pub async fn set_labels(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        labels: Vec<String>,
        actor: &Actor,
    ) -> Result<Conversation> {
        let labels = clean_labels(labels)?;
        let (c, _) = self
            .change(tenant, id, actor, "conversation.labelled", |c| {
                c.labels = labels;
                Ok(Vec::new())
            })
            .await?;
        Ok(c)
    }

    // ---- contacts -----------------------------------------------------------------------

    pub async fn contacts(
        &self,
        tenant: &TenantId,
        q: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Contact>> {
        let after = cursor
            .map(|c| {
                decode_cursor(c).ok_or_else(|| Error::field("cursor", "invalid_cursor", "This cursor is not valid."))
            })
            .transpose()?;
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let rows = store::contacts(&mut tx, q.filter(|q| !q.trim().is_empty()), after.as_deref(), limit).await?;
        Ok(Page::from_rows(rows, limit, |c| c.id.as_str()))
    }

    /// A contact with all their conversations, newest first.
    pub async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<(Contact, Vec<Conversation>)> {
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let contact = store::contact(&mut tx, id).await?.ok_or(Error::NotFound)?;
        let conversations = store::contact_conversations(&mut tx, id).await?;
        Ok((contact, conversations))
    }

    pub async fn update_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        update: ContactUpdate,
        actor: &Actor,
    ) -> Result<Contact> {
        let update = validate_contact(update)?;
        let mut tx = self.inner.db.tenant(tenant).await?;
        if !store::update_contact(&mut tx, id, &update).await? {
            return Err(Error::NotFound);
        }
        audit::record(&mut tx, actor, Change::new("contact.updated", "contact", Some(id.as_str()))).await?;
        let contact = store::contact(&mut tx, id).await?.ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(contact)
    }
}

fn notice(conversation: &ConversationId, text: String) -> Message {
    Message {
        id: MessageId::new(),
        conversation_id: conversation.clone(),
        author: Author::System,
        author_id: None,
        author_name: None,
        text,
        content: Vec::new(),
        attachments: Vec::new(),
        client_message_id: None,
        reply_to: None,
        trace: None,
        provider_message_id: None,
        delivery: Delivery::Stored,
        created_at: now_ms(),
    }
}

fn clean_labels(labels: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, l) in labels.into_iter().enumerate() {
        let l = l.trim().to_lowercase();
        if l.is_empty() {
            continue;
        }
        if l.chars().count() > 40 || l.contains(['"', '\\']) {
            return Err(Error::field(&format!("labels[{i}]"), "invalid", "Up to 40 characters, no quotes."));
        }
        if !out.contains(&l) {
            out.push(l);
        }
    }
    if out.len() > 20 {
        return Err(Error::field("labels", "too_many", "At most 20 labels."));
    }
    Ok(out)
}

pub use frontdesk_kernel::domain::is_e164;

fn validate_contact(mut u: ContactUpdate) -> Result<ContactUpdate> {
    let mut v = frontdesk_kernel::error::Validator::new();
    let trim = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    u.name = trim(u.name);
    u.email = trim(u.email).map(|e| e.to_lowercase());
    u.phone = trim(u.phone).map(|p| p.replace([' ', '-', '(', ')', '/'], ""));
    u.language = trim(u.language);
    if u.name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        v.push("name", "too_long", "At most 200 characters.");
    }
    if let Some(e) = &u.email {
        if frontdesk_kernel::domain::Email::parse(e).is_err() {
            v.push("email", "invalid", "An e-mail address like name@example.com.");
        }
    }
    if let Some(p) = &u.phone {
        if !is_e164(p) {
            v.push("phone", "invalid", "A phone number in international format, like +4930123456.");
        }
    }
    if let Some(l) = &u.language {
        if !(2..=8).contains(&l.len()) || !l.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            v.push("language", "invalid", "A language code like en or de.");
        }
    }
    if u.notes.chars().count() > 10_000 {
        v.push("notes", "too_long", "At most 10,000 characters.");
    }
    match clean_labels(u.tags.clone()) {
        Ok(t) => u.tags = t,
        Err(_) => v.push("tags", "invalid", "Up to 20 tags of up to 40 characters, no quotes."),
    }
    v.finish()?;
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(is_e164("+4930123456"));
        assert!(is_e164("+14155552671"));
        assert!(!is_e164("030123456"));
        assert!(!is_e164("+0301234567"));
        assert!(!is_e164("+49 30 123"));
        assert!(!is_e164("+1234"));
    }

    #[test]
    fn labels_are_normalised_and_bounded() {
        assert_eq!(clean_labels(vec![" VIP ".into(), "vip".into(), "".into()]).ok(), Some(vec!["vip".to_owned()]));
        assert!(clean_labels(vec!["a\"b".into()]).is_err());
        assert!(clean_labels((0..25).map(|i| format!("l{i}")).collect()).is_err());
    }
}
