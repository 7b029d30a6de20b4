//! The tenant's model settings and token usage.

use crate::settings::{ModelLimits, ModelSettings, ModelSettingsView, UpdateModelSettings, UsageDay};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::{Error, Result};
use frontdesk_web::{ApiJson, ApiQuery, AuditActor, Principal};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(settings: ModelSettings) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(get_model, put_model, reset_model)).routes(routes!(usage)).with_state(settings)
}

/// The assistant's model
///
/// Which OpenAI-compatible endpoint answers for this tenant: its own, or the platform's default.
/// Keys are never shown, only whether one is stored.
#[utoipa::path(get, path = "/api/v1/assistant/model", tag = "assistant", responses((status = 200, body = ModelSettingsView)),
    security(("bearer" = ["tenant:read"])))]
async fn get_model(State(s): State<ModelSettings>, p: Principal) -> Result<Json<ModelSettingsView>> {
    Ok(Json(s.view(p.tenant()?).await?))
}

/// The endpoint, and optionally its timeouts and retries.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PutModel {
    #[serde(flatten)]
    pub settings: UpdateModelSettings,
    #[serde(flatten)]
    pub limits: ModelLimits,
}

/// Use your own model endpoint
///
/// Any OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp server). The key is sealed at rest;
/// omit `api_key` to keep the stored one, send `""` to remove it. Timeouts and retries left out
/// keep their values.
#[utoipa::path(put, path = "/api/v1/assistant/model", tag = "assistant", request_body = PutModel,
    responses((status = 200, body = ModelSettingsView), (status = 422, body = Problem)), security(("bearer" = ["tenant:manage"])))]
async fn put_model(
    State(s): State<ModelSettings>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<PutModel>,
) -> Result<Json<ModelSettingsView>> {
    Ok(Json(s.update_with_limits(p.tenant()?, req.settings, req.limits, &a).await?))
}

/// Back to the platform's model
#[utoipa::path(delete, path = "/api/v1/assistant/model", tag = "assistant", responses((status = 204)),
    security(("bearer" = ["tenant:manage"])))]
async fn reset_model(State(s): State<ModelSettings>, p: Principal, AuditActor(a): AuditActor) -> Result<StatusCode> {
    s.reset(p.tenant()?, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Start (RFC 3339); default 30 days ago.
    pub from: Option<String>,
    /// End, exclusive (RFC 3339); default now.
    pub to: Option<String>,
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

/// Model token usage
///
/// Calls and tokens per UTC day and model.
#[utoipa::path(get, path = "/api/v1/usage/llm", tag = "assistant", params(UsageQuery), responses((status = 200, body = Vec<UsageDay>)),
    security(("bearer" = ["tenant:read"])))]
async fn usage(
    State(s): State<ModelSettings>,
    p: Principal,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> Result<Json<Vec<UsageDay>>> {
    let to = instant("to", q.to.as_deref())?.unwrap_or_else(|| frontdesk_kernel::time::now_ms() + 1);
    let from = instant("from", q.from.as_deref())?.unwrap_or(to - 30 * 86_400_000);
    Ok(Json(s.usage(p.tenant()?, from, to).await?))
}
