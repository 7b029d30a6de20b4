//! Workflow runs: the record of each step, and the cursor that lets a retry resume.

use super::workflows::{json_col, to_json};
use super::*;

const COLS: &str = "id, workflow_id, event_id, event_kind, event_data, source, actions, state, steps, step_cursor, \
                    step_attempts, error, started_at, finished_at";

/// A run with what its job needs: the actions as stored, and where it stands.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub run: WorkflowRun,
    /// Snapshot of the workflow's actions when it fired (Slack URLs sealed).
    pub actions: Vec<Action>,
    /// Index of the next step to perform.
    pub step_cursor: i64,
    /// Failed attempts so far at that step.
    pub step_attempts: i64,
}

fn run_from(r: &AnyRow) -> StoreResult<RunRecord> {
    let state: String = r.try_get("state")?;
    let source: String = r.try_get("source")?;
    Ok(RunRecord {
        run: WorkflowRun {
            id: WorkflowRunId::from_db(r.try_get("id")?),
            workflow_id: WorkflowId::from_db(r.try_get("workflow_id")?),
            event_id: r.try_get("event_id")?,
            event_kind: r.try_get("event_kind")?,
            event_data: json_col(r, "event_data")?,
            source: RunSource::parse(&source)
                .ok_or_else(|| StoreError::Config(format!("unknown run source {source} in the database")))?,
            state: RunState::parse(&state)
                .ok_or_else(|| StoreError::Config(format!("unknown run state {state} in the database")))?,
            steps: json_col(r, "steps")?,
            error: r.try_get("error")?,
            started_at: r.try_get("started_at")?,
            finished_at: r.try_get("finished_at")?,
        },
        actions: json_col(r, "actions")?,
        step_cursor: r.try_get("step_cursor")?,
        step_attempts: r.try_get("step_attempts")?,
    })
}

/// Inserts a new run; `false` when this workflow already has a run for the event (a repeated
/// delivery of the same event).
pub async fn insert_run(tx: &mut TenantTx, rec: &RunRecord) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let r = &rec.run;
    let n = frontdesk_store::query(
        "INSERT INTO workflow_runs (tenant_id, id, workflow_id, event_id, event_kind, event_data, source, actions,
                                    state, steps, step_cursor, step_attempts, error, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (tenant_id, workflow_id, event_id) DO NOTHING",
    )
    .bind(tid)
    .bind(r.id.as_str())
    .bind(r.workflow_id.as_str())
    .bind(&r.event_id)
    .bind(&r.event_kind)
    .bind(r.event_data.to_string())
    .bind(r.source.as_str())
    .bind(to_json(&rec.actions)?)
    .bind(r.state.as_str())
    .bind(to_json(&r.steps)?)
    .bind(rec.step_cursor)
    .bind(rec.step_attempts)
    .bind(&r.error)
    .bind(r.started_at)
    .bind(r.finished_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    Ok(n > 0)
}

pub async fn run(tx: &mut TenantTx, id: &WorkflowRunId) -> StoreResult<RunRecord> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("SELECT {COLS} FROM workflow_runs WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    run_from(&row)
}

/// A workflow's runs, newest first.
pub async fn list_runs(
    tx: &mut TenantTx,
    workflow: &WorkflowId,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<WorkflowRun>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {COLS} FROM workflow_runs WHERE tenant_id = $1 AND workflow_id = $2 AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(tid)
    .bind(workflow.as_str())
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| run_from(r).map(|r| r.run)).collect()
}

/// Saves a run's progress if it is still where `expected` left it (running, same step, same
/// attempts): `false` when another runner recorded first, and the caller must roll back.
pub async fn advance_run(tx: &mut TenantTx, expected: &RunRecord, next: &RunRecord) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let r = &next.run;
    let error: Option<String> = r.error.as_ref().map(|e| e.chars().take(2000).collect());
    let n = frontdesk_store::query(
        "UPDATE workflow_runs SET state = $1, steps = $2, step_cursor = $3, step_attempts = $4, error = $5,
                finished_at = $6
         WHERE tenant_id = $7 AND id = $8 AND state = 'running' AND step_cursor = $9 AND step_attempts = $10",
    )
    .bind(r.state.as_str())
    .bind(to_json(&r.steps)?)
    .bind(next.step_cursor)
    .bind(next.step_attempts)
    .bind(error)
    .bind(r.finished_at)
    .bind(tid)
    .bind(r.id.as_str())
    .bind(expected.step_cursor)
    .bind(expected.step_attempts)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n > 0)
}
