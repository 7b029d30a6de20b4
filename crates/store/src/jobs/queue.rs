use crate::db::Backend;
use crate::error::{StoreError, StoreResult};
use crate::tx::{SystemTx, Tx};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::TenantId;
use serde::Serialize;
use sqlx::Row;

frontdesk_kernel::define_id!(
    /// A background job.
    JobId,
    "job"
);

/// A job to enqueue. Build with [`NewJob::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: Option<i64>,
    pub max_attempts: u32,
    pub ordering_key: Option<String>,
    pub dedupe_key: Option<String>,
    pub priority: i64,
}

impl NewJob {
    pub fn new(kind: &str, payload: &impl Serialize) -> StoreResult<Self> {
        let payload = serde_json::to_value(payload)
            .map_err(|e| StoreError::Config(format!("job payload of {kind} does not serialise: {e}")))?;
        Ok(Self {
            kind: kind.to_owned(),
            payload,
            run_at: None,
            max_attempts: 10,
            ordering_key: None,
            dedupe_key: None,
            priority: 0,
        })
    }

    /// Run no earlier than this instant (UTC ms).
    pub fn at(mut self, run_at_ms: i64) -> Self {
        self.run_at = Some(run_at_ms);
        self
    }

    /// Jobs sharing the key run one at a time, in enqueue order.
    pub fn ordered_by(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    /// A second enqueue with the same key is a no-op while the first job exists.
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Higher runs first among due jobs.
    pub fn priority(mut self, p: i64) -> Self {
        self.priority = p;
        self
    }
}

/// The job's row, as a literal so the statements below are built at compile time.
macro_rules! insert_job {
    () => {
        "INSERT INTO jobs (id, tenant_id, kind, payload, state, ordering_key, dedupe_key, priority,
                           attempts, max_attempts, run_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, 0, $8, $9, $10, $10)
         ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING"
    };
}
const ENQUEUE_SQLITE: &str = concat!(insert_job!(), " RETURNING id");
// PostgreSQL: the notification (delivered at commit, to the workers of every replica) rides in
// the same statement, and only when a row was inserted.
const ENQUEUE_POSTGRES: &str = concat!(
    "WITH ins AS (",
    insert_job!(),
    " RETURNING id) SELECT id FROM ins CROSS JOIN LATERAL (SELECT pg_notify('frontdesk_jobs', '')) AS notified"
);

/// Enqueues inside the caller's transaction; the tenant is the transaction's. Returns `None`
/// when `dedupe_key` matched an existing job.
pub async fn enqueue(tx: &mut impl Tx, job: NewJob) -> StoreResult<Option<JobId>> {
    let id = JobId::new();
    let now = now_ms();
    let tenant = tx.tenant_id().map(|t| t.as_str().to_owned());
    let sql = match tx.backend() {
        Backend::Postgres => ENQUEUE_POSTGRES,
        Backend::Sqlite => ENQUEUE_SQLITE,
    };
    let inserted: Option<String> = sqlx::query_scalar(sql)
        .bind(id.as_str())
        .bind(tenant)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(&job.ordering_key)
        .bind(&job.dedupe_key)
        .bind(job.priority)
        .bind(job.max_attempts as i64)
        .bind(job.run_at.unwrap_or(now))
        .bind(now)
        .fetch_optional(tx.conn())
        .await?;
    if inserted.is_none() {
        return Ok(None);
    }
    tx.wake_jobs_on_commit();
    Ok(Some(id))
}

/// A job claimed by the code that enqueued it ([`enqueue_claimed`]), to be run in place.
#[derive(Debug, Clone)]
pub struct InlineClaim {
    pub id: JobId,
    /// The claim's holder (as `locked_by`); unique per claim.
    holder: String,
    ordering_key: Option<String>,
}

