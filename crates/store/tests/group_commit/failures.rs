//! Batches that go wrong: a statement that ends the whole SQLite transaction, cancelled callers,
//! a writer held too long, another process holding the write lock.

use crate::{insert, poll_once_and_drop, queue_behind, set, until_waiting, TestDb};
use frontdesk_store::{StoreError, StoreResult};
use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

fn deterministic(config: &mut frontdesk_store::DbConfig) {
    config.sqlite_group_commit_window = Duration::from_secs(30);
}

/// A commits into a batch; B's statement makes SQLite roll back the whole physical transaction
/// (what SQLITE_FULL or an I/O error can do). A must not be told its work is durable, and the
/// writer must work afterwards.
async fn an_aborted_transaction_fails_the_batch(b_commits_anyway: bool) {
    let t = TestDb::sqlite_with(true, deterministic).await;
    let holder = t.db.tenant(&t.tenant).await.expect("hold the writer");
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let a = queue_behind(&t.db, 0, async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "a", "lost with the batch").await?;
        tx.commit().await
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let b = queue_behind(&t.db, 1, async move {
        let mut tx = db.tenant(&tenant).await?;
        let aborted = insert(&mut tx, "b", "abort").await;
        assert!(aborted.is_err(), "the trigger aborts the transaction");
        if b_commits_anyway {
            tx.commit().await
        } else {
            drop(tx);
            Ok(())
        }
    })
    .await;
    drop(holder);
    let a_result = a.await.expect("a task");
    assert!(a_result.is_err(), "a's batch was rolled back by SQLite: {a_result:?}");
    let b_result = b.await.expect("b task");
    assert_eq!(b_result.is_err(), b_commits_anyway, "b's own commit fails: {b_result:?}");

    // The writer recovers: the next transactions commit, and nothing of the lost batch is there.
    for id in ["after-1", "after-2"] {
        let mut tx = t.db.tenant(&t.tenant).await.expect("writer is usable");
        insert(&mut tx, id, "x").await.expect("insert after");
        tx.commit().await.expect("commit after");
    }
    assert_eq!(t.note_ids().await, set(&["after-1", "after-2"]));
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_that_rolls_back_fails_the_batch() {
    an_aborted_transaction_fails_the_batch(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_that_commits_anyway_fails_the_batch() {
    an_aborted_transaction_fails_the_batch(true).await;
}

/// Alone in its batch, an aborted transaction fails only itself, with or without group commit.
async fn a_lone_aborted_transaction_leaves_the_writer_usable(group_commit: bool) {
    let t = TestDb::sqlite(group_commit).await;
    let mut tx = t.db.tenant(&t.tenant).await.expect("tx");
    insert(&mut tx, "a", "x").await.expect("insert");
    assert!(insert(&mut tx, "b", "abort").await.is_err());
    assert!(tx.commit().await.is_err(), "nothing is left to commit");
    let mut tx = t.db.tenant(&t.tenant).await.expect("writer is usable");
    insert(&mut tx, "c", "x").await.expect("insert c");
    tx.commit().await.expect("commit c");
    let mut tx = t.db.tenant(&t.tenant).await.expect("tx");
    assert!(insert(&mut tx, "d", "abort").await.is_err());
    drop(tx);
    let mut tx = t.db.tenant(&t.tenant).await.expect("writer is usable after a rollback");
    insert(&mut tx, "e", "x").await.expect("insert e");
    tx.commit().await.expect("commit e");
    assert_eq!(t.note_ids().await, set(&["c", "e"]));
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_aborted_transaction_leaves_the_writer_usable_with_group_commit() {
    a_lone_aborted_transaction_leaves_the_writer_usable(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_aborted_transaction_leaves_the_writer_usable_without_group_commit() {
    a_lone_aborted_transaction_leaves_the_writer_usable(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_callers_never_wedge_the_writer() {
    let t = TestDb::sqlite_with(true, deterministic).await;
    let mut a = t.db.tenant(&t.tenant).await.expect("a");
    insert(&mut a, "a", "x").await.expect("insert a");

    // A caller that gives up while waiting for the writer leaves the line.
    let gave_up = tokio::time::timeout(Duration::from_millis(50), t.db.tenant(&t.tenant)).await;
    assert!(gave_up.is_err(), "the writer is held by a");

    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let b = tokio::spawn(async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "b", "x").await?;
        tx.commit().await
    });
    until_waiting(&t.db, 1).await;
    // A caller that stops awaiting its commit: the commit goes on without it.
    assert!(poll_once_and_drop(a.commit()).await.is_none(), "the commit was still in flight");
    b.await.expect("b task").expect("b commits");

    // Transactions dropped at every stage of their begin (queueing, BEGIN, SAVEPOINT).
    for micros in [0, 10, 30, 60, 100, 200, 400, 800] {
        let _ = tokio::time::timeout(Duration::from_micros(micros), t.db.tenant(&t.tenant)).await;
        let _ = poll_once_and_drop(t.db.tenant(&t.tenant)).await;
    }
    for id in ["c", "d"] {
        let mut tx = t.db.tenant(&t.tenant).await.expect("the writer is still usable");
        insert(&mut tx, id, "x").await.expect("insert");
        tx.commit().await.expect("commit");
    }
    assert_eq!(t.note_ids().await, set(&["a", "b", "c", "d"]));
    assert_eq!(t.db.sqlite_writer_stats().expect("stats").waiting, 0);
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_held_writer_times_out() {
    let t = TestDb::sqlite_with(true, |c| c.acquire_timeout = Duration::from_millis(200)).await;
    let holder = t.db.tenant(&t.tenant).await.expect("holder");
    let waited = t.db.tenant(&t.tenant).await;
    assert!(
        matches!(waited, Err(StoreError::Database(sqlx::Error::PoolTimedOut))),
        "like the pool it replaces: {:?}",
        waited.err()
    );
    drop(holder);
    let tx = t.db.tenant(&t.tenant).await.expect("free again");
    tx.commit().await.expect("commit");
    t.remove().await;
}

/// Another process (the CLI) holding SQLite's write lock delays the physical BEGIN by up to
/// `busy_timeout`; the writes then go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_holding_the_write_lock_delays_begin() {
    let t = TestDb::sqlite(true).await;
    let mut other = sqlx::SqliteConnection::connect(&t.config.url).await.expect("second connection");
    other.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
    let started = Instant::now();
    let mut writers = Vec::new();
    for n in 0..8 {
        let (db, tenant) = (t.db.clone(), t.tenant.clone());
        writers.push(tokio::spawn(async move {
            let mut tx = db.tenant(&tenant).await?;
            insert(&mut tx, &format!("w{n}"), "x").await?;
            tx.commit().await?;
            StoreResult::Ok(started.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.execute("COMMIT").await.expect("release the write lock");
    for w in writers {
        let waited = w.await.expect("writer task").expect("writer commits once the lock is free");
        assert!(waited >= Duration::from_millis(250), "waited for the other process: {waited:?}");
    }
    other.close().await.expect("close");
    assert_eq!(t.note_ids().await.len(), 8);
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_error_reaches_the_caller_as_a_database_error() {
    let t = TestDb::sqlite_with(true, deterministic).await;
    let holder = t.db.tenant(&t.tenant).await.expect("hold the writer");
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let a = queue_behind(&t.db, 0, async move {
        let mut tx = db.tenant(&tenant).await?;
        insert(&mut tx, "a", "x").await?;
        tx.commit().await
    })
    .await;
    let (db, tenant) = (t.db.clone(), t.tenant.clone());
    let b = queue_behind(&t.db, 1, async move {
        let mut tx = db.tenant(&tenant).await?;
        let _ = insert(&mut tx, "b", "abort").await;
        drop(tx);
        StoreResult::Ok(())
    })
    .await;
    drop(holder);
    match a.await.expect("a task") {
        Err(StoreError::Database(sqlx::Error::Database(e))) => {
            assert!(e.message().contains("savepoint"), "the engine's own message: {}", e.message());
        }
        other => panic!("expected the batch's database error, got {other:?}"),
    }
    b.await.expect("b task").expect("b");
    t.remove().await;
}
