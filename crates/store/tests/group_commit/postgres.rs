//! PostgreSQL keeps one database transaction per logical transaction (it group-commits
//! concurrent sessions itself).

use frontdesk_kernel::TenantId;
use frontdesk_store::jobs::{self, JobState, NewJob};
use frontdesk_store::{Db, DbConfig, StoreResult};
use sqlx::{Connection, Executor};

fn admin_url() -> String {
    std::env::var("FRONTDESK_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn admin(sql: &str) {
    let mut conn = sqlx::PgConnection::connect(&admin_url()).await.expect("connect to the test PostgreSQL server");
    conn.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_write_transactions_are_unchanged() {
    let name = format!("fd_store_gc_{}", frontdesk_kernel::id::new_body().to_lowercase());
    admin(&format!("CREATE DATABASE {name}")).await;
    let url = match admin_url().rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("FRONTDESK_TEST_POSTGRES must end with /<database>"),
    };
    let config = DbConfig::new(url);
    frontdesk_store::migrate::run(&config, frontdesk_store::MIGRATIONS).await.expect("migrate");
    let db = Db::connect(&config).await.expect("connect");
    assert!(db.sqlite_writer_stats().is_none(), "no group commit on PostgreSQL");
    let tenant = TenantId::new();

    let mut tasks = Vec::new();
    for n in 0..20 {
        let (db, tenant) = (db.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let mut tx = db.tenant(&tenant).await?;
            jobs::enqueue(&mut tx, NewJob::new("test.pg", &serde_json::json!({ "n": n }))?).await?;
            if n % 2 == 0 {
                tx.commit().await?;
            }
            StoreResult::Ok(())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("write");
    }
    let mut tx = db.tenant_read(&tenant).await.expect("read");
    let queued = jobs::list(&mut tx, JobState::Queued, None, 100).await.expect("list");
    assert_eq!(queued.len(), 10, "committed jobs only");
    drop(tx);
    db.close().await;
    admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}
