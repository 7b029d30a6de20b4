//! The business metrics conversations reports (insights' business feed collects them): messages
//! in and out, conversations started and handoffs, counted per bucket from this capability's own
//! tables when a bucket closes, so a chat turn does no extra work for them.
//!
//! The queries stay on primary keys and existing indexes: message and conversation ids are
//! time-ordered, so a time range is an id range; handoffs are found among the conversations
//! active in the window (`conversations_inbox`); the tenants to visit come from
//! `conversations_recent`.

use crate::model::{ConversationId, MessageId};
use frontdesk_kernel::{Result, TenantId};
use frontdesk_store::{query, AnyRow, Db, Row, StoreError, Tx};

pub const MESSAGES_IN: &str = "frontdesk.messages_in";
pub const MESSAGES_OUT: &str = "frontdesk.messages_out";
pub const CONVERSATIONS_STARTED: &str = "frontdesk.conversations_started";
pub const HANDOFFS: &str = "frontdesk.handoffs";

/// Every metric counted here.
pub const METRICS: &[&str] = &[MESSAGES_IN, MESSAGES_OUT, CONVERSATIONS_STARTED, HANDOFFS];

/// How far an id's time may lie from its row's `created_at` (an id made before a slow write).
const ID_SLACK_MS: i64 = 10 * 60_000;

pub use frontdesk_kernel::metrics::BucketCount;

/// The smallest id of `prefix` made at `ms`: a time range is an id range on the primary key.
fn id_floor(prefix: &str, ms: i64) -> String {
    format!("{prefix}_{}", frontdesk_kernel::id::floor_body(ms))
}

/// Tenants whose conversations had a message at or after `since_ms` (`conversations_recent`).
pub async fn active_tenants(db: &Db, since_ms: i64) -> Result<Vec<TenantId>> {
    Ok(db.tenants_active_since("conversations", "last_message_at", since_ms).await?)
}

/// The tenant's counts per bucket of `[from_ms, to_ms)` (buckets of `bucket_ms` from `from_ms`);
/// buckets without any are left out.
pub async fn counts(db: &Db, tenant: &TenantId, from_ms: i64, to_ms: i64, bucket_ms: i64) -> Result<Vec<BucketCount>> {
    let mut tx = db.tenant_read(tenant).await?;
    let tid = tenant.as_str().to_owned();
    let bucket_of = |index: i64| from_ms + index * bucket_ms;
    let mut out = Vec::new();

    let rows = query(
        "SELECT (created_at - $2) / $3 AS b, author, COUNT(*) AS n FROM messages
         WHERE tenant_id = $1 AND id >= $4 AND id < $5 AND created_at >= $2 AND created_at < $6
         GROUP BY 1, 2",
    )
    .bind(&tid)
    .bind(from_ms)
    .bind(bucket_ms)
    .bind(id_floor(MessageId::PREFIX, from_ms - ID_SLACK_MS))
    .bind(id_floor(MessageId::PREFIX, to_ms + ID_SLACK_MS))
    .bind(to_ms)
    .fetch_all(tx.conn())
    .await
    .map_err(StoreError::from)?;
    for r in &rows {
        let author: String = r.try_get("author").map_err(StoreError::from)?;
        let metric = match author.as_str() {
            "customer" => MESSAGES_IN,
            "agent" | "staff" => MESSAGES_OUT,
            _ => continue, // notices the system adds are not conversation volume
        };
        let (b, n) = bucket_and_count(r)?;
        out.push(BucketCount { metric, bucket: bucket_of(b), value: n });
    }

    let rows = query(
        "SELECT (created_at - $2) / $3 AS b, COUNT(*) AS n FROM conversations
         WHERE tenant_id = $1 AND id >= $4 AND id < $5 AND created_at >= $2 AND created_at < $6
         GROUP BY 1",
    )
    .bind(&tid)
    .bind(from_ms)
    .bind(bucket_ms)
    .bind(id_floor(ConversationId::PREFIX, from_ms - ID_SLACK_MS))
    .bind(id_floor(ConversationId::PREFIX, to_ms + ID_SLACK_MS))
    .bind(to_ms)
    .fetch_all(tx.conn())
    .await
    .map_err(StoreError::from)?;
    for r in &rows {
        let (b, n) = bucket_and_count(r)?;
        out.push(BucketCount { metric: CONVERSATIONS_STARTED, bucket: bucket_of(b), value: n });
    }

    // A handoff adds a notice to the conversation, so its conversation was active since then.
    // Only a conversation's latest handoff is kept, so one handed off twice in an hour counts once.
    let rows = query(
        "SELECT (handed_off_at - $2) / $3 AS b, COUNT(*) AS n FROM conversations
         WHERE tenant_id = $1 AND last_message_at >= $4 AND handed_off_at >= $2 AND handed_off_at < $5
         GROUP BY 1",
    )
    .bind(&tid)
    .bind(from_ms)
    .bind(bucket_ms)
    .bind(from_ms - ID_SLACK_MS)
    .bind(to_ms)
    .fetch_all(tx.conn())
    .await
    .map_err(StoreError::from)?;
    for r in &rows {
        let (b, n) = bucket_and_count(r)?;
        out.push(BucketCount { metric: HANDOFFS, bucket: bucket_of(b), value: n });
    }
    Ok(out)
}

/// A grouped row's bucket index (`b`) and count (`n`).
fn bucket_and_count(row: &AnyRow) -> Result<(i64, f64)> {
    let b: i64 = row.try_get("b").map_err(StoreError::from)?;
    let n: i64 = row.try_get("n").map_err(StoreError::from)?;
    Ok((b, n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_floors_order_like_the_ids_made_at_that_time() {
        let before = frontdesk_kernel::time::now_ms();
        let id = MessageId::new();
        let after = frontdesk_kernel::time::now_ms();
        assert!(id_floor("msg", before).as_str() <= id.as_str());
        assert!(id_floor("msg", after + 1).as_str() > id.as_str());
        assert!(id_floor("msg", before - 1) < id_floor("msg", before));
        assert_eq!(id_floor("msg", 0), format!("msg_{}", "0".repeat(26)));
    }
}
