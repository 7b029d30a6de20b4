//! Sources, their stored files, and their index versions.

use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_store::{query, AnyRow, Row, StoreError, StoreResult, TenantTx, Tx};

const COLS: &str = "id, kind, title, origin, content_type, options, tags, status, error, warnings, version, \
                    index_version, content_hash, documents, chunks, embedded, progress_done, progress_total, \
                    refresh_every_secs, next_refresh_at, last_refreshed_at, created_at, updated_at";

/// A source with what only the service needs.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub source: Source,
    pub index_version: i64,
    pub content_hash: Option<String>,
    pub refresh_every_secs: Option<i64>,
}

fn json_list(r: &AnyRow, col: &str) -> StoreResult<Vec<String>> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Config(format!("{col} is not a JSON list: {e}")))
}

fn record_from(r: &AnyRow) -> StoreResult<SourceRecord> {
    let kind: String = r.try_get("kind")?;
    let options: String = r.try_get("options")?;
    let refresh_every_secs: Option<i64> = r.try_get("refresh_every_secs")?;
    Ok(SourceRecord {
        source: Source {
            id: SourceId::from_db(r.try_get("id")?),
            kind: SourceKind::parse(&kind).ok_or_else(|| StoreError::Config(format!("unknown source kind {kind}")))?,
            title: r.try_get("title")?,
            origin: r.try_get("origin")?,
            content_type: r.try_get("content_type")?,
            options: serde_json::from_str(&options).unwrap_or_default(),
            tags: json_list(r, "tags")?,
            status: SourceStatus::parse(&r.try_get::<String, _>("status")?),
            error: r.try_get("error")?,
            warnings: json_list(r, "warnings")?,
            version: r.try_get("version")?,
            documents: r.try_get("documents")?,
            chunks: r.try_get("chunks")?,
            embedded: r.try_get("embedded")?,
            progress: Progress { done: r.try_get("progress_done")?, total: r.try_get("progress_total")? },
            refresh_every_minutes: refresh_every_secs.map(|s| s / 60),
            next_refresh_at: r.try_get("next_refresh_at")?,
            last_refreshed_at: r.try_get("last_refreshed_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        },
        index_version: r.try_get("index_version")?,
        content_hash: r.try_get("content_hash")?,
        refresh_every_secs,
    })
}

/// A new source, queued.
pub struct NewSource<'a> {
    pub id: &'a SourceId,
    pub kind: SourceKind,
    pub title: &'a str,
    pub origin: &'a str,
    pub content_type: Option<&'a str>,
    pub options: &'a SourceOptions,
    pub tags: &'a [String],
    pub refresh_every_secs: Option<i64>,
}

pub async fn insert_source(tx: &mut TenantTx, s: &NewSource<'_>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    query(
        "INSERT INTO knowledge_sources (tenant_id, id, kind, title, origin, content_type, options, tags, status,
                                        refresh_every_secs, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $10)",
    )
    .bind(tid)
    .bind(s.id.as_str())
    .bind(s.kind.as_str())
    .bind(s.title)
    .bind(s.origin)
    .bind(s.content_type)
    .bind(serde_json::to_string(s.options).unwrap_or_else(|_| "{}".into()))
    .bind(serde_json::to_string(s.tags).unwrap_or_else(|_| "[]".into()))
    .bind(s.refresh_every_secs)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn source(tx: &mut TenantTx, id: &SourceId) -> StoreResult<SourceRecord> {
    let tid = tx.tid().to_owned();
    let row = query(&format!("SELECT {COLS} FROM knowledge_sources WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    record_from(&row)
}

pub async fn source_by_origin(tx: &mut TenantTx, kind: SourceKind, origin: &str) -> StoreResult<Option<SourceRecord>> {
    let tid = tx.tid().to_owned();
    let row =
        query(&format!("SELECT {COLS} FROM knowledge_sources WHERE tenant_id = $1 AND kind = $2 AND origin = $3"))
            .bind(tid)
            .bind(kind.as_str())
            .bind(origin)
            .fetch_optional(tx.conn())
            .await?;
    row.as_ref().map(record_from).transpose()
}

/// Sources, newest first.
pub async fn list_sources(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<Source>> {
    let tid = tx.tid().to_owned();
    let rows = query(&format!(
        "SELECT {COLS} FROM knowledge_sources WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| record_from(r).map(|s| s.source)).collect()
}

/// What the index needs to know of every source: id, index version, tags.
pub async fn index_versions(tx: &mut TenantTx) -> StoreResult<Vec<(String, i64, Vec<String>)>> {
    let tid = tx.tid().to_owned();
    let rows = query("SELECT id, index_version, tags FROM knowledge_sources WHERE tenant_id = $1 AND chunks > 0")
        .bind(tid)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("index_version")?, json_list(r, "tags")?))).collect()
}

/// Title, tags and refresh schedule.
pub async fn update_meta(tx: &mut TenantTx, rec: &SourceRecord) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let s = &rec.source;
    query(
        "UPDATE knowledge_sources SET title = $1, tags = $2, refresh_every_secs = $3, next_refresh_at = $4, updated_at = $5
         WHERE tenant_id = $6 AND id = $7",
    )
    .bind(&s.title)
    .bind(serde_json::to_string(&s.tags).unwrap_or_else(|_| "[]".into()))
    .bind(rec.refresh_every_secs)
    .bind(s.next_refresh_at)
    .bind(now_ms())
    .bind(tid)
    .bind(s.id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Status with progress (and the error when failed).
pub async fn set_status(
    tx: &mut TenantTx,
    id: &SourceId,
    status: SourceStatus,
    error: Option<&str>,
    progress: Progress,
) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "UPDATE knowledge_sources SET status = $1, error = $2, progress_done = $3, progress_total = $4, updated_at = $5
         WHERE tenant_id = $6 AND id = $7",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(progress.done)
    .bind(progress.total)
    .bind(now_ms())
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The end of an ingestion run.
pub struct Finished<'a> {
    pub content_hash: &'a str,
    /// The content changed: a new version with these counts.
    pub changed: Option<(i64, i64, i64)>,
    pub warnings: &'a [String],
    pub next_refresh_at: Option<i64>,
}

pub async fn finish(tx: &mut TenantTx, id: &SourceId, f: &Finished<'_>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    let warnings = serde_json::to_string(f.warnings).unwrap_or_else(|_| "[]".into());
    let (changed, documents, chunks, embedded) = match f.changed {
        Some((d, c, e)) => (1i64, d, c, e),
        None => (0, 0, 0, 0),
    };
    query(
        "UPDATE knowledge_sources SET status = 'ready', error = NULL, warnings = $1, content_hash = $2,
                version = version + $3, index_version = index_version + $3,
                documents = CASE WHEN $3 = 1 THEN $4 ELSE documents END,
                chunks = CASE WHEN $3 = 1 THEN $5 ELSE chunks END,
                embedded = CASE WHEN $3 = 1 THEN $6 ELSE embedded END,
                progress_done = progress_total, last_refreshed_at = $7, next_refresh_at = $8, updated_at = $7
         WHERE tenant_id = $9 AND id = $10",
    )
    .bind(warnings)
    .bind(f.content_hash)
    .bind(changed)
    .bind(documents)
    .bind(chunks)
    .bind(embedded)
    .bind(now)
    .bind(f.next_refresh_at)
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A failed run: the previous content (if any) stays searchable.
pub async fn fail(tx: &mut TenantTx, id: &SourceId, error: &str, next_refresh_at: Option<i64>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    let error: String = error.chars().take(2000).collect();
    query(
        "UPDATE knowledge_sources SET status = 'failed', error = $1, next_refresh_at = $2, last_refreshed_at = $3,
                updated_at = $3 WHERE tenant_id = $4 AND id = $5",
    )
    .bind(error)
    .bind(next_refresh_at)
    .bind(now)
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Recounts a source's documents, chunks and vectors of `model` after a piecewise change (the
/// FAQ), counting it as a new version.
pub async fn recount(tx: &mut TenantTx, id: &SourceId, model: Option<&str>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "UPDATE knowledge_sources SET
            documents = (SELECT COUNT(*) FROM knowledge_documents WHERE tenant_id = $1 AND source_id = $2),
            chunks = (SELECT COUNT(*) FROM knowledge_chunks WHERE tenant_id = $1 AND source_id = $2),
            embedded = (SELECT COUNT(*) FROM knowledge_chunks WHERE tenant_id = $1 AND source_id = $2
                        AND embedding_model = $3),
            version = version + 1, status = 'ready', error = NULL, last_refreshed_at = $4, updated_at = $4
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tid)
    .bind(id.as_str())
    .bind(model)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks the source's chunks or vectors as changed (its segment reloads everywhere).
pub async fn bump_index_version(tx: &mut TenantTx, id: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query("UPDATE knowledge_sources SET index_version = index_version + 1 WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Counts newly embedded chunks.
pub async fn add_embedded(tx: &mut TenantTx, id: &str, n: i64) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query("UPDATE knowledge_sources SET embedded = embedded + $1 WHERE tenant_id = $2 AND id = $3")
        .bind(n)
        .bind(tid)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deletes a source with its documents, chunks and file. `NotFound` when it does not exist.
pub async fn delete_source(tx: &mut TenantTx, id: &SourceId) -> StoreResult<()> {
    super::delete_content(tx, id.as_str()).await?;
    let tid = tx.tid().to_owned();
    query("DELETE FROM knowledge_blobs WHERE tenant_id = $1 AND source_id = $2")
        .bind(tid.clone())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    let n = query("DELETE FROM knowledge_sources WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn put_blob(tx: &mut TenantTx, id: &SourceId, content_type: &str, body: &[u8]) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO knowledge_blobs (tenant_id, source_id, content_type, body) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, source_id) DO UPDATE SET content_type = excluded.content_type, body = excluded.body",
    )
    .bind(tid)
    .bind(id.as_str())
    .bind(content_type)
    .bind(body.to_vec())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The stored file of a source: (content type, bytes).
pub async fn blob(tx: &mut TenantTx, id: &SourceId) -> StoreResult<Option<(String, Vec<u8>)>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT content_type, body FROM knowledge_blobs WHERE tenant_id = $1 AND source_id = $2")
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.map(|r| Ok((r.try_get("content_type")?, r.try_get("body")?))).transpose()
}
