//! The audit log and job APIs.

use crate::{health, Ops};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::{Error, Result};
use frontdesk_store::audit::{self, AuditEntry, AuditFilter};
use frontdesk_store::jobs::{self, JobRecord, JobState};
use frontdesk_web::{ApiPath, ApiQuery, AuditActor, Principal};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(ops: Ops) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(health::detailed))
        .routes(routes!(health::metrics))
        .routes(routes!(audit_log))
        .routes(routes!(tenant_jobs))
        .routes(routes!(retry_tenant_job))
        .routes(routes!(platform_jobs))
        .routes(routes!(retry_platform_job))
        .with_state(ops)
}

/// Parses an RFC 3339 instant from a filter into UTC milliseconds.
pub fn parse_instant(field: &str, value: Option<&str>) -> Result<Option<i64>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|_| {
                Error::field(field, "invalid_datetime", "Use an RFC 3339 time such as 2026-11-24T09:00:00Z.")
            })
        })
        .transpose()
}

/// Audit filters and paging in one query string.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact action, or a prefix ending in `.` (`member.`).
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub object_id: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Only entries before this instant (RFC 3339).
    pub until: Option<String>,
    /// Items per page (1–200, default 50).
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl AuditQuery {
    pub fn split(&self) -> (AuditFilter, PageRequest) {
        (
            AuditFilter {
                action: self.action.clone().filter(|s| !s.is_empty()),
                actor_id: self.actor_id.clone().filter(|s| !s.is_empty()),
                object_id: self.object_id.clone().filter(|s| !s.is_empty()),
                since: self.since.clone(),
                until: self.until.clone(),
            },
            PageRequest { limit: self.limit, cursor: self.cursor.clone().filter(|s| !s.is_empty()) },
        )
    }
}

/// Query the audit log
///
/// Every change made through the API, the dashboard or the CLI: who, what, on which object, from
/// where, when. Newest first; append-only.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 422, body = Problem)), security(("bearer" = ["audit:read"])))]
async fn audit_log(
    State(ops): State<Ops>,
    p: Principal,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>> {
    let (filter, page) = q.split();
    let page = query_audit(&ops, &p, &filter, &page).await?;
    Ok(Json(page))
}

pub async fn query_audit(
    ops: &Ops,
    p: &Principal,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditEntry>> {
    let limit = page.limit()?;
    let since = parse_instant("since", filter.since.as_deref())?;
    let until = parse_instant("until", filter.until.as_deref())?;
    let mut tx = ops.db.tenant_read(p.tenant()?).await?;
    let rows = audit::query(&mut tx, filter, since, until, page.after()?.as_deref(), limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |e| e.id.as_str()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `queued`, `running` or `dead` (default).
    pub state: Option<JobState>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl JobQuery {
    fn page(&self) -> PageRequest {
        PageRequest { limit: self.limit, cursor: self.cursor.clone() }
    }
}

/// The tenant's background jobs
///
/// Dead letters by default: jobs that failed every attempt, with their last error.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobQuery), responses((status = 200, body = Page<JobRecord>)), security(("bearer" = ["jobs:read"])))]
async fn tenant_jobs(
    State(ops): State<Ops>,
    p: Principal,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<Json<Page<JobRecord>>> {
    let page = q.page();
    let limit = page.limit()?;
    let mut tx = ops.db.tenant_read(p.tenant()?).await?;
    let rows = jobs::list(&mut tx, q.state.unwrap_or(JobState::Dead), page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |j| j.id.as_str())))
}

/// Retry a dead job
#[utoipa::path(post, path = "/api/v1/jobs/{job_id}/retry", tag = "jobs", params(("job_id" = String, Path,)),
    responses((status = 202), (status = 404, body = Problem)), security(("bearer" = ["jobs:manage"])))]
async fn retry_tenant_job(
    State(ops): State<Ops>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(job_id): ApiPath<jobs::JobId>,
) -> Result<StatusCode> {
    let mut tx = ops.db.tenant(p.tenant()?).await?;
    jobs::retry(&mut tx, job_id.as_str()).await?;
    audit::record(&mut tx, &a, audit::Change::new("job.retried", "job", Some(job_id.as_str()))).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

/// All background jobs (operator)
#[utoipa::path(get, path = "/api/v1/platform/jobs", tag = "platform", params(JobQuery), responses((status = 200, body = Page<JobRecord>)), security(("bearer" = ["platform:operate"])))]
async fn platform_jobs(State(ops): State<Ops>, ApiQuery(q): ApiQuery<JobQuery>) -> Result<Json<Page<JobRecord>>> {
    let page = q.page();
    let limit = page.limit()?;
    let mut tx = ops.db.system_read().await?;
    let rows = jobs::list(&mut tx, q.state.unwrap_or(JobState::Dead), page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |j| j.id.as_str())))
}

/// Retry any dead job (operator)
#[utoipa::path(post, path = "/api/v1/platform/jobs/{job_id}/retry", tag = "platform", params(("job_id" = String, Path,)),
    responses((status = 202), (status = 404, body = Problem)), security(("bearer" = ["platform:operate"])))]
async fn retry_platform_job(State(ops): State<Ops>, ApiPath(job_id): ApiPath<jobs::JobId>) -> Result<StatusCode> {
    let mut tx = ops.db.system().await?;
    jobs::retry(&mut tx, job_id.as_str()).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}
