use super::queue::{self, Job};
use crate::db::{Backend, Db};
use crate::error::StoreResult;
use frontdesk_kernel::time::now_ms;
use rand::Rng;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

/// How a handler says a run failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth retrying later (provider down, timeout, conflict).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (bad payload, object gone): straight to the dead letters.
    #[error("{0}")]
    Permanent(String),
}

impl From<crate::StoreError> for JobError {
    fn from(e: crate::StoreError) -> Self {
        JobError::Transient(e.to_string())
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs one kind of job. Implemented for async closures `Fn(Job) -> impl Future`.
pub trait JobHandler: Send + Sync + 'static {
    fn run(&self, job: Job) -> JobFuture;
}

impl<F, Fut> JobHandler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn run(&self, job: Job) -> JobFuture {
        Box::pin(self(job))
    }
}

/// Job kinds and their handlers; each capability registers its own at wiring time.
#[derive(Default, Clone)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    recurring: Vec<(String, Duration)>,
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, kind: &str, handler: impl JobHandler) -> &mut Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// A system job that runs every `every` (maintenance): after each run the next one is
    /// queued. [`JobRegistry::schedule_recurring`] starts the chain.
    pub fn register_recurring(&mut self, kind: &str, every: Duration, handler: impl JobHandler) -> &mut Self {
        let handler: Arc<dyn JobHandler> = Arc::new(handler);
        self.recurring.push((kind.to_owned(), every));
        let kind_owned = kind.to_owned();
        self.register(kind, move |job: Job| {
            let handler = handler.clone();
            let kind = kind_owned.clone();
            async move {
                let outcome = handler.run(job.clone()).await;
                // Whatever the outcome, the next run is due (a failing run retries on its own).
                if let Some(db) = job.db.as_ref() {
                    let mut tx = db.system().await?;
                    super::queue::enqueue(&mut tx, recurring_job(&kind, every)?).await?;
                    tx.commit().await?;
                }
                outcome
            }
        })
    }

    /// Queues the next run of every recurring job (idempotent; call at start-up).
    pub async fn schedule_recurring(&self, db: &Db) -> StoreResult<()> {
        let mut tx = db.system().await?;
        for (kind, every) in &self.recurring {
            super::queue::enqueue(&mut tx, recurring_job(kind, *every)?).await?;
        }
        tx.commit().await
    }
}

/// The next run of a recurring job, de-duplicated by its time slot: replicas that schedule the
/// same job at the same time create it once.
fn recurring_job(kind: &str, every: Duration) -> StoreResult<super::NewJob> {
    let every_ms = (every.as_millis() as i64).max(1);
    let slot = now_ms() / every_ms + 1;
    Ok(super::NewJob::new(kind, &serde_json::json!({}))?
        .at(slot * every_ms)
        .dedupe(format!("recurring:{kind}:{slot}"))
        .max_attempts(3))
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at the same time by this process.
    pub concurrency: usize,
    /// How long a claim lasts before another worker may take the job over.
    pub lease: Duration,
    /// Longest sleep when idle (scheduled jobs and expired leases are found by polling).
    pub poll_interval: Duration,
    /// First retry delay; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

impl WorkerConfig {
    /// Delay before retry number `attempt` (1-based): exponential with ±20 % jitter so that a
    /// burst of failures does not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_backoff.as_millis() as f64 * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let capped = exp.min(self.max_backoff.as_millis() as f64);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        Duration::from_millis((capped * jitter) as u64)
    }
}

/// Claims and runs jobs until shut down.
pub struct Worker {
    db: Db,
    registry: Arc<JobRegistry>,
    config: WorkerConfig,
    id: String,
}

impl Worker {
    pub fn new(db: Db, registry: JobRegistry, config: WorkerConfig) -> Self {
        let id = format!("wrk_{}_{}", std::process::id(), frontdesk_kernel::id::new_body());
        Self { db, registry: Arc::new(registry), config, id }
    }

