//! The knowledge base's JSON API under `/api/v1/knowledge`. Each handler's doc comment is its
//! OpenAPI text and its `security` names the permission it needs.

use crate::model::*;
use crate::service::{Knowledge, Upload};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::{Error, Result};
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, Principal};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(knowledge: Knowledge) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(refresh_source))
        .routes(routes!(upload))
        .routes(routes!(search_get, search_post))
        .routes(routes!(list_faq, create_faq))
        .routes(routes!(get_faq, update_faq, delete_faq))
        .routes(routes!(list_gaps, record_gap))
        .routes(routes!(accept_gap))
        .routes(routes!(dismiss_gap))
        .with_state(knowledge)
}

/// List knowledge sources
///
/// Newest first, each with its status, progress, version, last refresh, counts and errors.
#[utoipa::path(get, path = "/api/v1/knowledge/sources", tag = "knowledge", params(PageRequest),
    responses((status = 200, body = Page<Source>)), security(("bearer" = ["knowledge:read"])))]
async fn list_sources(
    State(k): State<Knowledge>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<Source>>> {
    let limit = page.limit()?;
    let rows = k.sources(p.tenant()?, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |s| s.id.as_str())))
}

/// Add a source
///
/// A web page or site section (`kind: url`, with `max_pages` and `max_depth`), a product
/// catalog (`kind: catalog`: JSON at `url`, refreshed every `refresh_minutes`, default daily), or
/// a text (`kind: text`, Markdown by default). The URL must be public (no private, loopback or
/// link-local address). Ingestion runs in the background: follow `status` and `progress`.
#[utoipa::path(post, path = "/api/v1/knowledge/sources", tag = "knowledge", request_body = CreateSourceRequest,
    responses((status = 202, body = Source), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn create_source(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<CreateSourceRequest>,
) -> Result<(StatusCode, Json<Source>)> {
    Ok((StatusCode::ACCEPTED, Json(k.create_source(p.tenant()?, req, &actor).await?)))
}

/// Get a source
#[utoipa::path(get, path = "/api/v1/knowledge/sources/{source_id}", tag = "knowledge",
    params(("source_id" = SourceId, Path,)), responses((status = 200, body = Source), (status = 404, body = Problem)),
    security(("bearer" = ["knowledge:read"])))]
async fn get_source(State(k): State<Knowledge>, p: Principal, ApiPath(id): ApiPath<SourceId>) -> Result<Json<Source>> {
    Ok(Json(k.source(p.tenant()?, &id).await?))
}

