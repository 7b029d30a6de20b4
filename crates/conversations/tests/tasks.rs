//! Follow-up tasks, contact tags from workflows and the business-metric counts, against real
//! SQLite and PostgreSQL (row-level security on).

mod common;

use common::Base;
use frontdesk_conversations::metrics::{self, BucketCount};
use frontdesk_conversations::model::{Channel, ContactId};
use frontdesk_conversations::service::contact_actions::{self, ContactActionError, FollowUp};
use frontdesk_conversations::service::{Holder, Inbound, TurnPlan};
use frontdesk_conversations::store::NewContact;
use frontdesk_conversations::tasks::{CreateTaskRequest, TaskFilter, TaskStatus};
use frontdesk_conversations::{Assistant, Conversations, LiveHub};
use frontdesk_identity::model::Tenant;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::Error;
use frontdesk_store::audit::Actor;
use frontdesk_store::testing::TestDb;
use frontdesk_store::Db;
use std::sync::Arc;

struct Harness {
    db: Db,
    conversations: Conversations,
    tenant: Tenant,
    other: Tenant,
    owner_email: String,
    test_db: TestDb,
}

impl Harness {
    async fn start(postgres: bool) -> Harness {
        let base = Base::start(postgres, "tasks").await;
        let (tenant, owner_email) = base.tenant("Task Studio 0", "tasks0").await;
        let (other, _) = base.tenant("Task Studio 1", "tasks1").await;
        let Base { test_db, db, keys, identity, .. } = base;
        let models = frontdesk_agent::ModelSettings::new(db.clone(), keys.clone(), None).expect("models");
        let assistant = Assistant::new(models);
        let conversations = Conversations::new(db.clone(), keys, LiveHub::in_process(), Arc::new(assistant), identity);
        Harness { db, conversations, tenant, other, owner_email, test_db }
    }

    /// A customer message on the web chat (answered in place by the built-in assistant).
    async fn customer_says(&self, visitor: &str, text: &str) -> ContactId {
        let inbound = Inbound {
            channel: Channel::Web,
            address: visitor.into(),
            contact: NewContact::default(),
            text: text.into(),
            attachments: Vec::new(),
            client_message_id: None,
            provider_message_id: None,
        };
        let received = self.conversations.receive(&self.tenant, inbound, true).await.expect("receive");
        if let TurnPlan::Inline(claim) = received.plan {
            self.conversations
                .run_turn(&self.tenant.id, &received.conversation.id, &received.message.id, Holder::Inline(claim), None)
                .await
                .expect("turn");
        }
        received.conversation.contact_id
    }

    async fn stop(self) {
        self.test_db.drop_database().await.expect("drop the test database");
    }
}

