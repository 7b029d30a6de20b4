//! Query plans on SQLite, whose planner has no statistics: cross-tenant views read from an index
//! in their order instead of sorting a whole table.

use frontdesk_store::testing::{sqlite_plan, TestDb};

#[tokio::test]
async fn the_operators_recent_changes_come_from_an_index_in_order() {
    let test_db =
        TestDb::create(false, "store_plans", frontdesk_store::MIGRATIONS, |_| {}).await.expect("test database");
    let mut tx = test_db.db.system_read().await.expect("read");
    // audit::recent_all
    let plan = sqlite_plan(&mut tx, "SELECT tenant_id, action, at FROM audit_log ORDER BY at DESC LIMIT $1", 1)
        .await
        .expect("plan");
    drop(tx);
    assert!(plan.contains("USING INDEX audit_log_recent"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "the index gives the order: {plan}");
    test_db.drop_database().await.expect("drop");
}
