//! Documents, chunks and their vectors.

use super::placeholders;
use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_store::{query, AnyRow, Row, StoreResult, TenantTx, Tx};
use std::collections::HashMap;

/// A document about to be written.
pub struct DocumentRow<'a> {
    pub id: &'a DocumentId,
    pub source_id: &'a SourceId,
    pub locator: &'a str,
    pub title: &'a str,
    pub language: &'a str,
    pub chunks: i64,
}

/// A chunk about to be written (with a vector when one could be reused).
pub struct ChunkRow {
    pub id: ChunkId,
    pub document_id: DocumentId,
    pub ordinal: i64,
    pub section: String,
    pub body: String,
    pub language: String,
    pub text_hash: String,
    pub embedding: Option<(String, Vec<u8>)>,
}

/// Chunks written per INSERT statement (9 parameters each, well under every engine's limit).
const INSERT_BATCH: usize = 200;

/// Vectors as stored: little-endian f32.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn vector_from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Deletes every document and chunk of a source.
pub async fn delete_content(tx: &mut TenantTx, source_id: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query("DELETE FROM knowledge_chunks WHERE tenant_id = $1 AND source_id = $2")
        .bind(tid.clone())
        .bind(source_id)
        .execute(tx.conn())
        .await?;
    query("DELETE FROM knowledge_documents WHERE tenant_id = $1 AND source_id = $2")
        .bind(tid)
        .bind(source_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deletes one document and its chunks (an FAQ entry).
pub async fn delete_document(tx: &mut TenantTx, id: &DocumentId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query("DELETE FROM knowledge_chunks WHERE tenant_id = $1 AND document_id = $2")
        .bind(tid.clone())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    query("DELETE FROM knowledge_documents WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn insert_document(tx: &mut TenantTx, d: &DocumentRow<'_>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO knowledge_documents (tenant_id, id, source_id, locator, title, language, chunks, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tid)
    .bind(d.id.as_str())
    .bind(d.source_id.as_str())
    .bind(d.locator)
    .bind(d.title)
    .bind(d.language)
    .bind(d.chunks)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Writes chunks in multi-row statements.
pub async fn insert_chunks(tx: &mut TenantTx, source_id: &SourceId, rows: &[ChunkRow]) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    for batch in rows.chunks(INSERT_BATCH) {
        let values: Vec<String> =
            (0..batch.len()).map(|i| format!("($1, $2, $3, {})", placeholders(4 + i * 9, 9))).collect();
        let sql = format!(
            "INSERT INTO knowledge_chunks (tenant_id, source_id, created_at, id, document_id, ordinal, section, body,
                                           language, text_hash, embedding_model, embedding) VALUES {}",
            values.join(", ")
        );
        let mut q = query(&sql).bind(tid.clone()).bind(source_id.as_str()).bind(now);
        for r in batch {
            let (model, vector) = match &r.embedding {
                Some((m, v)) => (Some(m.as_str()), Some(v.clone())),
                None => (None, None),
            };
            q = q
                .bind(r.id.as_str())
                .bind(r.document_id.as_str())
                .bind(r.ordinal)
                .bind(r.section.as_str())
                .bind(r.body.as_str())
                .bind(r.language.as_str())
                .bind(r.text_hash.as_str())
                .bind(model)
                .bind(vector);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// Vectors of `model` already stored for a source, by chunk text hash (re-ingestion reuses them).
pub async fn existing_vectors(
    tx: &mut TenantTx,
    source_id: &SourceId,
    model: &str,
) -> StoreResult<HashMap<String, Vec<u8>>> {
    let tid = tx.tid().to_owned();
    let rows = query(
        "SELECT text_hash, embedding FROM knowledge_chunks
         WHERE tenant_id = $1 AND source_id = $2 AND embedding_model = $3 AND embedding IS NOT NULL",
    )
    .bind(tid)
    .bind(source_id.as_str())
    .bind(model)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("text_hash")?, r.try_get("embedding")?))).collect()
}

/// One chunk as a segment is built from it.
pub struct SegmentRow {
    pub id: String,
    pub title: String,
    pub section: String,
    pub body: String,
    pub language: String,
    pub embedding_model: Option<String>,
    pub embedding: Option<Vec<u8>>,
}

/// Every chunk of a source, in document order.
pub async fn segment_rows(tx: &mut TenantTx, source_id: &str) -> StoreResult<Vec<SegmentRow>> {
    let tid = tx.tid().to_owned();
    let rows = query(
        "SELECT c.id, d.title, c.section, c.body, c.language, c.embedding_model, c.embedding
         FROM knowledge_chunks c JOIN knowledge_documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
         WHERE c.tenant_id = $1 AND c.source_id = $2 ORDER BY c.document_id, c.ordinal",
    )
    .bind(tid)
    .bind(source_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SegmentRow {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                section: r.try_get("section")?,
                body: r.try_get("body")?,
                language: r.try_get("language")?,
                embedding_model: r.try_get("embedding_model")?,
                embedding: r.try_get("embedding")?,
            })
        })
        .collect()
}

