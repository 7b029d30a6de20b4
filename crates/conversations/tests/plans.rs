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
