//! What automations do to contacts, inside the caller's transaction (a workflow run records its
//! step in the same one, so the change and its record commit together, exactly once): add tags
//! to a contact, and create a follow-up task.

use super::tasks::{check, member_user_id};
use crate::model::{ContactId, ConversationId};
use crate::store;
use crate::tasks::{self, Task, TaskId, TaskStatus};
use frontdesk_kernel::error::Validator;
use frontdesk_kernel::time::now_ms;
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::{query, StoreError, TenantTx, Tx};
use serde_json::json;

/// Longest tag, and most tags a contact has (the contact form's limits).
const MAX_TAG_CHARS: usize = 40;
const MAX_TAGS: usize = 20;
/// Attempts at the tag update when other writers keep changing the contact's tags.
const TAG_ATTEMPTS: usize = 5;

/// Why an action on a contact failed.
#[derive(Debug, thiserror::Error)]
pub enum ContactActionError {
    /// The contact does not exist (or the id is not a contact id): retrying cannot help.
    #[error("contact {0} does not exist")]
    NoContact(String),
    /// The request cannot be carried out as it is (bad tag, unknown assignee): retrying cannot help.
    #[error("{0}")]
    Invalid(String),
    /// The database failed; worth retrying.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that failed underway (worth retrying).
    #[error(transparent)]
    Other(#[from] frontdesk_kernel::Error),
}

/// Tags as the contact form keeps them: trimmed, lower case, de-duplicated.
fn clean_tags(tags: &[String]) -> Result<Vec<String>, ContactActionError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS || tag.contains(['"', '\\', ',']) {
            return Err(ContactActionError::Invalid(format!(
                "The tag \"{tag}\" is not allowed: up to {MAX_TAG_CHARS} characters, no quotes or commas."
            )));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.is_empty() {
        return Err(ContactActionError::Invalid("No tag to add.".into()));
    }
    Ok(out)
}

/// Adds `tags` to the contact (keeping the ones it has), audited as `actor`. Returns the tags
/// that were new.
pub async fn add_tags(
    tx: &mut TenantTx,
    contact_id: &str,
    tags: &[String],
    actor: &Actor,
) -> Result<Vec<String>, ContactActionError> {
    let wanted = clean_tags(tags)?;
    let id = ContactId::parse(contact_id.trim()).ok_or_else(|| ContactActionError::NoContact(contact_id.into()))?;
    for _ in 0..TAG_ATTEMPTS {
        let contact = store::contact(tx, &id).await?.ok_or_else(|| ContactActionError::NoContact(id.to_string()))?;
        let added: Vec<String> = wanted.iter().filter(|t| !contact.tags.contains(t)).cloned().collect();
        if added.is_empty() {
            return Ok(added);
        }
        let mut all = contact.tags.clone();
        all.extend(added.iter().cloned());
        if all.len() > MAX_TAGS {
            return Err(ContactActionError::Invalid(format!("A contact has at most {MAX_TAGS} tags.")));
        }
        let tid = tx.tid().to_owned();
        let before = serde_json::to_string(&contact.tags).map_err(|e| StoreError::Config(e.to_string()))?;
        let after = serde_json::to_string(&all).map_err(|e| StoreError::Config(e.to_string()))?;
        // Compare-and-set on the tags read: a concurrent edit of the contact is never overwritten;
        // on a clash the tags are read again.
        let n = query("UPDATE contacts SET tags = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND tags = $5")
            .bind(tid)
            .bind(id.as_str())
            .bind(after)
            .bind(now_ms())
            .bind(before)
            .execute(tx.conn())
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if n == 1 {
            let change =
                Change::new("contact.tagged", "contact", Some(id.as_str())).details(json!({"tags": added.clone()}));
            audit::record(tx, actor, change).await?;
            return Ok(added);
        }
    }
    Err(ContactActionError::Store(StoreError::Conflict("contacts.tags".into())))
}

/// A follow-up task a workflow asks for.
#[derive(Debug, Clone, Default)]
pub struct FollowUp {
    pub title: String,
    pub notes: Option<String>,
    pub due_in_hours: Option<u32>,
    /// A member's e-mail address.
    pub assignee_email: Option<String>,
    pub contact_id: Option<String>,
    pub conversation_id: Option<String>,
}

/// Creates the task, audited as `actor` (its label is the task's `created_by`).
pub async fn create_follow_up(tx: &mut TenantTx, f: FollowUp, actor: &Actor) -> Result<Task, ContactActionError> {
    let now = now_ms();
    let mut v = Validator::new();
    let checked = check(&mut v, &f.title, f.notes.as_deref(), f.due_in_hours, now);
    if let Err(frontdesk_kernel::Error::Validation(errors)) = v.finish() {
        let messages: Vec<String> = errors.into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        return Err(ContactActionError::Invalid(messages.join(" ")));
    }
    let contact_id = match f.contact_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            let id = ContactId::parse(raw).ok_or_else(|| ContactActionError::NoContact(raw.into()))?;
            if store::contact(tx, &id).await?.is_none() {
                return Err(ContactActionError::NoContact(raw.into()));
            }
            Some(id)
        }
    };
    let assignee_id =
        match f.assignee_email.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(email) => Some(member_user_id(tx, email).await?.ok_or_else(|| {
                ContactActionError::Invalid(format!("No team member has the e-mail address {email}."))
            })?),
        };
    let task = Task {
        id: TaskId::new(),
        title: checked.title,
        notes: checked.notes,
        status: TaskStatus::Open,
        contact_id,
        // A link, not a requirement: an event's conversation that is gone leaves the task unlinked.
        conversation_id: f.conversation_id.as_deref().and_then(|c| ConversationId::parse(c.trim())),
        assignee_id,
        due_at: checked.due_at,
        created_by: actor.label.clone(),
        created_at: now,
        completed_at: None,
        completed_by: None,
    };
    tasks::insert(tx, &task).await?;
    let change =
        Change::new("task.created", "task", Some(task.id.as_str())).details(json!({"contact_id": task.contact_id}));
    audit::record(tx, actor, change).await?;
    Ok(task)
}
