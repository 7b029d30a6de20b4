//! PostgreSQL keeps one database transaction per logical transaction (it group-commits
//! concurrent sessions itself).

use frontdesk_kernel::TenantId;
use frontdesk_store::jobs::{self, JobState, NewJob};
use frontdesk_store::testing::TestDb;
use frontdesk_store::StoreResult;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_write_transactions_are_unchanged() {
    let test_db = TestDb::create(true, "store_gc", frontdesk_store::MIGRATIONS, |c| c.max_connections = 16)
        .await
        .expect("test database");
    let db = test_db.db.clone();
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
    test_db.drop_database().await.expect("drop the test database");
}
