//! Hundreds of short transactions at once, committing, rolling back, failing statements,
//! aborting the whole SQLite transaction and abandoning their commits, in bounded time;
//! afterwards the file holds exactly the committed work, each transaction whole or not at all.

use crate::{insert, poll_once_and_drop, TestDb};
use frontdesk_store::{StoreError, StoreResult};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Plan {
    Commit,
    Drop,
    ConflictThenDrop,
    ConflictThenCommit,
    AbandonCommit,
    /// Ends SQLite's whole transaction, then commits anyway: fails with its batch.
    Abort,
}

#[derive(Debug, PartialEq)]
enum Ended {
    Committed,
    RolledBack,
    /// `commit()` failed: nothing of the transaction may be stored.
    Failed,
    /// The caller stopped awaiting its commit: it may or may not have landed.
    InDoubt,
}

async fn stress(group_commit: bool) {
    let t = TestDb::sqlite(group_commit).await;
    let mut seed = t.db.tenant(&t.tenant).await.expect("seed");
    insert(&mut seed, "taken", "x").await.expect("seed insert");
    seed.commit().await.expect("seed commit");

    let mut rng = StdRng::seed_from_u64(0x6c_6f_67);
    let mut tasks = Vec::new();
    for n in 0..400u32 {
        let plan = match rng.gen_range(0..100) {
            0..=54 => Plan::Commit,
            55..=74 => Plan::Drop,
            75..=84 => Plan::ConflictThenDrop,
            85..=93 => Plan::ConflictThenCommit,
            94..=97 => Plan::AbandonCommit,
            _ => Plan::Abort,
        };
        let (yields, rows) = (rng.gen_range(0..4), rng.gen_range(1..=3));
        let (db, tenant) = (t.db.clone(), t.tenant.clone());
        tasks.push(tokio::spawn(async move {
            let mut tx = db.tenant(&tenant).await?;
            for r in 0..rows {
                insert(&mut tx, &format!("t{n:03}-{r}"), "x").await?;
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
            }
            if matches!(plan, Plan::ConflictThenDrop | Plan::ConflictThenCommit) {
                let clash = insert(&mut tx, "taken", "again").await;
                assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
            }
            if matches!(plan, Plan::Abort) {
                assert!(insert(&mut tx, &format!("t{n:03}-abort"), "abort").await.is_err());
            }
            let ended = match plan {
                Plan::Commit | Plan::ConflictThenCommit | Plan::Abort => match tx.commit().await {
                    Ok(()) => Ended::Committed,
                    Err(_) => Ended::Failed,
                },
                Plan::Drop | Plan::ConflictThenDrop => {
                    drop(tx);
                    Ended::RolledBack
                }
                Plan::AbandonCommit => match poll_once_and_drop(tx.commit()).await {
                    Some(Ok(())) => Ended::Committed,
                    Some(Err(_)) => Ended::Failed,
                    None => Ended::InDoubt,
                },
            };
            StoreResult::Ok((n, rows, ended))
        }));
    }
    let outcomes = tokio::time::timeout(Duration::from_secs(60), async {
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task").expect("begins and inserts succeed"));
        }
        outcomes
    })
    .await
    .expect("400 transactions finish in bounded time");

    // A last commit queues behind every abandoned commit still in flight.
    let mut last = t.db.tenant(&t.tenant).await.expect("writer usable");
    insert(&mut last, "last", "x").await.expect("insert last");
    last.commit().await.expect("last commit");

    let stored = t.note_ids().await;
    for (n, rows, ended) in &outcomes {
        let present: Vec<bool> = (0..*rows).map(|r| stored.contains(&format!("t{n:03}-{r}"))).collect();
        assert!(present.iter().all(|p| *p == present[0]), "transaction {n} is whole or absent: {present:?}");
        match ended {
            Ended::Committed => assert!(present[0], "committed transaction {n} is stored"),
            Ended::RolledBack | Ended::Failed => assert!(!present[0], "{ended:?} transaction {n} is not stored"),
            Ended::InDoubt => {}
        }
    }
    // Aborts take their batch-mates down with them, so how many commit depends on the batching.
    for ended in [Ended::Committed, Ended::RolledBack, Ended::Failed] {
        assert!(outcomes.iter().any(|(_, _, e)| *e == ended), "some transactions ended {ended:?}");
    }
    if group_commit {
        let stats = t.db.sqlite_writer_stats().expect("stats");
        assert_eq!(stats.waiting, 0);
        assert!(stats.batches < stats.transactions, "{stats:?}");
    }
    t.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_with_group_commit() {
    stress(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_without_group_commit() {
    stress(false).await;
}