    /// Runs until `shutdown` turns true, then waits for the jobs in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        if self.db.backend() == Backend::Postgres {
            spawn_pg_listener(self.db.clone(), shutdown.clone());
        }
        tracing::info!(worker = %self.id, concurrency = self.config.concurrency, "job worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = permits.available_permits();
            let claimed = if free == 0 { Ok(Vec::new()) } else { self.claim(free as u32).await };
            let n = match claimed {
                Ok(jobs) => {
                    let n = jobs.len();
                    for job in jobs {
                        let Ok(permit) = permits.clone().acquire_owned().await else { break };
                        let this = self.runner();
                        tokio::spawn(async move {
                            this.execute(job).await;
                            drop(permit);
                        });
                    }
                    n
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying");
                    0
                }
            };
            if n > 0 && permits.available_permits() > 0 {
                continue; // there may be more due work
            }
            tokio::select! {
                _ = self.db.jobs_wakeup().notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = permits.clone().acquire_owned(), if permits.available_permits() == 0 => {}
                _ = shutdown.changed() => {}
            }
        }
        // Drain: wait until every permit is back.
        let _ = permits.acquire_many(self.config.concurrency as u32).await;
        tracing::info!(worker = %self.id, "job worker stopped");
    }

    async fn claim(&self, limit: u32) -> StoreResult<Vec<Job>> {
        let mut tx = self.db.system().await?;
        let mut jobs = queue::claim(&mut tx, &self.id, self.config.lease.as_millis() as i64, limit).await?;
        tx.commit().await?;
        for job in &mut jobs {
            job.db = Some(self.db.clone());
        }
        Ok(jobs)
    }

    fn runner(&self) -> Runner {
        Runner {
            db: self.db.clone(),
            registry: self.registry.clone(),
            config: self.config.clone(),
            id: self.id.clone(),
        }
    }
}

#[derive(Clone)]
struct Runner {
    db: Db,
    registry: Arc<JobRegistry>,
    config: WorkerConfig,
    id: String,
}

impl Runner {
    async fn execute(&self, job: Job) {
        let tenant = job.tenant_id.as_ref().map(|t| t.to_string()).unwrap_or_default();
        let span =
            tracing::info_span!("job", job_id = %job.id, kind = %job.kind, tenant_id = %tenant, attempt = job.attempt);
        async {
            let started = std::time::Instant::now();
            let outcome = if job.attempt > job.max_attempts {
                Err(JobError::Permanent("lease expired on every attempt (worker crashed or job too slow)".into()))
            } else {
                match self.registry.handlers.get(&job.kind) {
                    None => Err(JobError::Permanent(format!("no handler for job kind {}", job.kind))),
                    Some(handler) => {
                        // Stop before the lease ends so that no second worker runs the job concurrently.
                        let limit = self.config.lease.mul_f64(0.9);
                        match tokio::time::timeout(limit, handler.run(job.clone())).await {
                            Ok(result) => result,
                            Err(_) => Err(JobError::Transient(format!("timed out after {limit:?}"))),
                        }
                    }
                }
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let result = match &outcome {
                Ok(()) => {
                    tracing::debug!(elapsed_ms, "job done");
                    self.finish(&job, None).await
                }
                Err(e) => {
                    let retry_at = match e {
                        JobError::Transient(_) if job.attempt < job.max_attempts => {
                            Some(now_ms() + self.config.backoff(job.attempt).as_millis() as i64)
                        }
                        _ => None,
                    };
                    if retry_at.is_some() {
                        tracing::warn!(error = %e, elapsed_ms, "job failed; will retry");
                    } else {
                        tracing::error!(error = %e, elapsed_ms, "job failed for good: dead letter");
                    }
                    self.finish(&job, Some((e.to_string(), retry_at))).await
                }
            };
            if let Err(e) = result {
                // The lease will expire and the job run again: handlers are written to be idempotent.
                tracing::error!(error = %e, "could not record the job outcome");
            }
        }
        .instrument(span)
        .await
    }

    async fn finish(&self, job: &Job, failure: Option<(String, Option<i64>)>) -> StoreResult<()> {
        let mut tx = self.db.system().await?;
        match failure {
            None => queue::complete(&mut tx, &job.id, &self.id).await?,
            Some((error, retry_at)) => queue::fail(&mut tx, &job.id, &self.id, &error, retry_at).await?,
        }
        tx.commit().await
    }
}

/// PostgreSQL: wake this replica's worker when any replica enqueues.
fn spawn_pg_listener(db: Db, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = listen_for_jobs(&db) => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "job notification listener stopped; polling until it reconnects");
                    }
                }
                _ = shutdown.changed() => return,
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

async fn listen_for_jobs(db: &Db) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(&db.config().url).await?;
    listener.listen("frontdesk_jobs").await?;
    loop {
        listener.recv().await?;
        db.jobs_wakeup().notify_one();
    }
}
