//! The durable job queue, in the application database.
//!
//! - Enqueue inside the caller's transaction ([`enqueue`]): the job exists exactly when the change
//!   that asked for it commits (the transactional outbox pattern).
//! - Workers ([`Worker`]) claim jobs with one atomic `UPDATE … RETURNING`; on PostgreSQL the inner
//!   select uses `FOR UPDATE SKIP LOCKED`, so any number of processes share the queue.
//! - A claim is a lease: if a worker dies, the lease expires and another worker takes the job.
//! - Failures retry with exponential backoff and jitter; after `max_attempts` (or a permanent
//!   failure) the job becomes a dead letter that operators can inspect and retry.
//! - Jobs with the same `ordering_key` run one at a time, oldest first (e.g. one conversation).
//! - The code that enqueues a job may run it in place at once ([`enqueue_claimed`]), still leased
//!   like a worker's claim so that a crash hands it to the workers.
//! - `run_at` schedules a job for later; `dedupe_key` makes an enqueue idempotent.

mod queue;
mod worker;

pub use queue::{
    complete_claimed, counts, enqueue, enqueue_claimed, list, recover_orphans, release_claimed, retry, InlineClaim,
    Job, JobCounts, JobId, JobRecord, JobState, NewJob,
};
pub use worker::{JobError, JobHandler, JobRegistry, Worker, WorkerConfig};
