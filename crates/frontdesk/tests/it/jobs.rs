//! The durable job queue on both engines: transactional enqueue, retries with backoff, dead
//! letters, leases that expire, per-key ordering, de-duplication and scheduling.

use crate::both;
use crate::harness::TestApp;
use frontdesk_store::jobs::{self, Job, JobError, JobRegistry, JobState, NewJob, Worker, WorkerConfig};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

fn fast() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        lease: Duration::from_millis(1500),
        poll_interval: Duration::from_millis(20),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

async fn until(mut check: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn count(app: &TestApp, state: JobState) -> usize {
    let mut tx = app.db.system_read().await.expect("tx");
    jobs::list(&mut tx, state, None, 1000).await.expect("list").len()
}

async fn queue_semantics(app: &TestApp) {
    let tenant = frontdesk_kernel::TenantId::parse(&app.tenant_direct("Queue Studio").await).expect("id");
    let runs = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let mut registry = JobRegistry::new();
    let log = runs.clone();
    registry.register("test.record", move |job: Job| {
        let log = log.clone();
        async move {
            let key: String = job.payload["n"].to_string();
            log.lock().expect("lock").push((key, job.attempt));
            Ok(())
        }
    });
    registry.register("test.flaky", move |job: Job| async move {
        if job.attempt < 3 {
            Err(JobError::Transient(format!("attempt {} fails", job.attempt)))
        } else {
            Ok(())
        }
    });
    registry.register("test.broken", |_job: Job| async move { Err(JobError::Transient("always down".into())) });
    registry.register("test.bad_payload", |job: Job| async move { job.payload::<Vec<u8>>().map(|_| ()) });

    // A rolled-back transaction enqueues nothing.
    {
        let mut tx = app.db.tenant(&tenant).await.expect("tx");
        jobs::enqueue(&mut tx, NewJob::new("test.record", &json!({"n": 0})).expect("job")).await.expect("enqueue");
        drop(tx);
    }
    assert_eq!(count(app, JobState::Queued).await, 0, "rollback drops the job");

    let mut tx = app.db.tenant(&tenant).await.expect("tx");
    for n in 1..=5 {
        jobs::enqueue(&mut tx, NewJob::new("test.record", &json!({"n": n})).expect("job").ordered_by("conv-1"))
            .await
            .expect("enqueue");
    }
    jobs::enqueue(&mut tx, NewJob::new("test.flaky", &json!({})).expect("job").max_attempts(5)).await.expect("enqueue");
    jobs::enqueue(&mut tx, NewJob::new("test.broken", &json!({})).expect("job").max_attempts(3))
        .await
        .expect("enqueue");
    jobs::enqueue(&mut tx, NewJob::new("test.bad_payload", &json!({"not": "bytes"})).expect("job"))
        .await
        .expect("enqueue");
    let later = frontdesk_kernel::time::now_ms() + 600;
    jobs::enqueue(&mut tx, NewJob::new("test.record", &json!({"n": 99})).expect("job").at(later))
        .await
        .expect("enqueue");
    let first = jobs::enqueue(&mut tx, NewJob::new("test.record", &json!({"n": 50})).expect("job").dedupe("once"))
        .await
        .expect("enqueue");
    let second = jobs::enqueue(&mut tx, NewJob::new("test.record", &json!({"n": 51})).expect("job").dedupe("once"))
        .await
        .expect("enqueue");
    assert!(first.is_some() && second.is_none(), "a dedupe key enqueues once");
    tx.commit().await.expect("commit");

    let (stop, rx) = watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.db.clone(), registry, fast()).run(rx));
    let settled = async || count(app, JobState::Dead).await == 2 && count(app, JobState::Queued).await == 0;
    if tokio::time::timeout(Duration::from_secs(8), async {
        while !settled().await {
            tokio::time::sleep(Duration::from_millis(20)).await
        }
    })
    .await
    .is_err()
    {
        let mut tx = app.db.system_read().await.expect("tx");
        let mut all = Vec::new();
        for s in [JobState::Queued, JobState::Running, JobState::Dead] {
            all.extend(jobs::list(&mut tx, s, None, 100).await.expect("list"));
        }
        panic!("jobs did not settle: {all:#?}\nruns: {:?}", runs.lock().expect("lock"));
    }
    until(async || runs.lock().expect("lock").iter().any(|(k, _)| k == "99"), "the scheduled job").await;
    let _ = stop.send(true);
    let _ = worker.await;

    let runs = runs.lock().expect("lock").clone();
    let ordered: Vec<String> =
        runs.iter().filter(|(k, _)| ["1", "2", "3", "4", "5"].contains(&k.as_str())).map(|(k, _)| k.clone()).collect();
    assert_eq!(ordered, ["1", "2", "3", "4", "5"], "jobs with one ordering key run in order");
    assert!(runs.iter().any(|(k, _)| k == "50") && !runs.iter().any(|(k, _)| k == "51"));
    let mut tx = app.db.system_read().await.expect("tx");
    let dead = jobs::list(&mut tx, JobState::Dead, None, 10).await.expect("list");
    drop(tx);
    let broken = dead.iter().find(|j| j.kind == "test.broken").expect("broken is dead");
    assert_eq!(broken.attempts, 3);
    assert_eq!(broken.last_error.as_deref(), Some("always down"));
    let bad = dead.iter().find(|j| j.kind == "test.bad_payload").expect("bad payload is dead");
    assert_eq!(bad.attempts, 1, "a permanent failure is not retried");
    // The flaky job succeeded on its third attempt and is gone.
    assert_eq!(count(app, JobState::Running).await, 0);

    // A dead letter can be retried, by its tenant.
    let mut tx = app.db.tenant(&tenant).await.expect("tx");
    jobs::retry(&mut tx, broken.id.as_str()).await.expect("retry");
    tx.commit().await.expect("commit");
    assert_eq!(count(app, JobState::Queued).await, 1);
}
// The app's own workers are off: these tests run workers with their own job kinds.
both!(queue, queue_semantics, |c: &mut frontdesk::config::Config| c.workers = false);

