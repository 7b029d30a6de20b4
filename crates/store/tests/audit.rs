//! The audit viewer's filters on both engines, and on SQLite the index each filter reads.

use frontdesk_kernel::TenantId;
use frontdesk_store::audit::{self, query_statement, Actor, AuditFilter, Change};
use frontdesk_store::testing::{sqlite_plan, TestDb};

async fn filters_select_what_they_name(postgres: bool) {
    let test_db =
        TestDb::create(postgres, "store_audit", frontdesk_store::MIGRATIONS, |_| {}).await.expect("test database");
    let db = &test_db.db;
    let (tenant, other) = (TenantId::new(), TenantId::new());
    let ada = Actor::user("usr_ada", "ada@example.com", "127.0.0.1");
    let bob = Actor::user("usr_bob", "bob@example.com", "127.0.0.1");
    for (t, actor, action, object) in [
        (&tenant, &ada, "member.invited", "mem_1"),
        (&tenant, &bob, "member.removed", "mem_1"),
        (&tenant, &ada, "api_key.created", "key_1"),
        (&other, &ada, "member.invited", "mem_1"),
    ] {
        let mut tx = db.tenant(t).await.expect("begin");
        audit::record(&mut tx, actor, Change::new(action, "object", Some(object))).await.expect("record");
        tx.commit().await.expect("commit");
    }
    let actions = |filter: AuditFilter, after: Option<String>| {
        let tenant = tenant.clone();
        async move {
            let mut tx = db.tenant_read(&tenant).await.expect("read");
            let rows = audit::query(&mut tx, &filter, None, None, after.as_deref(), 50).await.expect("query");
            rows.into_iter().map(|e| (e.action, e.id.to_string())).collect::<Vec<_>>()
        }
    };
    let names = |rows: Vec<(String, String)>| rows.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
    assert_eq!(
        names(actions(AuditFilter::default(), None).await),
        ["api_key.created", "member.removed", "member.invited"]
    );
    let prefix = AuditFilter { action: Some("member.".into()), ..AuditFilter::default() };
    assert_eq!(names(actions(prefix, None).await), ["member.removed", "member.invited"]);
    let exact = AuditFilter { action: Some("member.invited".into()), ..AuditFilter::default() };
    assert_eq!(names(actions(exact, None).await), ["member.invited"], "another tenant's entry is not shown");
    let by_bob = AuditFilter { actor_id: Some("usr_bob".into()), ..AuditFilter::default() };
    assert_eq!(names(actions(by_bob, None).await), ["member.removed"]);
    let about_key = AuditFilter { object_id: Some("key_1".into()), ..AuditFilter::default() };
    assert_eq!(names(actions(about_key, None).await), ["api_key.created"]);
    let page = actions(AuditFilter::default(), None).await;
    let after_first = actions(AuditFilter::default(), Some(page[0].1.clone())).await;
    assert_eq!(names(after_first), ["member.removed", "member.invited"], "the cursor pages on");

    if !postgres {
        let mut tx = db.tenant_read(&tenant).await.expect("read");
        for (filter, index) in [
            (AuditFilter { actor_id: Some("usr_bob".into()), ..AuditFilter::default() }, "audit_log_actor"),
            (AuditFilter { object_id: Some("key_1".into()), ..AuditFilter::default() }, "audit_log_object"),
            (AuditFilter { action: Some("member.invited".into()), ..AuditFilter::default() }, "audit_log_action"),
        ] {
            let (sql, c) = query_statement(tenant.as_str(), &filter, None, None, None);
            let plan = sqlite_plan(&mut tx, &sql, c.len() + 1).await.expect("plan");
            assert!(plan.contains(index), "{sql}\n{plan}");
        }
    }
    test_db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_what_they_name_on_sqlite() {
    filters_select_what_they_name(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_what_they_name_on_postgres() {
    filters_select_what_they_name(true).await;
}
