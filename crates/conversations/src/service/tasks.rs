//! Follow-up tasks as staff see them: list, create, mark done. Workflows create theirs inside
//! their own transaction through [`super::contact_actions`]; both share the checks here.

use super::Conversations;
use crate::model::{ContactId, ConversationId};
use crate::store;
use crate::tasks::{self, CreateTaskRequest, Task, TaskFilter, TaskId, TaskStatus};
use frontdesk_kernel::error::Validator;
use frontdesk_kernel::paging::{decode_cursor, Page};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::TenantTx;
use serde_json::json;

/// A task's fields, checked; the contact, conversation and assignee are still to be looked up.
pub(crate) struct Checked {
    pub title: String,
    pub notes: String,
    pub due_at: Option<i64>,
}

/// Checks the fields every task has; errors name `title`, `notes`, `due_in_hours`.
pub(crate) fn check(
    v: &mut Validator,
    title: &str,
    notes: Option<&str>,
    due_in_hours: Option<u32>,
    now: i64,
) -> Checked {
    let title = title.trim().replace(['\r', '\n'], " ");
    if title.is_empty() {
        v.push("title", "required", "Give the task a title.");
    } else if title.chars().count() > tasks::MAX_TITLE {
        v.push("title", "too_long", format!("At most {} characters.", tasks::MAX_TITLE));
    }
    let notes = notes.unwrap_or("").trim().to_owned();
    if notes.chars().count() > tasks::MAX_NOTES {
        v.push("notes", "too_long", format!("At most {} characters.", tasks::MAX_NOTES));
    }
    if due_in_hours.is_some_and(|h| h > tasks::MAX_DUE_HOURS) {
        v.push("due_in_hours", "out_of_range", format!("At most {} hours ahead.", tasks::MAX_DUE_HOURS));
    }
    Checked { title, notes, due_at: due_in_hours.map(|h| now + i64::from(h) * 3_600_000) }
}

/// The user id of the tenant's member with this id or e-mail address; `None` when nobody is.
pub(crate) async fn member_user_id(tx: &mut TenantTx, id_or_email: &str) -> Result<Option<String>> {
    let members = frontdesk_identity::store::list_members(tx, None, 1000).await?;
    Ok(members
        .into_iter()
        .find(|m| m.user_id.as_str() == id_or_email || m.email.eq_ignore_ascii_case(id_or_email))
        .map(|m| m.user_id.as_str().to_owned()))
}

impl Conversations {
    /// Tasks, newest first.
    pub async fn tasks(
        &self,
        tenant: &TenantId,
        filter: &TaskFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Task>> {
        let after = cursor
            .map(|c| {
                decode_cursor(c).ok_or_else(|| Error::field("cursor", "invalid_cursor", "This cursor is not valid."))
            })
            .transpose()?;
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let rows = tasks::list(&mut tx, filter, after.as_deref(), limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |t| t.id.as_str()))
    }

    /// A contact's open tasks, oldest first (for the contact profile).
    pub async fn open_tasks_of(&self, tenant: &TenantId, contact: &ContactId) -> Result<Vec<Task>> {
        let filter = TaskFilter { status: Some(TaskStatus::Open), contact_id: Some(contact.clone()) };
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let mut rows = tasks::list(&mut tx, &filter, None, 200).await?;
        rows.reverse();
        Ok(rows)
    }

    /// Creates a task by hand; the contact, conversation and assignee must exist.
    pub async fn create_task(&self, tenant: &TenantId, req: CreateTaskRequest, actor: &Actor) -> Result<Task> {
        let now = now_ms();
        let mut v = Validator::new();
        let checked = check(&mut v, &req.title, req.notes.as_deref(), req.due_in_hours, now);
        let given = |raw: &Option<String>| raw.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let contact_id = given(&req.contact_id).and_then(|s| {
            let parsed = ContactId::parse(&s);
            if parsed.is_none() {
                v.push("contact_id", "not_found", "No such contact.");
            }
            parsed
        });
        let conversation_id = given(&req.conversation_id).and_then(|s| {
            let parsed = ConversationId::parse(&s);
            if parsed.is_none() {
                v.push("conversation_id", "not_found", "No such conversation.");
            }
            parsed
        });
        v.finish()?;
        let mut tx = self.inner.db.tenant(tenant).await?;
        let mut v = Validator::new();
        if let Some(id) = &contact_id {
            if store::contact(&mut tx, id).await?.is_none() {
                v.push("contact_id", "not_found", "No such contact.");
            }
        }
        if let Some(id) = &conversation_id {
            if store::conversation(&mut tx, id).await?.is_none() {
                v.push("conversation_id", "not_found", "No such conversation.");
            }
        }
        let assignee_id = match req.assignee_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => {
                let found = member_user_id(&mut tx, raw).await?;
                if found.is_none() {
                    v.push("assignee_id", "not_a_member", "This user is not a member of the team.");
                }
                found
            }
        };
        v.finish()?;
        let task = Task {
            id: TaskId::new(),
            title: checked.title,
            notes: checked.notes,
            status: TaskStatus::Open,
            contact_id,
            conversation_id,
            assignee_id,
            due_at: checked.due_at,
            created_by: actor.label.clone(),
            created_at: now,
            completed_at: None,
            completed_by: None,
        };
        tasks::insert(&mut tx, &task).await?;
        let change =
            Change::new("task.created", "task", Some(task.id.as_str())).details(json!({"contact_id": task.contact_id}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(task)
    }

    /// Marks a task done. Completing a done task again is a conflict, not a silent no-op, so two
    /// people ticking it at once learn that someone else did.
    pub async fn complete_task(&self, tenant: &TenantId, id: &TaskId, actor: &Actor) -> Result<Task> {
        let mut tx = self.inner.db.tenant(tenant).await?;
        if !tasks::complete(&mut tx, id, &actor.label, now_ms()).await? {
            return match tasks::get(&mut tx, id).await? {
                None => Err(Error::NotFound),
                Some(_) => Err(Error::conflict("task_done", "This task is already done.")),
            };
        }
        audit::record(&mut tx, actor, Change::new("task.completed", "task", Some(id.as_str()))).await?;
        let task = tasks::get(&mut tx, id).await?.ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(task)
    }
}