/// Change a source
///
/// Its title, tags (used as search filters) or refresh schedule (`refresh_minutes`, 0 for none).
#[utoipa::path(patch, path = "/api/v1/knowledge/sources/{source_id}", tag = "knowledge",
    params(("source_id" = SourceId, Path,)), request_body = UpdateSourceRequest,
    responses((status = 200, body = Source), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn update_source(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<SourceId>,
    ApiJson(req): ApiJson<UpdateSourceRequest>,
) -> Result<Json<Source>> {
    Ok(Json(k.update_source(p.tenant()?, &id, req, &actor).await?))
}

/// Delete a source
///
/// Removes it and its passages from every index at once.
#[utoipa::path(delete, path = "/api/v1/knowledge/sources/{source_id}", tag = "knowledge",
    params(("source_id" = SourceId, Path,)), responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn delete_source(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<SourceId>,
) -> Result<StatusCode> {
    k.delete_source(p.tenant()?, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refresh a source
///
/// Fetches or re-reads it now; unchanged content keeps its version.
#[utoipa::path(post, path = "/api/v1/knowledge/sources/{source_id}/refresh", tag = "knowledge",
    params(("source_id" = SourceId, Path,)), responses((status = 202, body = Source), (status = 404, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn refresh_source(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<SourceId>,
) -> Result<(StatusCode, Json<Source>)> {
    Ok((StatusCode::ACCEPTED, Json(k.refresh_source(p.tenant()?, &id, &actor).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (`guide.pdf`); a file of the same name is replaced by this version.
    pub filename: String,
    pub title: Option<String>,
    /// Comma-separated tags.
    pub tags: Option<String>,
}

/// Upload a document
///
/// The raw file as the body (Markdown, plain text, HTML or PDF), its type in `Content-Type`
/// and its name in `filename`. Uploading the same name again makes a new version, or nothing
/// when the content is unchanged. Larger than the configured limit (20 MB by default): 413.
#[utoipa::path(post, path = "/api/v1/knowledge/uploads", tag = "knowledge", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = Source), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn upload(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Source>)> {
    let limit = k.config().max_upload_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge);
    }
    // Past the limit is the only failure a client that still waits for the answer can cause.
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| Error::PayloadTooLarge)?;
    let upload = Upload {
        filename: q.filename,
        content_type: headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: bytes.to_vec(),
        title: q.title,
        tags: q.tags.map(|t| t.split(',').map(str::to_owned).collect()).unwrap_or_default(),
    };
    let (source, _) = k.upload(p.tenant()?, upload, &actor).await?;
    Ok((StatusCode::ACCEPTED, Json(source)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The question.
    pub q: String,
    /// Results (1–50, default 5).
    pub limit: Option<u32>,
    /// `hybrid` (default), `bm25` or `vector`.
    pub mode: Option<SearchMode>,
    /// Only this source.
    pub source_id: Option<SourceId>,
    /// Only sources with this tag.
    pub tag: Option<String>,
}

/// Search the knowledge base
///
/// Ranked passages with their document and section for citation. `mode` says which rankings
/// were used and `mode_reason` why, e.g. full text only while no embedding model is available.
#[utoipa::path(get, path = "/api/v1/knowledge/search", tag = "knowledge", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:read"])))]
async fn search_get(
    State(k): State<Knowledge>,
    p: Principal,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>> {
    let query = SearchQuery {
        query: q.q,
        limit: q.limit,
        source_ids: q.source_id.into_iter().collect(),
        tags: q.tag.into_iter().collect(),
        mode: q.mode,
    };
    Ok(Json(k.search(p.tenant()?, query).await?))
}

/// Search the knowledge base (filters in the body)
#[utoipa::path(post, path = "/api/v1/knowledge/search", tag = "knowledge", request_body = SearchQuery,
    responses((status = 200, body = SearchResults), (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:read"])))]
async fn search_post(
    State(k): State<Knowledge>,
    p: Principal,
    ApiJson(q): ApiJson<SearchQuery>,
) -> Result<Json<SearchResults>> {
    Ok(Json(k.search(p.tenant()?, q).await?))
}

/// List FAQ entries
#[utoipa::path(get, path = "/api/v1/knowledge/faq", tag = "knowledge", params(PageRequest),
    responses((status = 200, body = Page<FaqEntry>)), security(("bearer" = ["knowledge:read"])))]
async fn list_faq(
    State(k): State<Knowledge>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<FaqEntry>>> {
    let limit = page.limit()?;
    let rows = k.faq_entries(p.tenant()?, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |f| f.id.as_str())))
}

/// Add an FAQ entry
///
/// Searchable as soon as it is saved.
#[utoipa::path(post, path = "/api/v1/knowledge/faq", tag = "knowledge", request_body = FaqRequest,
    responses((status = 201, body = FaqEntry), (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn create_faq(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiJson(req): ApiJson<FaqRequest>,
) -> Result<(StatusCode, Json<FaqEntry>)> {
    Ok((StatusCode::CREATED, Json(k.create_faq(p.tenant()?, req, &actor).await?)))
}

/// Get an FAQ entry
#[utoipa::path(get, path = "/api/v1/knowledge/faq/{faq_id}", tag = "knowledge", params(("faq_id" = FaqId, Path,)),
    responses((status = 200, body = FaqEntry), (status = 404, body = Problem)), security(("bearer" = ["knowledge:read"])))]
async fn get_faq(State(k): State<Knowledge>, p: Principal, ApiPath(id): ApiPath<FaqId>) -> Result<Json<FaqEntry>> {
    Ok(Json(k.faq(p.tenant()?, &id).await?))
}

/// Change an FAQ entry
#[utoipa::path(put, path = "/api/v1/knowledge/faq/{faq_id}", tag = "knowledge", params(("faq_id" = FaqId, Path,)),
    request_body = FaqRequest,
    responses((status = 200, body = FaqEntry), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn update_faq(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<FaqId>,
    ApiJson(req): ApiJson<FaqRequest>,
) -> Result<Json<FaqEntry>> {
    Ok(Json(k.update_faq(p.tenant()?, &id, req, &actor).await?))
}

/// Delete an FAQ entry
#[utoipa::path(delete, path = "/api/v1/knowledge/faq/{faq_id}", tag = "knowledge", params(("faq_id" = FaqId, Path,)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["knowledge:manage"])))]
async fn delete_faq(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<FaqId>,
) -> Result<StatusCode> {
    k.delete_faq(p.tenant()?, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapQuery {
    /// `open` (default), `accepted` or `dismissed`.
    pub status: Option<GapStatus>,
    /// Up to 200 (default 50).
    pub limit: Option<u32>,
}

/// List knowledge gaps
///
/// Questions the assistant could not answer from the knowledge base, most asked first:
/// suggested FAQ entries.
#[utoipa::path(get, path = "/api/v1/knowledge/gaps", tag = "knowledge", params(GapQuery),
    responses((status = 200, body = Vec<Gap>)), security(("bearer" = ["knowledge:read"])))]
async fn list_gaps(
    State(k): State<Knowledge>,
    p: Principal,
    ApiQuery(q): ApiQuery<GapQuery>,
) -> Result<Json<Vec<Gap>>> {
    let limit = PageRequest { limit: q.limit, cursor: None }.limit()?;
    Ok(Json(k.gaps(p.tenant()?, q.status.unwrap_or(GapStatus::Open), limit).await?))
}

/// Record a knowledge gap
///
/// A question that could not be answered from the knowledge base; the same question again
/// counts up.
#[utoipa::path(post, path = "/api/v1/knowledge/gaps", tag = "knowledge", request_body = RecordGapRequest,
    responses((status = 200, body = Gap), (status = 422, body = Problem)), security(("bearer" = ["knowledge:manage"])))]
async fn record_gap(
    State(k): State<Knowledge>,
    p: Principal,
    ApiJson(req): ApiJson<RecordGapRequest>,
) -> Result<Json<Gap>> {
    Ok(Json(k.record_gap(p.tenant()?, &req.question, req.conversation_ref).await?))
}

/// Accept a gap as an FAQ entry
#[utoipa::path(post, path = "/api/v1/knowledge/gaps/{gap_id}/accept", tag = "knowledge",
    params(("gap_id" = GapId, Path,)), request_body = AcceptGapRequest,
    responses((status = 201, body = FaqEntry), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn accept_gap(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<GapId>,
    ApiJson(req): ApiJson<AcceptGapRequest>,
) -> Result<(StatusCode, Json<FaqEntry>)> {
    Ok((StatusCode::CREATED, Json(k.accept_gap(p.tenant()?, &id, req, &actor).await?)))
}

/// Dismiss a gap
#[utoipa::path(post, path = "/api/v1/knowledge/gaps/{gap_id}/dismiss", tag = "knowledge",
    params(("gap_id" = GapId, Path,)),
    responses((status = 200, body = Gap), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["knowledge:manage"])))]
async fn dismiss_gap(
    State(k): State<Knowledge>,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<GapId>,
) -> Result<Json<Gap>> {
    Ok(Json(k.dismiss_gap(p.tenant()?, &id, &actor).await?))
}
