//! Follow-up tasks for staff ("call Anna back about the trial class"): made by hand or by a
//! workflow, optionally about a contact and assigned to a member; open until someone marks them
//! done. The model and its SQL (both engines) live here; the rules in `service::tasks`, the API in
//! [`crate::tasks_http`].

use crate::model::{ContactId, ConversationId};
use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use frontdesk_store::{query, AnyRow, Conditions, Row, StoreResult, TenantTx, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A follow-up task for staff.
    TaskId,
    "tsk"
);

pub const MAX_TITLE: usize = 200;
pub const MAX_NOTES: usize = 4000;
/// Longest a due date may lie ahead.
pub const MAX_DUE_HOURS: u32 = 24 * 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Open,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(TaskStatus::Open),
            "done" => Some(TaskStatus::Done),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Task {
    pub id: TaskId,
    pub title: String,
    pub notes: String,
    pub status: TaskStatus,
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    /// The member (user id) who should do it.
    pub assignee_id: Option<String>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<i64>,
    /// Who made it: a person, or `workflow <name>`.
    pub created_by: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<i64>,
    pub completed_by: Option<String>,
}

/// `POST /api/v1/tasks`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    pub title: String,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// A member's user id.
    #[serde(default)]
    pub assignee_id: Option<String>,
    /// Due this many hours from now.
    #[serde(default)]
    pub due_in_hours: Option<u32>,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub contact_id: Option<ContactId>,
}

pub async fn insert(tx: &mut TenantTx, t: &Task) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO tasks (tenant_id, id, title, notes, status, contact_id, conversation_id, assignee_id, due_at,
                            created_by, created_at, completed_at, completed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(tid)
    .bind(t.id.as_str())
    .bind(&t.title)
    .bind(&t.notes)
    .bind(t.status.as_str())
    .bind(t.contact_id.as_ref().map(|c| c.as_str().to_owned()))
    .bind(t.conversation_id.as_ref().map(|c| c.as_str().to_owned()))
    .bind(&t.assignee_id)
    .bind(t.due_at)
    .bind(&t.created_by)
    .bind(t.created_at)
    .bind(t.completed_at)
    .bind(&t.completed_by)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn get(tx: &mut TenantTx, id: &TaskId) -> StoreResult<Option<Task>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT * FROM tasks WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Tasks, newest first, after the cursor `after` (an id).
pub async fn list(tx: &mut TenantTx, f: &TaskFilter, after: Option<&str>, limit: u32) -> StoreResult<Vec<Task>> {
    let (sql, conditions) = list_statement(tx.tid(), f, after);
    let rows = conditions.bind(query(&sql)).bind(i64::from(limit)).fetch_all(tx.conn()).await?;
    rows.iter().map(from_row).collect()
}

/// The task list's statement: only the filters that are set, so that one contact's or one
/// status's tasks come from `tasks_contact` / `tasks_status`. Its last parameter is the limit.
pub fn list_statement(tenant: &str, f: &TaskFilter, after: Option<&str>) -> (String, Conditions) {
    let mut c = Conditions::tenant("tenant_id", tenant);
    c.and_if("status = ?", f.status.map(TaskStatus::as_str))
        .and_if("contact_id = ?", f.contact_id.as_ref().map(|id| id.as_str()))
        .and_if("id < ?", after);
    (format!("SELECT * FROM tasks WHERE {} ORDER BY id DESC LIMIT {}", c.sql(), c.next_param()), c)
}

/// Marks an open task done; false when it is not open (done already, or missing).
pub async fn complete(tx: &mut TenantTx, id: &TaskId, by: &str, at: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = query(
        "UPDATE tasks SET status = 'done', completed_at = $3, completed_by = $4
         WHERE tenant_id = $1 AND id = $2 AND status = 'open'",
    )
    .bind(tid)
    .bind(id.as_str())
    .bind(at)
    .bind(by)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

fn from_row(r: &AnyRow) -> StoreResult<Task> {
    let status: String = r.try_get("status")?;
    Ok(Task {
        id: TaskId::from_db(r.try_get("id")?),
        title: r.try_get("title")?,
        notes: r.try_get("notes")?,
        status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Open),
        contact_id: r.try_get::<Option<String>, _>("contact_id")?.map(ContactId::from_db),
        conversation_id: r.try_get::<Option<String>, _>("conversation_id")?.map(ConversationId::from_db),
        assignee_id: r.try_get("assignee_id")?,
        due_at: r.try_get("due_at")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        completed_at: r.try_get("completed_at")?,
        completed_by: r.try_get("completed_by")?,
    })
}