async fn tasks_tags_and_counts(postgres: bool) {
    let h = Harness::start(postgres).await;
    let actor = Actor::system("test");
    let contact = h.customer_says("vis_tasks", "Hello, do you have classes tonight?").await;

    // Tags from a workflow: merged, normalised, audited, idempotent.
    let mut tx = h.db.tenant(&h.tenant.id).await.expect("tx");
    let added = contact_actions::add_tags(&mut tx, contact.as_str(), &[" VIP ".into(), "lead".into()], &actor)
        .await
        .expect("tag");
    assert_eq!(added, ["vip", "lead"]);
    let again = contact_actions::add_tags(&mut tx, contact.as_str(), &["lead".into(), "trial".into()], &actor)
        .await
        .expect("tag again");
    assert_eq!(again, ["trial"]);
    let missing = contact_actions::add_tags(&mut tx, "ct_01JD3Q00000000000000000000", &["x".into()], &actor).await;
    assert!(matches!(missing, Err(ContactActionError::NoContact(_))), "{missing:?}");
    let bad = contact_actions::add_tags(&mut tx, contact.as_str(), &["a,b".into()], &actor).await;
    assert!(matches!(bad, Err(ContactActionError::Invalid(_))), "{bad:?}");
    tx.commit().await.expect("commit");
    let (shown, _) = h.conversations.contact(&h.tenant.id, &contact).await.expect("contact");
    assert_eq!(shown.tags, ["vip", "lead", "trial"]);

    // Another tenant's transaction cannot see, tag or attach tasks to the contact.
    let mut tx = h.db.tenant(&h.other.id).await.expect("tx");
    let foreign = contact_actions::add_tags(&mut tx, contact.as_str(), &["x".into()], &actor).await;
    assert!(matches!(foreign, Err(ContactActionError::NoContact(_))), "{foreign:?}");
    let follow = FollowUp { title: "x".into(), contact_id: Some(contact.to_string()), ..FollowUp::default() };
    let foreign = contact_actions::create_follow_up(&mut tx, follow, &actor).await;
    assert!(matches!(foreign, Err(ContactActionError::NoContact(_))), "{foreign:?}");
    drop(tx);

    // A follow-up from a workflow, assigned by e-mail; an unknown assignee is refused.
    let mut tx = h.db.tenant(&h.tenant.id).await.expect("tx");
    let follow = FollowUp {
        title: "Call back\nsoon".into(),
        notes: Some("Asked about tonight".into()),
        due_in_hours: Some(2),
        assignee_email: Some(h.owner_email.to_uppercase()),
        contact_id: Some(contact.to_string()),
        conversation_id: None,
    };
    let made = contact_actions::create_follow_up(&mut tx, follow.clone(), &Actor::system("workflow Callbacks"))
        .await
        .expect("follow-up");
    assert_eq!((made.title.as_str(), made.status), ("Call back soon", TaskStatus::Open));
    assert_eq!(made.created_by, "workflow Callbacks");
    assert!(made.assignee_id.as_deref().is_some_and(|a| a.starts_with("usr_")));
    assert!(made.due_at.is_some_and(|d| (d - now_ms() - 2 * 3_600_000).abs() < 60_000));
    let stranger = FollowUp { assignee_email: Some("nobody@example.com".into()), ..follow };
    let refused = contact_actions::create_follow_up(&mut tx, stranger, &actor).await;
    assert!(matches!(refused, Err(ContactActionError::Invalid(_))), "{refused:?}");
    tx.commit().await.expect("commit");

    // By hand, through the service: checked fields, then listed, completed once.
    let bad = CreateTaskRequest { title: " ".into(), due_in_hours: Some(100_000), ..CreateTaskRequest::default() };
    match h.conversations.create_task(&h.tenant.id, bad, &actor).await {
        Err(Error::Validation(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["title", "due_in_hours"]);
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    let unknown = CreateTaskRequest {
        title: "x".into(),
        contact_id: Some("ct_01JD3Q00000000000000000000".into()),
        ..CreateTaskRequest::default()
    };
    assert!(matches!(h.conversations.create_task(&h.tenant.id, unknown, &actor).await, Err(Error::Validation(_))));
    let general = CreateTaskRequest { title: "Order towels".into(), ..CreateTaskRequest::default() };
    let general = h.conversations.create_task(&h.tenant.id, general, &actor).await.expect("task");
    let open = TaskFilter { status: Some(TaskStatus::Open), contact_id: None };
    let page = h.conversations.tasks(&h.tenant.id, &open, None, 1).await.expect("tasks");
    assert_eq!(page.items[0].id, general.id, "newest first");
    let rest = h.conversations.tasks(&h.tenant.id, &open, page.next_cursor.as_deref(), 10).await.expect("page 2");
    assert_eq!(rest.items.iter().map(|t| &t.id).collect::<Vec<_>>(), [&made.id]);
    assert_eq!(h.conversations.open_tasks_of(&h.tenant.id, &contact).await.expect("of contact").len(), 1);
    let done = h.conversations.complete_task(&h.tenant.id, &made.id, &actor).await.expect("complete");
    assert_eq!((done.status, done.completed_by.as_deref()), (TaskStatus::Done, Some("test")));
    let twice = h.conversations.complete_task(&h.tenant.id, &made.id, &actor).await;
    assert!(matches!(twice, Err(Error::Conflict { .. })), "{twice:?}");
    assert!(h.conversations.open_tasks_of(&h.tenant.id, &contact).await.expect("of contact").is_empty());
    let theirs = h.conversations.tasks(&h.other.id, &TaskFilter::default(), None, 10).await.expect("other tenant");
    assert!(theirs.items.is_empty(), "tasks stay with their tenant");
    let not_theirs = h.conversations.complete_task(&h.other.id, &general.id, &actor).await;
    assert!(matches!(not_theirs, Err(Error::NotFound)), "{not_theirs:?}");

    // The business counts: one customer message and the assistant's answer, one conversation,
    // in the bucket that holds them; the other tenant has none and is not active.
    h.customer_says("vis_second", "Hi!").await;
    let bucket = 300_000;
    let from = (now_ms() / bucket - 2) * bucket;
    let to = from + 4 * bucket;
    let counts = metrics::counts(&h.db, &h.tenant.id, from, to, bucket).await.expect("counts");
    let total =
        |metric: &str| counts.iter().filter(|c: &&BucketCount| c.metric == metric).map(|c| c.value).sum::<f64>();
    assert_eq!(total(metrics::MESSAGES_IN), 2.0, "{counts:?}");
    assert_eq!(total(metrics::CONVERSATIONS_STARTED), 2.0, "{counts:?}");
    assert!(counts.iter().all(|c| c.bucket >= from && c.bucket < to && (c.bucket - from) % bucket == 0));
    let before = metrics::counts(&h.db, &h.tenant.id, from - 4 * bucket, from, bucket).await.expect("before");
    assert!(before.is_empty(), "{before:?}");
    assert!(metrics::counts(&h.db, &h.other.id, from, to, bucket).await.expect("other").is_empty());
    let active = metrics::active_tenants(&h.db, from).await.expect("active");
    assert_eq!(active, std::slice::from_ref(&h.tenant.id));
    assert!(metrics::active_tenants(&h.db, now_ms() + 1000).await.expect("none active").is_empty());
    h.stop().await;
}

#[tokio::test]
async fn tasks_tags_and_counts_sqlite() {
    tasks_tags_and_counts(false).await;
}

#[tokio::test]
async fn tasks_tags_and_counts_postgres() {
    tasks_tags_and_counts(true).await;
}