async fn lease_expiry(app: &TestApp) {
    // A worker claims a job and dies (its lease is never renewed); another worker runs it later.
    let mut tx = app.db.system().await.expect("tx");
    jobs::enqueue(&mut tx, NewJob::new("test.once", &json!({})).expect("job")).await.expect("enqueue");
    tx.commit().await.expect("commit");
    let mut stuck = JobRegistry::new();
    stuck.register("test.once", |_job: Job| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    });
    let (stop1, rx1) = watch::channel(false);
    let crashed = tokio::spawn(
        Worker::new(app.db.clone(), stuck, WorkerConfig { lease: Duration::from_millis(400), ..fast() }).run(rx1),
    );
    until(async || count(app, JobState::Running).await == 1, "the claim").await;
    crashed.abort(); // the process dies mid-job
    let _ = stop1;
    let done = Arc::new(Mutex::new(0u32));
    let mut registry = JobRegistry::new();
    let d = done.clone();
    registry.register("test.once", move |job: Job| {
        let d = d.clone();
        async move {
            *d.lock().expect("lock") = job.attempt;
            Ok(())
        }
    });
    let (stop2, rx2) = watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.db.clone(), registry, fast()).run(rx2));
    until(async || *done.lock().expect("lock") > 0, "the job to be taken over after its lease").await;
    let _ = stop2.send(true);
    let _ = worker.await;
    assert_eq!(*done.lock().expect("lock"), 2, "the second run is attempt 2");
    assert_eq!(count(app, JobState::Running).await + count(app, JobState::Queued).await, 0);
}
both!(lease, lease_expiry, |c: &mut frontdesk::config::Config| c.workers = false);

async fn recurring_jobs(app: &TestApp) {
    let runs = Arc::new(Mutex::new(0u32));
    let mut registry = JobRegistry::new();
    let r = runs.clone();
    // One-second slots: both schedule calls below fall into the same slot even on a busy machine.
    registry.register_recurring("test.tick", Duration::from_secs(1), move |_job: Job| {
        let r = r.clone();
        async move {
            *r.lock().expect("lock") += 1;
            Ok(())
        }
    });
    // Scheduling twice (two replicas starting) still makes one chain. Start right after a slot
    // boundary so that both calls fall into the same one-second slot.
    tokio::time::sleep(Duration::from_millis(1000 - (frontdesk_kernel::time::now_ms() % 1000) as u64 + 20)).await;
    registry.schedule_recurring(&app.db).await.expect("schedule");
    registry.schedule_recurring(&app.db).await.expect("schedule");
    assert_eq!(count(app, JobState::Queued).await, 1);
    let (stop, rx) = watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.db.clone(), registry, fast()).run(rx));
    until(async || *runs.lock().expect("lock") >= 2, "two runs of the recurring job").await;
    let _ = stop.send(true);
    let _ = worker.await;
    assert!(count(app, JobState::Queued).await <= 1, "one next run queued");
}
both!(recurring, recurring_jobs, |c: &mut frontdesk::config::Config| c.workers = false);

