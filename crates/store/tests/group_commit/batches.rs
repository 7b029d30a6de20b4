//! Batches that go right: durability, visibility, ordering, rollback and statement errors inside
//! a batch, the job queue's wake-up.

use crate::{insert, note_ids, queue_behind, set, TestDb};
use frontdesk_store::jobs::{self, Job, JobRegistry, NewJob, Worker, WorkerConfig};
use frontdesk_store::{query, query_scalar, StoreError, StoreResult, Tx};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Windows long enough that a slow, shared CI machine never closes a batch under a test.
fn deterministic(config: &mut frontdesk_store::DbConfig) {
    config.sqlite_group_commit_window = Duration::from_secs(30);
}

async fn many_writers_are_durable_and_visible(group_commit: bool) {
    let t = TestDb::sqlite(group_commit).await;
    let writers = 200;
    let mut tasks = Vec::new();
    for n in 0..writers {
        let (db, tenant) = (t.db.clone(), t.tenant.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("note-{n:03}");
            let mut tx = db.tenant(&tenant).await?;
            insert(&mut tx, &id, "hello").await?;
            tx.commit().await?;
            // Committed means visible to every reader, at once.
            assert!(note_ids(&db, &tenant).await.contains(&id), "{id} is visible after commit");
            StoreResult::Ok(())
        }));
    }
    for task in tasks {
        task.await.expect("writer task").expect("writer commits");
    }
    assert_eq!(t.note_ids().await.len(), writers);
    if group_commit {
        let stats = t.db.sqlite_writer_stats().expect("stats");
        assert_eq!(stats.transactions, writers as u64);
        assert!(stats.batches < stats.transactions, "concurrent commits share fsyncs: {stats:?}");
        assert_eq!(stats.waiting, 0);
    }
    let reopened = t.reopen().await;
    assert_eq!(note_ids(&reopened, &t.tenant).await.len(), writers, "every commit is in the file");
    reopened.close().await;
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_are_durable_and_visible_with_group_commit() {
    many_writers_are_durable_and_visible(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_are_durable_and_visible_without_group_commit() {
    many_writers_are_durable_and_visible(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_transaction_commits_at_once() {
    let t = TestDb::sqlite(true).await;
    for n in 0..3 {
        let mut tx = t.db.tenant(&t.tenant).await.expect("tx");
        insert(&mut tx, &format!("lone-{n}"), "x").await.expect("insert");
        tx.commit().await.expect("commit");
        let stats = t.db.sqlite_writer_stats().expect("stats");
        assert_eq!((stats.transactions, stats.batches), (n + 1, n + 1), "no waiting for company");
    }
    t.remove().await;
}

/// A, B and C queue behind a held writer; A commits into a batch that B and C join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_transaction_in_a_batch_loses_only_its_own_rows() {
    let t = TestDb::sqlite_with(true, deterministic).await;
    let holder = t.db.tenant(&t.tenant).await.expect("hold the writer");
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let a = queue_behind(&t.db, 0, async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "a", "kept").await?;
        tx.commit().await
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let b = queue_behind(&t.db, 1, async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "b", "rolled back").await?;
        drop(tx);
        StoreResult::Ok(())
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let c = queue_behind(&t.db, 2, async move {
        let mut tx = db.tenant(&tenant).await?;
        assert!(!note_ids(&db, &tenant).await.contains("a"), "a is not durable yet, so readers do not see it");
        let seen: i64 =
            query_scalar("SELECT COUNT(*) FROM notes").fetch_one(tx.conn()).await.map_err(StoreError::Database)?;
        assert_eq!(seen, 1, "later members see earlier members' writes, not rolled-back ones");
        insert(&mut tx, "c", "kept").await?;
        tx.commit().await
    })
    .await;
    drop(holder);
    a.await.expect("a task").expect("a commits with its batch");
    b.await.expect("b task").expect("b");
    c.await.expect("c task").expect("c commits");
    assert_eq!(t.note_ids().await, set(&["a", "c"]));
    let stats = t.db.sqlite_writer_stats().expect("stats");
    assert_eq!((stats.transactions, stats.batches), (2, 1), "a and c shared one physical commit");
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_does_not_affect_batch_mates() {
    let t = TestDb::sqlite_with(true, deterministic).await;
    let mut seed = t.db.tenant(&t.tenant).await.expect("seed");
    insert(&mut seed, "taken", "x").await.expect("seed insert");
    seed.commit().await.expect("seed commit");

    let holder = t.db.tenant(&t.tenant).await.expect("hold the writer");
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let a = queue_behind(&t.db, 0, async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "a", "kept").await?;
        tx.commit().await
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let b = queue_behind(&t.db, 1, async move {
        let mut tx = db.tenant(&tenant).await?;
        let clash = insert(&mut tx, "taken", "duplicate").await;
        assert!(matches!(clash, Err(StoreError::Conflict(_))), "unique violation: {clash:?}");
        // The statement failed, the transaction goes on.
        insert(&mut tx, "b", "kept").await?;
        tx.commit().await
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let c = queue_behind(&t.db, 2, async move {
        let mut tx = db.tenant(&tenant).await?;
        let broken = query("INSERT INTO notes (tenant_id, id, body) VALUES ($1, $2, NULL)")
            .bind(tx.tid().to_owned())
            .bind("c-null")
            .execute(tx.conn())
            .await;
        assert!(broken.is_err(), "NOT NULL refuses the row");
        // C gives up: its savepoint is rolled back, the batch goes on.
        StoreResult::Ok(())
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let d = queue_behind(&t.db, 3, async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "d", "kept").await?;
        tx.commit().await
    })
    .await;
    drop(holder);
    a.await.expect("a task").expect("a");
    b.await.expect("b task").expect("b commits despite its failed statement");
    c.await.expect("c task").expect("c");
    d.await.expect("d task").expect("d");
    assert_eq!(t.note_ids().await, set(&["taken", "a", "b", "d"]));
    let stats = t.db.sqlite_writer_stats().expect("stats");
    assert_eq!((stats.transactions, stats.batches), (4, 2), "seed alone, then a, b and d together");
    t.remove().await;
}

/// Read-modify-write from many tasks at once: every transaction sees all earlier ones, batched
/// or not, so the counter ends exact and no two transactions read the same value.
async fn commits_are_serial(group_commit: bool) {
    let t = TestDb::sqlite(group_commit).await;
    let mut tx = t.db.tenant(&t.tenant).await.expect("tx");
    query("INSERT INTO counters (tenant_id, id, value) VALUES ($1, 'turns', 0)")
        .bind(tx.tid().to_owned())
        .execute(tx.conn())
        .await
        .expect("counter");
    tx.commit().await.expect("commit");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (db, tenant) = (t.db.clone(), t.tenant.clone());
        tasks.push(tokio::spawn(async move {
            let mut tx = db.tenant(&tenant).await?;
            let tid = tx.tid().to_owned();
            let value: i64 = query_scalar("SELECT value FROM counters WHERE tenant_id = $1 AND id = 'turns'")
                .bind(&tid)
                .fetch_one(tx.conn())
                .await
                .map_err(StoreError::Database)?;
            tokio::task::yield_now().await;
            query("UPDATE counters SET value = $1 WHERE tenant_id = $2 AND id = 'turns'")
                .bind(value + 1)
                .bind(&tid)
                .execute(tx.conn())
                .await
                .map_err(StoreError::Database)?;
            tx.commit().await?;
            StoreResult::Ok(value)
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.expect("task").expect("increment"));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<i64>>());
    let mut tx = t.db.tenant_read(&t.tenant).await.expect("read");
    let value: i64 =
        query_scalar("SELECT value FROM counters WHERE id = 'turns'").fetch_one(tx.conn()).await.expect("counter");
    assert_eq!(value, 100);
    drop(tx);
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_serial_with_group_commit() {
    commits_are_serial(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_serial_without_group_commit() {
    commits_are_serial(false).await;
}

/// Job workers wake when the batch holding the enqueue is physically committed, not before,
/// and a rolled-back member's job never exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_wake_after_the_physical_commit() {
    let t = TestDb::sqlite_with(true, deterministic).await;
    let (ran_tx, mut ran) = mpsc::unbounded_channel::<String>();
    let mut registry = JobRegistry::new();
    let ran_tx = Arc::new(ran_tx);
    registry.register("test.note", move |job: Job| {
        let ran_tx = ran_tx.clone();
        async move {
            let _ = ran_tx.send(job.payload["id"].as_str().unwrap_or_default().to_owned());
            Ok(())
        }
    });
    // Polling every minute: only the commit's wake-up can start these jobs in time.
    let config = WorkerConfig { poll_interval: Duration::from_secs(60), ..WorkerConfig::default() };
    let (stop, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(Worker::new(t.db.clone(), registry, config).run(stop_rx));
    // The worker's first claim (an empty batch of its own) is done once it waits for wake-ups.
    for _ in 0..5000 {
        if t.db.sqlite_writer_stats().expect("stats").transactions >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    let holder = t.db.tenant(&t.tenant).await.expect("hold the writer");
    let mut tasks = Vec::new();
    for (ahead, id) in ["a", "b", "c"].into_iter().enumerate() {
        let (db, tenant) = (t.db.clone(), t.tenant.clone());
        let task = queue_behind(&t.db, ahead, async move {
            let mut tx = db.tenant(&tenant).await?;
            jobs::enqueue(&mut tx, NewJob::new("test.note", &serde_json::json!({ "id": id }))?).await?;
            if id == "b" {
                // B rolls back: its job must never exist.
                drop(tx);
                return StoreResult::Ok(());
            }
            tx.commit().await
        });
        tasks.push(task.await);
    }
    drop(holder);
    for task in tasks {
        task.await.expect("task").expect("enqueue");
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        let id = tokio::time::timeout(Duration::from_secs(10), ran.recv())
            .await
            .expect("the commit woke the worker")
            .expect("channel");
        got.push(id);
    }
    got.sort();
    assert_eq!(got, ["a", "c"]);
    let _ = stop.send(true);
    worker.await.expect("worker stops");
    assert!(ran.try_recv().is_err(), "the rolled-back job never ran");
    t.remove().await;
}
