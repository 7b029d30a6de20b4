//! The workflow API under `/api/v1/workflows`: reads need `insights:read`, changes
//! `insights:manage`.

use crate::model::*;
use crate::service::Workflows;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::Result;
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(workflows: Workflows) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow, update_workflow, delete_workflow))
        .routes(routes!(test_workflow))
        .routes(routes!(list_runs))
        .with_state(workflows)
}

/// List workflows
///
/// Each with its trigger, conditions and actions (Slack webhook URLs shortened).
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", params(PageRequest),
    responses((status = 200, body = Page<Workflow>)), security(("bearer" = ["insights:read"])))]
async fn list_workflows(
    State(w): State<Workflows>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<Workflow>>> {
    let limit = page.limit()?;
    let rows = w.workflows(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |w| w.id.as_str())))
}

/// Create a workflow
///
/// A trigger (`anomaly.detected` with optional metric / severity / direction filters, any
/// event kind, or `schedule` with `every_minutes` or `daily_at`), conditions on the event's
/// fields (all must hold), and ordered actions (`slack`, `webhook`, `email`) whose texts may
/// use placeholders such as `{{data.metric}}`. 409 `workflow_limit` beyond the plan's limit.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body = CreateWorkflowRequest,
    responses((status = 201, body = Workflow), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn create_workflow(
    State(w): State<Workflows>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<CreateWorkflowRequest>,
) -> Result<(StatusCode, Json<Workflow>)> {
    Ok((StatusCode::CREATED, Json(w.create_workflow(&p, req, &actor).await?)))
}

/// Get a workflow
#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}", tag = "workflows",
    params(("workflow_id" = WorkflowId, Path,)),
    responses((status = 200, body = Workflow), (status = 404, body = Problem)),
    security(("bearer" = ["insights:read"])))]
async fn get_workflow(
    State(w): State<Workflows>,
    p: Principal,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Result<Json<Workflow>> {
    Ok(Json(w.workflow(&p, &id).await?))
}

/// Change a workflow
///
/// Any of its fields, or `disabled`. A Slack webhook URL sent back in the shortened form the
/// API shows keeps the stored URL.
#[utoipa::path(patch, path = "/api/v1/workflows/{workflow_id}", tag = "workflows",
    params(("workflow_id" = WorkflowId, Path,)), request_body = UpdateWorkflowRequest,
    responses((status = 200, body = Workflow), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn update_workflow(
    State(w): State<Workflows>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WorkflowId>,
    ApiJson(req): ApiJson<UpdateWorkflowRequest>,
) -> Result<Json<Workflow>> {
    Ok(Json(w.update_workflow(&p, &id, req, &actor).await?))
}

/// Delete a workflow
///
/// Also deletes its runs.
#[utoipa::path(delete, path = "/api/v1/workflows/{workflow_id}", tag = "workflows",
    params(("workflow_id" = WorkflowId, Path,)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["insights:manage"])))]
async fn delete_workflow(
    State(w): State<Workflows>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Result<StatusCode> {
    w.delete_workflow(&p, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Test a workflow
///
/// Runs the workflow now on a sample event `{kind, data}` — its actions really happen —
/// ignoring cooldown and the disabled state, and returns the run with each step's outcome
/// (a failing step's next attempt is scheduled as usual) and whether the event would have
/// fired it.
#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/test", tag = "workflows",
    params(("workflow_id" = WorkflowId, Path,)), request_body = SampleEvent,
    responses((status = 200, body = WorkflowTestResult), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["insights:manage"])))]
async fn test_workflow(
    State(w): State<Workflows>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WorkflowId>,
    ApiJson(sample): ApiJson<SampleEvent>,
) -> Result<Json<WorkflowTestResult>> {
    Ok(Json(w.test_workflow(&p, &id, sample, &actor).await?))
}

/// List a workflow's runs
///
/// Newest first, with each step's outcome and a failed run's error.
#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}/runs", tag = "workflows",
    params(("workflow_id" = WorkflowId, Path,), PageRequest),
    responses((status = 200, body = Page<WorkflowRun>), (status = 404, body = Problem)),
    security(("bearer" = ["insights:read"])))]
async fn list_runs(
    State(w): State<Workflows>,
    p: Principal,
    ApiPath(id): ApiPath<WorkflowId>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<WorkflowRun>>> {
    let limit = page.limit()?;
    let rows = w.runs(&p, &id, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |r| r.id.as_str())))
}
