//! The knowledge base's SQL, written once for SQLite and PostgreSQL. Every function takes a
//! [`TenantTx`] (and names the tenant in its `WHERE` as well, so SQLite is as safe as
//! PostgreSQL's row-level security); the one cross-tenant look-up takes a [`SystemTx`].

mod chunks;
mod faq;
mod gaps;
mod sources;

pub use chunks::*;
pub use faq::*;
pub use gaps::*;
pub use sources::*;

use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::TenantId;
use frontdesk_store::{query, query_scalar, Row, StoreResult, SystemTx, TenantTx, Tx};

/// `$from, $from+1, …` placeholders for `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The tenant's index generation (0 before anything was indexed).
pub async fn generation(tx: &mut TenantTx) -> StoreResult<i64> {
    let tid = tx.tid().to_owned();
    let g: Option<i64> = query_scalar("SELECT generation FROM knowledge_state WHERE tenant_id = $1")
        .bind(tid)
        .fetch_optional(tx.conn())
        .await?;
    Ok(g.unwrap_or(0))
}

/// Moves the tenant's generation: every replica's next search reloads what changed.
pub async fn bump_generation(tx: &mut TenantTx) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO knowledge_state (tenant_id, generation, vectors_model, updated_at) VALUES ($1, 1, NULL, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET generation = knowledge_state.generation + 1, updated_at = excluded.updated_at",
    )
    .bind(tid)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records that every chunk has a vector of `model` (`None`: some are missing).
pub async fn set_vectors_model(tx: &mut TenantTx, model: Option<&str>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO knowledge_state (tenant_id, generation, vectors_model, updated_at) VALUES ($1, 0, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET vectors_model = excluded.vectors_model, updated_at = excluded.updated_at",
    )
    .bind(tid)
    .bind(model)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Tenants whose vectors are incomplete or of another model (one row per tenant is read).
pub async fn tenants_needing_vectors(tx: &mut SystemTx, model: &str, limit: u32) -> StoreResult<Vec<TenantId>> {
    let rows = query(
        "SELECT tenant_id FROM knowledge_state WHERE vectors_model IS NULL OR vectors_model <> $1
         ORDER BY tenant_id LIMIT $2",
    )
    .bind(model)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok(TenantId::from_db(r.try_get("tenant_id")?))).collect()
}

/// Tenants that have a knowledge base (for `frontdesk knowledge reindex`).
pub async fn tenants_with_knowledge(tx: &mut SystemTx) -> StoreResult<Vec<TenantId>> {
    let rows = query("SELECT tenant_id FROM knowledge_state ORDER BY tenant_id").fetch_all(tx.conn()).await?;
    rows.iter().map(|r| Ok(TenantId::from_db(r.try_get("tenant_id")?))).collect()
}
