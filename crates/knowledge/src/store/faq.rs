//! FAQ entries.

use crate::model::*;
use frontdesk_store::{query, AnyRow, Row, StoreError, StoreResult, TenantTx, Tx};

fn faq_from(r: &AnyRow) -> StoreResult<FaqEntry> {
    Ok(FaqEntry {
        id: FaqId::from_db(r.try_get("id")?),
        question: r.try_get("question")?,
        answer: r.try_get("answer")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_faq(tx: &mut TenantTx, f: &FaqEntry) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO knowledge_faq (tenant_id, id, question, answer, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tid)
    .bind(f.id.as_str())
    .bind(&f.question)
    .bind(&f.answer)
    .bind(f.created_at)
    .bind(f.updated_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn update_faq(tx: &mut TenantTx, f: &FaqEntry) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let n =
        query("UPDATE knowledge_faq SET question = $1, answer = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
            .bind(&f.question)
            .bind(&f.answer)
            .bind(f.updated_at)
            .bind(tid)
            .bind(f.id.as_str())
            .execute(tx.conn())
            .await?
            .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn faq(tx: &mut TenantTx, id: &FaqId) -> StoreResult<FaqEntry> {
    let tid = tx.tid().to_owned();
    let row = query(
        "SELECT id, question, answer, created_at, updated_at FROM knowledge_faq WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tid)
    .bind(id.as_str())
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    faq_from(&row)
}

/// FAQ entries, newest first.
pub async fn list_faq(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<FaqEntry>> {
    let tid = tx.tid().to_owned();
    let rows = query(
        "SELECT id, question, answer, created_at, updated_at FROM knowledge_faq
         WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(faq_from).collect()
}

pub async fn delete_faq(tx: &mut TenantTx, id: &FaqId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let n = query("DELETE FROM knowledge_faq WHERE tenant_id = $1 AND id = $2")
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
