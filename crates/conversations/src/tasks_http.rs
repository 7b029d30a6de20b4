//! The staff API of follow-up tasks (`/api/v1/tasks`): members who may read conversations see
//! them; members who may reply to customers create and complete them.

use crate::http::ApiState;
use crate::model::ContactId;
use crate::tasks::{CreateTaskRequest, Task, TaskFilter, TaskId, TaskStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::{Problem, Validator};
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::Result;
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list_tasks, create_task)).routes(routes!(complete_task))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `open` or `done`; both when absent.
    pub status: Option<String>,
    /// Only the tasks about this contact.
    pub contact_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl TaskQuery {
    fn filter(&self) -> Result<TaskFilter> {
        let mut v = Validator::new();
        let status = self.status.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
            let parsed = TaskStatus::parse(s);
            if parsed.is_none() {
                v.push("status", "invalid", "open or done.");
            }
            parsed
        });
        let contact_id = self.contact_id.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
            let parsed = ContactId::parse(s);
            if parsed.is_none() {
                v.push("contact_id", "invalid", "A contact id (ct_…).");
            }
            parsed
        });
        v.finish()?;
        Ok(TaskFilter { status, contact_id })
    }
}

/// List follow-up tasks
///
/// Newest first, optionally only open or done ones, or those about one contact.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = Page<Task>), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:read"])))]
async fn list_tasks(
    State(s): State<ApiState>,
    p: Principal,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> Result<Json<Page<Task>>> {
    let filter = q.filter()?;
    let limit = PageRequest { limit: q.limit, cursor: None }.limit()?;
    Ok(Json(s.conversations.tasks(p.tenant()?, &filter, q.cursor.as_deref(), limit).await?))
}

/// Create a follow-up task
///
/// A task for the team, optionally about a contact (and one of their conversations), assigned
/// to a member and due in some hours.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = CreateTaskRequest,
    responses((status = 201, body = Task), (status = 422, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn create_task(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<CreateTaskRequest>,
) -> Result<(StatusCode, Json<Task>)> {
    Ok((StatusCode::CREATED, Json(s.conversations.create_task(p.tenant()?, req, &actor).await?)))
}

/// Mark a task done
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks", params(("id" = String, Path,)),
    responses((status = 200, body = Task), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["conversations:reply"])))]
async fn complete_task(
    State(s): State<ApiState>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<TaskId>,
) -> Result<Json<Task>> {
    Ok(Json(s.conversations.complete_task(p.tenant()?, &id, &actor).await?))
}
