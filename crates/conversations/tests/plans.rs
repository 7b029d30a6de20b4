//! Query plans of the chat path on SQLite, whose planner has no statistics: a contact's
//! conversations must come from the `conversations_contact` index in id order, never from a walk
//! of the tenant's primary key (which made every first message of a new contact scan all of the
//! tenant's conversations).

mod common;

use common::Base;
use frontdesk_store::testing::sqlite_plan;

#[tokio::test]
async fn a_contacts_conversations_come_from_their_index_in_order() {
    let base = Base::start(false, "plans").await;
    let (tenant, _) = base.tenant("Plan Studio", "plans").await;
    for (sql, binds) in [
        // latest_conversation_at_address: every inbound message
        (
            "SELECT * FROM conversations WHERE tenant_id = $1 AND channel = $2 AND contact_id =
                (SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND channel = $2 AND address = $3)
             ORDER BY id DESC LIMIT 1",
            3,
        ),
        // latest_conversation_locked: a new contact's first message
        (
            "SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel = $3
             ORDER BY id DESC LIMIT 1",
            3,
        ),
        // contact_conversations: the contact page
        ("SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 ORDER BY id DESC LIMIT 200", 2),
    ] {
        let mut tx = base.db.tenant_read(&tenant.id).await.expect("read");
        let plan = sqlite_plan(&mut tx, sql, binds).await.expect("plan");
        drop(tx);
        assert!(
            plan.contains("SEARCH conversations USING INDEX conversations_contact (tenant_id=? AND contact_id=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "the index gives the order: {plan}");
    }
    base.test_db.drop_database().await.expect("drop");
}

/// The inbox's status filter and its longest-wait order, and a contact's or a status's tasks,
/// come from their indexes — not from a walk of every conversation or task of the tenant, which
/// an `($n IS NULL OR col = $n)` filter made SQLite do.
#[tokio::test]
async fn inbox_views_and_task_lists_come_from_their_indexes() {
    use frontdesk_conversations::model::Status;
    use frontdesk_conversations::store::{inbox_statement, InboxFilter};
    use frontdesk_conversations::tasks::{list_statement, TaskFilter, TaskStatus};

    let base = Base::start(false, "plans").await;
    let (tenant, _) = base.tenant("Plan Studio", "plans").await;
    let t = tenant.id.as_str();
    let handed_off = InboxFilter { status: Some(Status::HandedOff), ..InboxFilter::default() };
    let waiting = InboxFilter { waiting_longest: true, ..InboxFilter::default() };
    let contact = TaskFilter { contact_id: Some(frontdesk_conversations::model::ContactId::new()), status: None };
    let open = TaskFilter { status: Some(TaskStatus::Open), contact_id: None };
    let cases = [
        (
            inbox_statement(t, &handed_off, None),
            "conversations USING INDEX conversations_status (tenant_id=? AND status=?)",
        ),
        (
            inbox_statement(t, &handed_off, Some((1, "cv_x".into()))),
            "conversations USING INDEX conversations_status (tenant_id=? AND status=?",
        ),
        (inbox_statement(t, &waiting, None), "conversations USING INDEX conversations_waiting (tenant_id=?"),
        (list_statement(t, &contact, None), "tasks USING INDEX tasks_contact (tenant_id=? AND contact_id=?)"),
        (list_statement(t, &open, Some("tsk_x")), "tasks USING INDEX tasks_status (tenant_id=? AND status=? AND id<?)"),
    ];
    for ((sql, conditions), expected) in cases {
        let mut tx = base.db.tenant_read(&tenant.id).await.expect("read");
        let plan = sqlite_plan(&mut tx, &sql, conditions.len() + 1).await.expect("plan");
        drop(tx);
        assert!(plan.contains(expected), "{sql}\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "the index gives the list's order: {plan}");
    }
    base.test_db.drop_database().await.expect("drop");
}
