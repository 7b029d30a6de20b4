//! Unanswered questions.

use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_store::{query, AnyRow, Row, StoreError, StoreResult, TenantTx, Tx};

const COLS: &str = "id, question, asked, conversation_ref, status, faq_id, first_asked_at, last_asked_at";

fn gap_from(r: &AnyRow) -> StoreResult<Gap> {
    Ok(Gap {
        id: GapId::from_db(r.try_get("id")?),
        question: r.try_get("question")?,
        asked: r.try_get("asked")?,
        conversation_ref: r.try_get("conversation_ref")?,
        status: GapStatus::parse(&r.try_get::<String, _>("status")?),
        faq_id: r.try_get::<Option<String>, _>("faq_id")?.map(FaqId::from_db),
        first_asked_at: r.try_get("first_asked_at")?,
        last_asked_at: r.try_get("last_asked_at")?,
    })
}

/// Records one more asking of a question (a new gap, or the count of the same question).
pub async fn upsert_gap(
    tx: &mut TenantTx,
    question: &str,
    fingerprint: &str,
    conversation_ref: Option<&str>,
) -> StoreResult<Gap> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    let row = query(&format!(
        "INSERT INTO knowledge_gaps (tenant_id, id, question, fingerprint, asked, conversation_ref, status,
                                     first_asked_at, last_asked_at)
         VALUES ($1, $2, $3, $4, 1, $5, 'open', $6, $6)
         ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET asked = knowledge_gaps.asked + 1,
             last_asked_at = excluded.last_asked_at,
             conversation_ref = COALESCE(excluded.conversation_ref, knowledge_gaps.conversation_ref)
         RETURNING {COLS}"
    ))
    .bind(tid)
    .bind(GapId::new().as_str())
    .bind(question)
    .bind(fingerprint)
    .bind(conversation_ref)
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    gap_from(&row)
}

pub async fn gap(tx: &mut TenantTx, id: &GapId) -> StoreResult<Gap> {
    let tid = tx.tid().to_owned();
    let row = query(&format!("SELECT {COLS} FROM knowledge_gaps WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    gap_from(&row)
}

/// Gaps in a status, most asked first.
pub async fn list_gaps(tx: &mut TenantTx, status: GapStatus, limit: u32) -> StoreResult<Vec<Gap>> {
    let tid = tx.tid().to_owned();
    let rows = query(&format!(
        "SELECT {COLS} FROM knowledge_gaps WHERE tenant_id = $1 AND status = $2
         ORDER BY asked DESC, last_asked_at DESC LIMIT $3"
    ))
    .bind(tid)
    .bind(status.as_str())
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(gap_from).collect()
}

pub async fn set_gap_status(tx: &mut TenantTx, id: &GapId, status: GapStatus, faq: Option<&FaqId>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query("UPDATE knowledge_gaps SET status = $1, faq_id = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(status.as_str())
        .bind(faq.map(FaqId::as_str))
        .bind(tid)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}
