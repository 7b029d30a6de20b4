//! Group commit of SQLite write transactions, against real SQLite files (and PostgreSQL, which
//! must be unchanged). Every test gets its own database.

mod batches;
mod failures;
mod postgres;
mod stress;

use frontdesk_kernel::TenantId;
use frontdesk_store::{query, query_scalar, Db, DbConfig, Migration, StoreError, StoreResult, TenantTx, Tx};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// The tables the tests write. A trigger lets a test end the whole SQLite transaction from a
/// statement (`RAISE(ROLLBACK)`), as SQLITE_FULL or an I/O error would.
const SCHEMA: Migration = Migration {
    component: "group_commit_test",
    version: 1,
    name: "0001_notes",
    sqlite_up: "CREATE TABLE notes (tenant_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, id));
                CREATE TABLE counters (tenant_id TEXT NOT NULL, id TEXT NOT NULL, value INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, id));
                CREATE TRIGGER notes_abort BEFORE INSERT ON notes WHEN NEW.body = 'abort'
                BEGIN SELECT RAISE(ROLLBACK, 'aborted by trigger'); END;",
    sqlite_down: "DROP TABLE counters; DROP TABLE notes;",
    postgres_up: "SELECT 1",
    postgres_down: "SELECT 1",
};

pub struct TestDb {
    pub db: Db,
    pub config: DbConfig,
    pub tenant: TenantId,
    path: PathBuf,
}

impl TestDb {
    /// A fresh SQLite file with `synchronous = FULL`, group commit on or off.
    pub async fn sqlite(group_commit: bool) -> TestDb {
        Self::sqlite_with(group_commit, |_| {}).await
    }

    pub async fn sqlite_with(group_commit: bool, tweak: impl FnOnce(&mut DbConfig)) -> TestDb {
        let path = std::env::temp_dir().join(format!("fd-group-commit-{}.db", frontdesk_kernel::id::new_body()));
        let mut config = DbConfig::new(format!("sqlite://{}?mode=rwc", path.display()));
        config.sqlite_group_commit = group_commit;
        tweak(&mut config);
        let migrations = [frontdesk_store::MIGRATIONS, &[SCHEMA]].concat();
        frontdesk_store::migrate::run(&config, &migrations).await.expect("migrate");
        let db = Db::connect(&config).await.expect("connect");
        TestDb { db, config, tenant: TenantId::new(), path }
    }

    /// The same file through a brand-new handle: what survives is what was committed.
    pub async fn reopen(&self) -> Db {
        self.db.close().await;
        Db::connect(&self.config).await.expect("reopen")
    }

    pub async fn note_ids(&self) -> BTreeSet<String> {
        note_ids(&self.db, &self.tenant).await
    }

    pub async fn remove(self) {
        self.db.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

pub async fn insert(tx: &mut TenantTx, id: &str, body: &str) -> StoreResult<()> {
    let tenant = tx.tid().to_owned();
    query("INSERT INTO notes (tenant_id, id, body) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(id)
        .bind(body)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// The notes a reader (never the writer connection) sees.
pub async fn note_ids(db: &Db, tenant: &TenantId) -> BTreeSet<String> {
    let mut tx = db.tenant_read(tenant).await.expect("read tx");
    let tid = tx.tid().to_owned();
    let ids: Vec<String> = query_scalar("SELECT id FROM notes WHERE tenant_id = $1")
        .bind(tid)
        .fetch_all(tx.conn())
        .await
        .expect("select notes");
    ids.into_iter().collect()
}

/// Starts `work` on its own task and waits until it queues for the writer, behind `ahead`
/// others: transactions queued behind a held writer form one batch when it is let go.
pub async fn queue_behind<T: Send + 'static>(
    db: &Db,
    ahead: usize,
    work: impl Future<Output = T> + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    let task = tokio::spawn(work);
    until_waiting(db, ahead + 1).await;
    task
}

/// Waits (bounded) until `n` logical transactions queue for the writer.
pub async fn until_waiting(db: &Db, n: usize) {
    for _ in 0..5000 {
        if db.sqlite_writer_stats().expect("group commit is on").waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{n} transactions never queued for the writer");
}

/// Polls `future` once and drops it: a caller that stops awaiting mid-way.
pub async fn poll_once_and_drop<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

pub fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}
