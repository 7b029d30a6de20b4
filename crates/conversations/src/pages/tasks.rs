//! Follow-up tasks on the contact profile: the contact's open tasks, each with a "done" button.

use super::inbox::MemberOption;
use super::{local_time, PagesState};
use crate::model::ContactId;
use crate::tasks::{Task, TaskId};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use frontdesk_kernel::Error;
use frontdesk_web::pages::Page;
use frontdesk_web::{AuditActor, Principal};
use jiff::tz::TimeZone;
use serde::Serialize;

/// One open task as the profile shows it.
#[derive(Debug, Serialize)]
pub(crate) struct TaskRow {
    pub id: String,
    pub title: String,
    pub notes: String,
    pub due: Option<String>,
    pub overdue: bool,
    pub assignee_name: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

impl TaskRow {
    pub fn new(t: Task, members: &[MemberOption], zone: &TimeZone, now: i64) -> TaskRow {
        let assignee_name = t
            .assignee_id
            .as_deref()
            .map(|id| members.iter().find(|m| m.user_id == id).map_or_else(|| id.to_owned(), |m| m.name.clone()));
        TaskRow {
            id: t.id.to_string(),
            title: t.title,
            notes: t.notes,
            due: t.due_at.map(|d| local_time(d, zone)),
            overdue: t.due_at.is_some_and(|d| d < now),
            assignee_name,
            created_by: t.created_by,
            created_at: local_time(t.created_at, zone),
        }
    }
}

/// `POST /app/contacts/{contact_id}/tasks/{task_id}/done`: marks the task done, back to the profile.
pub(super) async fn done(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path((contact, task)): Path<(String, String)>,
) -> Response {
    let (Some(contact), Some(task)) = (ContactId::parse(&contact), TaskId::parse(&task)) else {
        return page.error(Error::NotFound);
    };
    let result = async { s.conversations.complete_task(p.tenant()?, &task, &actor).await }.await;
    match result {
        Ok(_) => Redirect::to(&format!("/app/contacts/{contact}?notice=task_done")).into_response(),
        // Someone else ticked it first: the profile shows the list as it is now.
        Err(Error::Conflict { .. }) => Redirect::to(&format!("/app/contacts/{contact}")).into_response(),
        Err(e) => page.error(e),
    }
}
