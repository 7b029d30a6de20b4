//! Workflows. Actions are stored as the service gives them (Slack URLs already sealed).

use super::*;

const COLS: &str = "id, name, trigger, conditions, actions, cooldown_secs, disabled_at, last_fired_at, created_at, \
                    updated_at";

pub(super) fn json_col<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Config(format!("{col} does not parse: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Config(format!("cannot serialise: {e}")))
}

fn workflow_from(r: &AnyRow) -> StoreResult<Workflow> {
    Ok(Workflow {
        id: WorkflowId::from_db(r.try_get("id")?),
        name: r.try_get("name")?,
        trigger: json_col(r, "trigger")?,
        conditions: json_col(r, "conditions")?,
        actions: json_col(r, "actions")?,
        cooldown_secs: r.try_get("cooldown_secs")?,
        disabled_at: r.try_get("disabled_at")?,
        last_fired_at: r.try_get("last_fired_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_workflow(tx: &mut TenantTx, w: &Workflow) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO workflows (tenant_id, id, name, trigger_event, trigger, conditions, actions, cooldown_secs,
                                disabled_at, last_fired_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tid)
    .bind(w.id.as_str())
    .bind(&w.name)
    .bind(&w.trigger.event)
    .bind(to_json(&w.trigger)?)
    .bind(to_json(&w.conditions)?)
    .bind(to_json(&w.actions)?)
    .bind(w.cooldown_secs)
    .bind(w.disabled_at)
    .bind(w.last_fired_at)
    .bind(w.created_at)
    .bind(w.updated_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

/// Saves the editable fields (not `last_fired_at`, which only firing moves).
pub async fn update_workflow(tx: &mut TenantTx, w: &Workflow) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE workflows SET name = $1, trigger_event = $2, trigger = $3, conditions = $4, actions = $5,
                cooldown_secs = $6, disabled_at = $7, updated_at = $8
         WHERE tenant_id = $9 AND id = $10",
    )
    .bind(&w.name)
    .bind(&w.trigger.event)
    .bind(to_json(&w.trigger)?)
    .bind(to_json(&w.conditions)?)
    .bind(to_json(&w.actions)?)
    .bind(w.cooldown_secs)
    .bind(w.disabled_at)
    .bind(w.updated_at)
    .bind(tid)
    .bind(w.id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn workflow(tx: &mut TenantTx, id: &WorkflowId) -> StoreResult<Workflow> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("SELECT {COLS} FROM workflows WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    workflow_from(&row)
}

pub async fn list_workflows(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<Workflow>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {COLS} FROM workflows WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(workflow_from).collect()
}

pub async fn count_workflows(tx: &mut TenantTx) -> StoreResult<i64> {
    let tid = tx.tid().to_owned();
    Ok(frontdesk_store::query_scalar("SELECT COUNT(*) FROM workflows WHERE tenant_id = $1")
        .bind(tid)
        .fetch_one(tx.conn())
        .await?)
}

/// Enabled workflows triggered by events of `kind`.
/// Whether an enabled workflow of the tenant triggers on `kind` (what the event dispatcher asks
/// before queueing a delivery to the workflow engine).
pub async fn any_enabled_for(tx: &mut TenantTx, kind: &str) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let found: Option<i64> = frontdesk_store::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM workflows WHERE tenant_id = $1 AND trigger_event = $2 AND disabled_at IS NULL LIMIT 1",
    )
    .bind(tid)
    .bind(kind)
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

pub async fn enabled_workflows_for(tx: &mut TenantTx, kind: &str) -> StoreResult<Vec<Workflow>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {COLS} FROM workflows WHERE tenant_id = $1 AND trigger_event = $2 AND disabled_at IS NULL ORDER BY id"
    ))
    .bind(tid)
    .bind(kind)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(workflow_from).collect()
}

/// Enabled schedule workflows of every tenant: (tenant, workflow).
pub async fn schedule_workflows(tx: &mut SystemTx) -> StoreResult<Vec<(String, Workflow)>> {
    let rows = frontdesk_store::query(&format!(
        "SELECT tenant_id, {COLS} FROM workflows WHERE trigger_event = 'schedule' AND disabled_at IS NULL
         ORDER BY tenant_id, id"
    ))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("tenant_id")?, workflow_from(r)?))).collect()
}

/// Marks the workflow fired at `now` unless it fired within its cooldown: one statement, so two
/// replicas handling events at once cannot both fire. `false` when it is cooling down.
pub async fn claim_cooldown(tx: &mut TenantTx, id: &WorkflowId, now: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "UPDATE workflows SET last_fired_at = $1
         WHERE tenant_id = $2 AND id = $3 AND disabled_at IS NULL
           AND (last_fired_at IS NULL OR last_fired_at + cooldown_secs * 1000 <= $1)",
    )
    .bind(now)
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Marks a schedule workflow fired at `now` if nobody did since `seen` (its `last_fired_at` as
/// read): the scheduler of only one replica wins a slot.
pub async fn claim_slot(tx: &mut TenantTx, id: &WorkflowId, seen: Option<i64>, now: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "UPDATE workflows SET last_fired_at = $1
         WHERE tenant_id = $2 AND id = $3 AND disabled_at IS NULL AND last_fired_at IS NOT DISTINCT FROM $4",
    )
    .bind(now)
    .bind(tid)
    .bind(id.as_str())
    .bind(seen)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Deletes the workflow and its runs.
pub async fn delete_workflow(tx: &mut TenantTx, id: &WorkflowId) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    // SQLite enforces the cascade only with foreign keys on; delete the runs explicitly for both.
    frontdesk_store::query("DELETE FROM workflow_runs WHERE tenant_id = $1 AND workflow_id = $2")
        .bind(tid.clone())
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    let n = frontdesk_store::query("DELETE FROM workflows WHERE tenant_id = $1 AND id = $2")
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
