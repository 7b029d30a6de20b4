//! The patched SQLite driver (vendor/sqlx-sqlite, see vendor/README.md): statements run on the
//! calling thread while the connection's own thread is idle. What the patch must keep from
//! upstream: commands run in the order they were issued, whatever thread runs them; errors and
//! multi-statement results come back as before; large results are complete.

use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Either, Executor, Row, SqliteConnection};
use std::path::PathBuf;
use std::str::FromStr;

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

async fn connect() -> (SqliteConnection, TempFile) {
    let path = std::env::temp_dir().join(format!("fd-sqlite-driver-{}.db", frontdesk_kernel::id::new_body()));
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .expect("valid URL")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&options).await.expect("connects");
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)").await.expect("schema");
    (conn, TempFile(path))
}

async fn count(conn: &mut SqliteConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM notes").fetch_one(conn).await.expect("count")
}

/// A dropped transaction queues its ROLLBACK on the connection's thread without waiting for it;
/// the next statement (or ping) must not run before it (inline, it would see the rolled-back row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_never_overtakes_a_queued_rollback() {
    let (mut conn, _file) = connect().await;
    for i in 0..300 {
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("INSERT INTO notes (body) VALUES ($1)")
            .bind(format!("n{i}"))
            .execute(&mut *tx)
            .await
            .expect("insert");
        drop(tx);
        if i % 2 == 0 {
            // What the pool does with every connection it takes back.
            conn.ping().await.expect("ping");
        }
        assert_eq!(count(&mut conn).await, 0, "round {i}: the dropped transaction's row is visible");
    }
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("INSERT INTO notes (body) VALUES ('kept')").execute(&mut *tx).await.expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(count(&mut conn).await, 1);
}

/// Savepoints, a failing statement and the statements after it keep their meaning.
#[tokio::test]
async fn errors_and_savepoints_behave_as_upstream() {
    let (mut conn, _file) = connect().await;
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("INSERT INTO notes (body) VALUES ('a')").execute(&mut *tx).await.expect("insert");
    tx.execute("SAVEPOINT s").await.expect("savepoint");
    let duplicate = sqlx::query("INSERT INTO notes (body) VALUES ('a')").execute(&mut *tx).await;
    let Err(sqlx::Error::Database(e)) = duplicate else { panic!("a duplicate must fail: {duplicate:?}") };
    assert!(e.message().contains("UNIQUE"), "{e}");
    tx.execute("ROLLBACK TO s; RELEASE s").await.expect("rollback to savepoint");
    sqlx::query("INSERT INTO notes (body) VALUES ('b')").execute(&mut *tx).await.expect("insert after the error");
    tx.commit().await.expect("commit");
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM notes ORDER BY body").fetch_all(&mut conn).await.expect("read");
    assert_eq!(bodies, ["a", "b"]);
}

/// A multi-statement command reports each statement's result in order and stops at the first
/// error, leaving the statements before it applied.
#[tokio::test]
async fn multi_statement_results_come_in_order() {
    let (mut conn, _file) = connect().await;
    let mut results = Vec::new();
    {
        let mut stream = conn.fetch_many(
            "INSERT INTO notes (body) VALUES ('x'); SELECT body FROM notes; INSERT INTO notes (body) VALUES ('x'); \
             INSERT INTO notes (body) VALUES ('never')",
        );
        let error = loop {
            match stream.try_next().await {
                Ok(Some(Either::Left(done))) => results.push(format!("done {}", done.rows_affected())),
                Ok(Some(Either::Right(row))) => results.push(format!("row {}", row.get::<String, _>(0))),
                Ok(None) => panic!("the duplicate must fail"),
                Err(e) => break e,
            }
        };
        assert!(error.to_string().contains("UNIQUE"), "{error}");
    }
    // (A SELECT's result carries SQLite's last change count, as upstream reports it.)
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[..2], ["done 1", "row x"]);
    assert_eq!(count(&mut conn).await, 1);
}

/// Results far larger than the driver's channel are complete, and `fetch_optional` takes the first.
#[tokio::test]
async fn large_results_are_complete() {
    let (mut conn, _file) = connect().await;
    let mut tx = conn.begin().await.expect("begin");
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
         INSERT INTO notes (body) SELECT 'note ' || i FROM n",
    )
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
    let all = sqlx::query("SELECT id, body FROM notes ORDER BY id").fetch_all(&mut conn).await.expect("read all");
    assert_eq!(all.len(), 20_000);
    assert_eq!(all[19_999].get::<String, _>(1), "note 20000");
    let first: Option<String> =
        sqlx::query_scalar("SELECT body FROM notes ORDER BY id").fetch_optional(&mut conn).await.expect("read one");
    assert_eq!(first.as_deref(), Some("note 1"));
    assert_eq!(count(&mut conn).await, 20_000);
}