/// Enqueues `job` and, when no older job holds its ordering key, claims it for the caller in
/// the same transaction, with a lease of `lease_ms`: the caller runs it at once (no worker
/// round trip) and then calls [`complete_claimed`] — ideally in the transaction that stores the
/// job's result — or [`release_claimed`] to hand it to the workers. If the caller dies, the lease
/// expires and a worker runs the job, so it is never lost. `None` (with the job queued) when an
/// older job of the same key must run first, or when the dedupe key already existed.
pub async fn enqueue_claimed(tx: &mut impl Tx, job: NewJob, lease_ms: i64) -> StoreResult<Option<InlineClaim>> {
    // One statement (this is on every chat turn's path): the job is stored claimed unless an
    // older job of its ordering key is queued or running, in which case it is stored queued.
    let id = JobId::new();
    let holder = format!("inline_{}_{}", std::process::id(), frontdesk_kernel::id::new_body());
    let now = now_ms();
    let tenant = tx.tenant_id().map(|t| t.as_str().to_owned());
    let state: Option<String> = sqlx::query_scalar(
        "INSERT INTO jobs (id, tenant_id, kind, payload, state, ordering_key, dedupe_key, priority,
                           attempts, max_attempts, run_at, lease_until, locked_by, created_at, updated_at)
         SELECT $1, $2, $3, $4, CASE WHEN b.busy THEN 'queued' ELSE 'running' END, $5, $6, $7,
                CASE WHEN b.busy THEN 0 ELSE 1 END, $8, $9,
                CASE WHEN b.busy THEN NULL ELSE $10 END, CASE WHEN b.busy THEN NULL ELSE $11 END, $9, $9
         FROM (SELECT EXISTS (SELECT 1 FROM jobs WHERE ordering_key = $5 AND state IN ('queued', 'running')) AS busy) b
         WHERE true
         ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
         RETURNING state",
    )
    .bind(id.as_str())
    .bind(tenant)
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(&job.ordering_key)
    .bind(&job.dedupe_key)
    .bind(job.priority)
    .bind(job.max_attempts as i64)
    .bind(now)
    .bind(now + lease_ms)
    .bind(&holder)
    .fetch_optional(tx.conn())
    .await?;
    match state.as_deref() {
        None => Ok(None), // the dedupe key existed
        Some("running") => Ok(Some(InlineClaim { id, holder, ordering_key: job.ordering_key })),
        Some(_) => {
            // Queued behind an older job: the workers run it once that one is done.
            if tx.backend() == Backend::Postgres {
                sqlx::query("SELECT pg_notify('frontdesk_jobs', '')").execute(tx.conn()).await?;
            }
            tx.wake_jobs_on_commit();
            Ok(None)
        }
    }
}

/// Finishes an inline claim: the job is done. When a job waits behind this one's ordering key,
/// the workers are woken at commit to run it.
pub async fn complete_claimed(tx: &mut impl Tx, claim: &InlineClaim) -> StoreResult<()> {
    // One statement: the deletion also says whether a job waits behind this one.
    let waiting: Option<i64> = sqlx::query_scalar(
        "DELETE FROM jobs WHERE id = $1 AND locked_by = $2
         RETURNING CAST(CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE ordering_key = $3 AND state = 'queued')
                        THEN 1 ELSE 0 END AS BIGINT)",
    )
    .bind(claim.id.as_str())
    .bind(&claim.holder)
    .bind(&claim.ordering_key)
    .fetch_optional(tx.conn())
    .await?;
    if waiting.is_some_and(|w| w > 0) {
        tx.wake_jobs_on_commit();
    }
    Ok(())
}

/// Gives an inline claim back to the workers, to be retried at `retry_at` (or at once).
pub async fn release_claimed(
    tx: &mut impl Tx,
    claim: &InlineClaim,
    error: &str,
    retry_at: Option<i64>,
) -> StoreResult<()> {
    let error: String = error.chars().take(2000).collect();
    sqlx::query(
        "UPDATE jobs SET state = 'queued', run_at = $1, lease_until = NULL, locked_by = NULL, last_error = $2,
            updated_at = $3
         WHERE id = $4 AND locked_by = $5",
    )
    .bind(retry_at.unwrap_or_else(now_ms))
    .bind(error)
    .bind(now_ms())
    .bind(claim.id.as_str())
    .bind(&claim.holder)
    .execute(tx.conn())
    .await?;
    tx.wake_jobs_on_commit();
    Ok(())
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("id", &self.id).field("kind", &self.kind).field("attempt", &self.attempt).finish()
    }
}

/// A claimed job, handed to its handler.
#[derive(Clone)]
pub struct Job {
    pub id: JobId,
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The database, for handlers that need no more than it (set by the worker).
    pub db: Option<crate::Db>,
}

impl Job {
    /// The payload as the handler's own type.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, super::JobError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| super::JobError::Permanent(format!("payload of {} does not parse: {e}", self.kind)))
    }

    /// The tenant of a tenant job; a permanent failure for a system job.
    pub fn tenant(&self) -> Result<&TenantId, super::JobError> {
        self.tenant_id.as_ref().ok_or_else(|| super::JobError::Permanent(format!("{} needs a tenant", self.kind)))
    }
}