/// Several workers (as several replicas would run) share one queue: every job runs exactly once.
async fn workers_share_the_queue(app: &TestApp) {
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut tx = app.db.system().await.expect("tx");
    for n in 0..200u64 {
        jobs::enqueue(&mut tx, NewJob::new("test.share", &json!({"n": n})).expect("job")).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");
    let (stop, rx) = watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..3 {
        let mut registry = JobRegistry::new();
        let seen = seen.clone();
        registry.register("test.share", move |job: Job| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                seen.lock().expect("lock").push(job.payload["n"].as_u64().unwrap_or(u64::MAX));
                Ok(())
            }
        });
        workers.push(tokio::spawn(Worker::new(app.db.clone(), registry, fast()).run(rx.clone())));
    }
    until(async || seen.lock().expect("lock").len() >= 200, "200 jobs").await;
    let _ = stop.send(true);
    for w in workers {
        let _ = w.await;
    }
    let mut seen = seen.lock().expect("lock").clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<u64>>(), "each job ran exactly once");
}
both!(shared_queue, workers_share_the_queue, |c: &mut frontdesk::config::Config| c.workers = false);

/// Inline claims (the chat turn's path): a job stored already claimed when nothing older holds
/// its ordering key, queued behind the older one otherwise, once per dedupe key; completing the
/// claim deletes it and lets the job behind it run.
async fn inline_claims(app: &TestApp) {
    let tenant = frontdesk_kernel::TenantId::parse(&app.tenant_direct("Inline Studio").await).expect("id");
    let job = |n: u32| NewJob::new("test.inline", &json!({"n": n})).expect("job").ordered_by("conv-inline");

    let mut tx = app.db.tenant(&tenant).await.expect("tx");
    let first = jobs::enqueue_claimed(&mut tx, job(1), 60_000).await.expect("enqueue").expect("claimed");
    tx.commit().await.expect("commit");
    assert_eq!(count(app, JobState::Running).await, 1, "stored claimed");
    assert_eq!(count(app, JobState::Queued).await, 0);

    let mut tx = app.db.tenant(&tenant).await.expect("tx");
    let second = jobs::enqueue_claimed(&mut tx, job(2), 60_000).await.expect("enqueue");
    assert!(second.is_none(), "an older job of the key is running: the new one waits");
    let unrelated = jobs::enqueue_claimed(
        &mut tx,
        NewJob::new("test.inline", &json!({"n": 3})).expect("job").ordered_by("conv-other"),
        60_000,
    )
    .await
    .expect("enqueue");
    assert!(unrelated.is_some(), "another key is free");
    let deduped = NewJob::new("test.inline", &json!({"n": 4})).expect("job").dedupe("inline-once");
    assert!(jobs::enqueue_claimed(&mut tx, deduped.clone(), 60_000).await.expect("enqueue").is_some());
    assert!(jobs::enqueue_claimed(&mut tx, deduped, 60_000).await.expect("enqueue").is_none(), "dedupe key");
    tx.commit().await.expect("commit");
    assert_eq!(count(app, JobState::Running).await, 3);
    assert_eq!(count(app, JobState::Queued).await, 1);

    let ran = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut registry = JobRegistry::new();
    let log = ran.clone();
    registry.register("test.inline", move |job: Job| {
        let log = log.clone();
        async move {
            log.lock().expect("lock").push(job.payload["n"].as_u64().unwrap_or(0));
            Ok(())
        }
    });
    let (stop, rx) = watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.db.clone(), registry, fast()).run(rx));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ran.lock().expect("lock").is_empty(), "nothing runs while the claim holds the key");

    let mut tx = app.db.tenant(&tenant).await.expect("tx");
    jobs::complete_claimed(&mut tx, &first).await.expect("complete");
    tx.commit().await.expect("commit");
    until(async || ran.lock().expect("lock").contains(&2), "the job behind the claim").await;
    let _ = stop.send(true);
    let _ = worker.await;
    assert_eq!(*ran.lock().expect("lock"), [2], "claimed jobs are not run by the workers");
    assert_eq!(count(app, JobState::Queued).await, 0);
    assert_eq!(count(app, JobState::Running).await, 2, "the other two claims still hold their jobs");
}
both!(inline_claim, inline_claims, |c: &mut frontdesk::config::Config| c.workers = false);
