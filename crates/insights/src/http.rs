//! Insights' JSON API: ingestion, series and values, anomalies, sensitivity.

use crate::model::*;
use crate::service::Insights;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::{Error, Result};
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(insights: Insights) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .routes(routes!(list_series))
        .routes(routes!(metric_data))
        .routes(routes!(list_anomalies))
        .routes(routes!(get_anomaly))
        .routes(routes!(acknowledge))
        .routes(routes!(get_settings, put_settings))
        .with_state(insights)
}

/// The body of an ingest request: a JSON array of points, or NDJSON (one point per line).
fn points_of(headers: &HeaderMap, body: &[u8]) -> Result<Vec<serde_json::Value>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("application/x-ndjson") || ct.starts_with("application/jsonl") {
        let text = std::str::from_utf8(body).map_err(|_| Error::field("", "malformed", "The body is not UTF-8."))?;
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| Error::field(&format!("line {}", i + 1), "malformed_json", e.to_string()))
            })
            .collect();
    }
    if !(ct.starts_with("application/json") || ct.is_empty()) {
        return Err(Error::bad_request(
            "unsupported_media_type",
            "Send application/json (an array) or application/x-ndjson.",
        ));
    }
    match frontdesk_web::extract::parse_json::<serde_json::Value>(body)? {
        serde_json::Value::Array(points) => Ok(points),
        serde_json::Value::Object(o) => Ok(vec![serde_json::Value::Object(o)]),
        _ => Err(Error::field("", "invalid", "Send an array of points.")),
    }
}

/// Ingest metric points
///
/// A batch of up to 5000 points `{metric, value, timestamp, dimensions?}` as a JSON array or
/// NDJSON. Each point is checked on its own: good points are stored even when others are
/// rejected (listed with their index and field). Re-sending a point (same metric, dimensions and
/// timestamp) is a no-op, so a batch can be retried safely. Scoring happens in the background.
/// Names under `frontdesk.` are Frontdesk's own metrics (messages, AI usage, …): a batch with
/// one is refused (422, field `[i].metric`, code `reserved`).
#[utoipa::path(post, path = "/api/v1/metrics/ingest", tag = "insights",
    request_body(content = Vec<PointIn>, content_type = "application/json"),
    responses((status = 200, body = IngestResult), (status = 422, body = Problem)),
    security(("bearer" = ["metrics:ingest"])))]
async fn ingest(
    State(svc): State<Insights>,
    p: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IngestResult>> {
    let points = points_of(&headers, &body)?;
    Ok(Json(svc.ingest(p.tenant()?, points).await?))
}

/// List metric series
#[utoipa::path(get, path = "/api/v1/metrics", tag = "insights", responses((status = 200, body = Vec<Series>)),
    security(("bearer" = ["insights:read"])))]
async fn list_series(State(svc): State<Insights>, p: Principal) -> Result<Json<Vec<Series>>> {
    Ok(Json(svc.series_list(p.tenant()?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// Start (RFC 3339), default 24 hours before `to`.
    pub from: Option<String>,
    /// End, exclusive (RFC 3339), default now.
    pub to: Option<String>,
    /// `raw`, `minute`, `hour` (default) or `day`.
    pub resolution: Option<Resolution>,
    /// The series' dimensions as a JSON object (`{"location":"north"}`).
    pub dimensions: Option<String>,
}

fn instant(field: &str, v: Option<&str>) -> Result<Option<i64>> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|_| {
                Error::field(field, "invalid_datetime", "Use an RFC 3339 time such as 2026-11-24T09:00:00Z.")
            })
        })
        .transpose()
}

/// Values of a metric
///
/// Raw points or minute/hour/day aggregates (mean, count, min, max) over a range.
#[utoipa::path(get, path = "/api/v1/metrics/{metric}", tag = "insights", params(("metric" = String, Path,), DataQuery),
    responses((status = 200, body = Vec<DataPoint>), (status = 422, body = Problem)), security(("bearer" = ["insights:read"])))]
async fn metric_data(
    State(svc): State<Insights>,
    p: Principal,
    ApiPath(metric): ApiPath<String>,
    ApiQuery(q): ApiQuery<DataQuery>,
) -> Result<Json<Vec<DataPoint>>> {
    let to = instant("to", q.to.as_deref())?.unwrap_or_else(|| frontdesk_kernel::time::now_ms() + 1);
    let from = instant("from", q.from.as_deref())?.unwrap_or(to - 24 * 3600 * 1000);
    if from >= to {
        return Err(Error::field("from", "invalid_range", "from must be before to."));
    }
    let resolution = q.resolution.unwrap_or(Resolution::Hour);
    Ok(Json(svc.data(p.tenant()?, &metric, q.dimensions.as_deref(), resolution, from, to).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomalyQuery {
    pub metric: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List anomalies
///
/// Newest first, each with its expected range and explanation.
#[utoipa::path(get, path = "/api/v1/anomalies", tag = "insights", params(AnomalyQuery),
    responses((status = 200, body = Page<Anomaly>)), security(("bearer" = ["insights:read"])))]
async fn list_anomalies(
    State(svc): State<Insights>,
    p: Principal,
    ApiQuery(q): ApiQuery<AnomalyQuery>,
) -> Result<Json<Page<Anomaly>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let rows = svc.anomalies(p.tenant()?, q.metric.as_deref(), page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id.as_str())))
}

/// Get an anomaly
#[utoipa::path(get, path = "/api/v1/anomalies/{anomaly_id}", tag = "insights", params(("anomaly_id" = AnomalyId, Path,)),
    responses((status = 200, body = Anomaly), (status = 404, body = Problem)), security(("bearer" = ["insights:read"])))]
async fn get_anomaly(
    State(svc): State<Insights>,
    p: Principal,
    ApiPath(id): ApiPath<AnomalyId>,
) -> Result<Json<Anomaly>> {
    Ok(Json(svc.anomaly(p.tenant()?, &id).await?))
}

/// Acknowledge an anomaly
#[utoipa::path(post, path = "/api/v1/anomalies/{anomaly_id}/acknowledge", tag = "insights", params(("anomaly_id" = AnomalyId, Path,)),
    responses((status = 200, body = Anomaly), (status = 404, body = Problem)), security(("bearer" = ["insights:manage"])))]
async fn acknowledge(
    State(svc): State<Insights>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(id): ApiPath<AnomalyId>,
) -> Result<Json<Anomaly>> {
    Ok(Json(svc.acknowledge(p.tenant()?, &id, &a).await?))
}

/// Detection settings
#[utoipa::path(get, path = "/api/v1/insights/settings", tag = "insights", responses((status = 200, body = Settings)),
    security(("bearer" = ["insights:read"])))]
async fn get_settings(State(svc): State<Insights>, p: Principal) -> Result<Json<Settings>> {
    Ok(Json(svc.settings(p.tenant()?).await?))
}

/// Change the sensitivity
///
/// The score (0, 1] at which a point is recorded as anomalous. Lower finds more.
#[utoipa::path(put, path = "/api/v1/insights/settings", tag = "insights", request_body = Settings,
    responses((status = 200, body = Settings), (status = 422, body = Problem)), security(("bearer" = ["insights:manage"])))]
async fn put_settings(
    State(svc): State<Insights>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(s): ApiJson<Settings>,
) -> Result<Json<Settings>> {
    Ok(Json(svc.set_settings(p.tenant()?, s, &a).await?))
}