pub(super) async fn claim(tx: &mut SystemTx, worker: &str, lease_ms: i64, limit: u32) -> StoreResult<Vec<Job>> {
    let now = now_ms();
    // The ordering rule: a job waits while an older job with its key is queued or running.
    let lock = if tx.backend() == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, locked_by = $2, updated_at = $3
         WHERE id IN (
            SELECT id FROM jobs j
            WHERE ((j.state = 'queued' AND j.run_at <= $3) OR (j.state = 'running' AND j.lease_until < $3))
              AND (j.ordering_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM jobs o WHERE o.ordering_key = j.ordering_key AND o.id < j.id
                      AND o.state IN ('queued', 'running')))
            ORDER BY j.priority DESC, j.run_at
            LIMIT $4 {lock})
         RETURNING id, tenant_id, kind, payload, attempts, max_attempts"
    );
    let rows =
        sqlx::query(&sql).bind(now + lease_ms).bind(worker).bind(now).bind(limit as i64).fetch_all(tx.conn()).await?;
    rows.into_iter()
        .map(|r| {
            let payload: String = r.try_get("payload")?;
            Ok(Job {
                id: JobId::from_db(r.try_get("id")?),
                tenant_id: r.try_get::<Option<String>, _>("tenant_id")?.map(TenantId::from_db),
                kind: r.try_get("kind")?,
                payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                attempt: r.try_get::<i64, _>("attempts")? as u32,
                max_attempts: r.try_get::<i64, _>("max_attempts")? as u32,
                db: None,
            })
        })
        .collect()
}

/// Finishes a worker's job. Wakes the workers at commit, like [`complete_claimed`]: a job waiting
/// behind this one's ordering key (the next turn of a conversation) may run now, not at the next poll.
pub(super) async fn complete(tx: &mut SystemTx, id: &JobId, worker: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1 AND locked_by = $2")
        .bind(id.as_str())
        .bind(worker)
        .execute(tx.conn())
        .await?;
    tx.wake_jobs_on_commit();
    Ok(())
}

/// Schedules a retry at `retry_at`, or makes the job a dead letter when `retry_at` is `None`.
pub(super) async fn fail(
    tx: &mut SystemTx,
    id: &JobId,
    worker: &str,
    error: &str,
    retry_at: Option<i64>,
) -> StoreResult<()> {
    let error: String = error.chars().take(2000).collect();
    let (state, run_at) = match retry_at {
        Some(at) => ("queued", at),
        None => ("dead", now_ms()),
    };
    sqlx::query(
        "UPDATE jobs SET state = $1, run_at = $2, lease_until = NULL, locked_by = NULL, last_error = $3, updated_at = $4
         WHERE id = $5 AND locked_by = $6",
    )
    .bind(state)
    .bind(run_at)
    .bind(error)
    .bind(now_ms())
    .bind(id.as_str())
    .bind(worker)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// On a single-process SQLite deployment every `running` job at start-up is an orphan of a
/// crashed process: release it now instead of waiting for its lease.
pub async fn recover_orphans(tx: &mut SystemTx) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE jobs SET state = 'queued', lease_until = NULL, locked_by = NULL, updated_at = $1 WHERE state = 'running'",
    )
    .bind(now_ms())
    .execute(tx.conn())
    .await?
    .rows_affected())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }
}

/// A job as operators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[serde(with = "frontdesk_kernel::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub run_at: i64,
    pub last_error: Option<String>,
    #[serde(with = "frontdesk_kernel::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// Jobs in a state, newest first; a tenant transaction sees only its tenant's jobs.