/// A chunk waiting for a vector of the current model.
pub struct Unembedded {
    pub id: String,
    pub source_id: String,
    pub title: String,
    pub section: String,
    pub body: String,
}

pub async fn unembedded(tx: &mut TenantTx, model: &str, limit: u32) -> StoreResult<Vec<Unembedded>> {
    let tid = tx.tid().to_owned();
    let rows = query(
        "SELECT c.id, c.source_id, d.title, c.section, c.body
         FROM knowledge_chunks c JOIN knowledge_documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
         WHERE c.tenant_id = $1 AND (c.embedding_model IS NULL OR c.embedding_model <> $2)
         ORDER BY c.id LIMIT $3",
    )
    .bind(tid)
    .bind(model)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Unembedded {
                id: r.try_get("id")?,
                source_id: r.try_get("source_id")?,
                title: r.try_get("title")?,
                section: r.try_get("section")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

/// How many chunks wait for a vector of `model`.
pub async fn count_unembedded(tx: &mut TenantTx, model: &str) -> StoreResult<i64> {
    let tid = tx.tid().to_owned();
    Ok(frontdesk_store::query_scalar(
        "SELECT COUNT(*) FROM knowledge_chunks WHERE tenant_id = $1 AND (embedding_model IS NULL OR embedding_model <> $2)",
    )
    .bind(tid)
    .bind(model)
    .fetch_one(tx.conn())
    .await?)
}

/// Stores a chunk's vector; false when the chunk is gone (re-ingested meanwhile).
pub async fn set_vector(tx: &mut TenantTx, chunk_id: &str, model: &str, vector: &[f32]) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = query("UPDATE knowledge_chunks SET embedding_model = $1, embedding = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(model)
        .bind(vector_bytes(vector))
        .bind(tid)
        .bind(chunk_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// A passage with its citation.
pub struct PassageRow {
    pub chunk_id: String,
    pub body: String,
    pub section: String,
    pub document_id: String,
    pub document_title: String,
    pub locator: String,
    pub source_id: String,
    pub source_title: String,
    pub source_kind: String,
}

/// The passages of these chunks (those that still exist), with their documents and sources.
pub async fn passages(tx: &mut TenantTx, ids: &[&str]) -> StoreResult<Vec<PassageRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let tid = tx.tid().to_owned();
    let sql = format!(
        "SELECT c.id, c.body, c.section, c.document_id, d.title AS document_title, d.locator, c.source_id,
                s.title AS source_title, s.kind
         FROM knowledge_chunks c
         JOIN knowledge_documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
         JOIN knowledge_sources s ON s.tenant_id = c.tenant_id AND s.id = c.source_id
         WHERE c.tenant_id = $1 AND c.id IN ({})",
        placeholders(2, ids.len())
    );
    let mut q = query(&sql).bind(tid);
    for id in ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(tx.conn()).await?;
    rows.iter().map(passage_from).collect()
}

fn passage_from(r: &AnyRow) -> StoreResult<PassageRow> {
    Ok(PassageRow {
        chunk_id: r.try_get("id")?,
        body: r.try_get("body")?,
        section: r.try_get("section")?,
        document_id: r.try_get("document_id")?,
        document_title: r.try_get("document_title")?,
        locator: r.try_get("locator")?,
        source_id: r.try_get("source_id")?,
        source_title: r.try_get("source_title")?,
        source_kind: r.try_get("kind")?,
    })
}

/// Every passage of the tenant with its document's locator, in document order (evaluation and
/// export).
pub async fn all_passages(tx: &mut TenantTx) -> StoreResult<Vec<(String, String)>> {
    let tid = tx.tid().to_owned();
    let rows = query(
        "SELECT d.locator, c.body FROM knowledge_chunks c
         JOIN knowledge_documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
         WHERE c.tenant_id = $1 ORDER BY d.locator, c.ordinal",
    )
    .bind(tid)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("locator")?, r.try_get("body")?))).collect()
}