pub async fn list(tx: &mut impl Tx, state: JobState, after: Option<&str>, limit: u32) -> StoreResult<Vec<JobRecord>> {
    // Only the filters that are set, so a tenant's jobs come from `jobs_tenant`.
    let mut c = match tx.tenant_id() {
        Some(tenant) => crate::Conditions::tenant("tenant_id", tenant.as_str()),
        None => crate::Conditions::default(),
    };
    c.and("state = ?", [state.as_str().into()]).and_if("id < ?", after);
    let sql = format!(
        "SELECT id, tenant_id, kind, state, attempts, max_attempts, run_at, last_error, created_at FROM jobs
         WHERE {} ORDER BY id DESC LIMIT {}",
        c.sql(),
        c.next_param()
    );
    let rows = c.bind(sqlx::query(&sql)).bind(limit as i64).fetch_all(tx.conn()).await?;
    rows.into_iter()
        .map(|r| {
            Ok(JobRecord {
                id: JobId::from_db(r.try_get("id")?),
                tenant_id: r.try_get::<Option<String>, _>("tenant_id")?.map(TenantId::from_db),
                kind: r.try_get("kind")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
                run_at: r.try_get("run_at")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Puts a dead letter back in the queue with a fresh set of attempts.
pub async fn retry(tx: &mut impl Tx, id: &str) -> StoreResult<()> {
    let tenant = tx.tenant_id().map(|t| t.as_str().to_owned());
    let n = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, updated_at = $1
         WHERE id = $2 AND state = 'dead' AND ($3 IS NULL OR tenant_id = $3)",
    )
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.wake_jobs_on_commit();
    Ok(())
}

/// Queue depth by state, for health and metrics.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct JobCounts {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
    /// Age in seconds of the oldest due, unclaimed job (0 when none).
    pub oldest_due_secs: i64,
}

pub async fn counts(tx: &mut SystemTx) -> StoreResult<JobCounts> {
    let now = now_ms();
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetch_all(tx.conn()).await?;
    let mut c = JobCounts::default();
    for r in rows {
        let n: i64 = r.try_get("n")?;
        match r.try_get::<String, _>("state")?.as_str() {
            "queued" => c.queued = n,
            "running" => c.running = n,
            "dead" => c.dead = n,
            _ => {}
        }
    }
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND run_at <= $1")
            .bind(now)
            .fetch_one(tx.conn())
            .await?;
    c.oldest_due_secs = oldest.map(|t| (now - t) / 1000).unwrap_or(0);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, DbConfig};
    use std::time::Duration;

    async fn sqlite() -> (Db, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("fd-queue-{}.db", frontdesk_kernel::id::new_body()));
        let config = DbConfig::new(format!("sqlite://{}?mode=rwc", path.display()));
        crate::migrate::run(&config, crate::MIGRATIONS).await.expect("migrate");
        (Db::connect(&config).await.expect("connect"), path)
    }

    /// Whether the workers were woken since the last call (the wake-up is a stored permit).
    async fn woken(db: &Db) -> bool {
        tokio::time::timeout(Duration::from_millis(200), db.jobs_wakeup().notified()).await.is_ok()
    }

    fn turn(key: &str) -> NewJob {
        NewJob::new("test.turn", &serde_json::json!({})).expect("job").ordered_by(key)
    }

    async fn states(db: &Db, state: JobState) -> Vec<JobRecord> {
        let mut tx = db.system_read().await.expect("tx");
        list(&mut tx, state, None, 100).await.expect("list")
    }

    #[tokio::test]
    async fn inline_claims_wake_the_workers_only_for_a_job_waiting_behind_them() {
        let (db, path) = sqlite().await;
        let tenant = TenantId::new();

        // Claimed in place: stored running (attempt 1); no worker has anything to do.
        let mut tx = db.tenant(&tenant).await.expect("tx");
        let first = enqueue_claimed(&mut tx, turn("conv:a"), 60_000).await.expect("enqueue").expect("claimed");
        tx.commit().await.expect("commit");
        assert!(!woken(&db).await);
        let running = states(&db, JobState::Running).await;
        assert_eq!(running.iter().map(|j| (&j.id, j.attempts)).collect::<Vec<_>>(), [(&first.id, 1)]);

        // The next job of the key waits behind it, queued for the workers.
        let mut tx = db.tenant(&tenant).await.expect("tx");
        assert!(enqueue_claimed(&mut tx, turn("conv:a"), 60_000).await.expect("enqueue").is_none());
        tx.commit().await.expect("commit");
        assert_eq!(states(&db, JobState::Queued).await.len(), 1);
        let _ = woken(&db).await;

        // Finishing the first wakes the workers for it.
        let mut tx = db.tenant(&tenant).await.expect("tx");
        complete_claimed(&mut tx, &first).await.expect("complete");
        tx.commit().await.expect("commit");
        assert!(woken(&db).await);
        assert!(states(&db, JobState::Running).await.is_empty());

        // A claim with nothing behind it finishes without waking anyone.
        let mut tx = db.tenant(&tenant).await.expect("tx");
        let other = enqueue_claimed(&mut tx, turn("conv:b"), 60_000).await.expect("enqueue").expect("claimed");
        complete_claimed(&mut tx, &other).await.expect("complete");
        tx.commit().await.expect("commit");
        assert!(!woken(&db).await);

        // A dedupe key already taken claims nothing.
        let mut tx = db.tenant(&tenant).await.expect("tx");
        assert!(enqueue_claimed(&mut tx, turn("conv:c").dedupe("once"), 60_000).await.expect("enqueue").is_some());
        assert!(enqueue_claimed(&mut tx, turn("conv:d").dedupe("once"), 60_000).await.expect("enqueue").is_none());
        tx.commit().await.expect("commit");
        assert_eq!(states(&db, JobState::Running).await.len(), 1);

        db.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
