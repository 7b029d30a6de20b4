//! A chat turn's storage against real SQLite and PostgreSQL, with the built-in assistant on a
//! stand-in model: the reply, the model's token usage and the summary the memory window asks
//! for are stored with the turn's completion, and no job is left behind.

mod common;

use common::Base;
use frontdesk_agent::testing::StandIn;
use frontdesk_agent::ModelSettings;
use frontdesk_conversations::model::{Channel, Message};
use frontdesk_conversations::service::{Holder, Inbound, TurnPlan, SUMMARY_JOB};
use frontdesk_conversations::store::{self, NewContact};
use frontdesk_conversations::{Assistant, Conversations, LiveHub};
use frontdesk_identity::model::Tenant;
use frontdesk_store::audit::Actor;
use frontdesk_store::jobs::{self, JobState};
use frontdesk_store::testing::TestDb;
use frontdesk_store::Db;
use std::sync::Arc;

struct Harness {
    db: Db,
    conversations: Conversations,
    models: ModelSettings,
    tenant: Tenant,
    test_db: TestDb,
    _stand_in: StandIn,
}

impl Harness {
    async fn start(postgres: bool) -> Harness {
        let base = Base::start(postgres, "conv").await;
        let (tenant, _) = base.tenant("Turn Studio", "turns").await;
        let Base { test_db, db, keys, identity, .. } = base;
        let stand_in = StandIn::start().await;
        let models = ModelSettings::new(db.clone(), keys.clone(), None).expect("models");
        let change = serde_json::from_value(serde_json::json!({"base_url": stand_in.base_url(), "model": "stand-in"}))
            .expect("change");
        models.update(&tenant.id, change, &Actor::system("test")).await.expect("model");
        let assistant = Assistant::new(models.clone());
        let conversations = Conversations::new(db.clone(), keys, LiveHub::in_process(), Arc::new(assistant), identity)
            .with_models(models.clone());
        Harness { db, conversations, models, tenant, test_db, _stand_in: stand_in }
    }

    /// One web-chat turn of `visitor`, run in place as the public endpoints run it.
    async fn turn(&self, visitor: &str, text: &str) -> (Message, Option<Message>) {
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
        let TurnPlan::Inline(claim) = received.plan else { panic!("the turn was not claimed in place") };
        let message = received.message;
        self.conversations
            .run_turn(&self.tenant.id, &received.conversation.id, &message.id, Holder::Inline(claim), None)
            .await
            .expect("turn");
        let mut tx = self.db.tenant_read(&self.tenant.id).await.expect("tx");
        let reply = store::reply_to(&mut tx, &message.id).await.expect("reply");
        (message, reply)
    }

    /// The kinds of the pipeline's jobs (turns, summaries) in `state`; domain events aside.
    async fn jobs(&self, state: JobState) -> Vec<String> {
        let mut tx = self.db.system_read().await.expect("tx");
        let all = jobs::list(&mut tx, state, None, 100).await.expect("jobs");
        all.into_iter().map(|j| j.kind).filter(|k| k.starts_with("conversations.")).collect()
    }

    async fn model_calls(&self) -> i64 {
        let days = self.models.usage(&self.tenant.id, 0, i64::MAX).await.expect("usage");
        days.iter().map(|d| d.calls).sum()
    }

    async fn stop(self) {
        self.test_db.drop_database().await.expect("drop the test database");
    }
}

async fn turns_store_reply_usage_and_summary_together(postgres: bool) {
    let h = Harness::start(postgres).await;
    // Long messages: the second turn pushes the first out of the memory window.
    let long = |topic: &str| format!("{topic} {}", "Could you tell me more about the classes and prices? ".repeat(60));

    let (first, reply) = h.turn("vis_turns", &long("Yoga")).await;
    let reply = reply.expect("the first turn is answered");
    assert_eq!(reply.text, "Hello from the stand-in.");
    let trace = reply.trace.expect("the reply's trace");
    assert_eq!((trace.model.as_deref(), trace.tokens_out), (Some("stand-in"), Some(4)));
    assert_eq!(h.model_calls().await, 1, "the model's usage is stored with the reply");
    assert!(h.jobs(JobState::Running).await.is_empty() && h.jobs(JobState::Queued).await.is_empty());

    let (second, reply) = h.turn("vis_turns", &long("Pilates")).await;
    assert!(reply.is_some(), "the second turn is answered");
    assert_eq!(second.conversation_id, first.conversation_id);
    assert_eq!(h.model_calls().await, 2);
    assert!(h.jobs(JobState::Running).await.is_empty(), "every claimed turn is finished");
    assert_eq!(h.jobs(JobState::Queued).await, [SUMMARY_JOB]);
    h.stop().await;
}

#[tokio::test]
async fn turns_store_reply_usage_and_summary_together_sqlite() {
    turns_store_reply_usage_and_summary_together(false).await;
}

#[tokio::test]
async fn turns_store_reply_usage_and_summary_together_postgres() {
    turns_store_reply_usage_and_summary_together(true).await;
}

/// Several first messages from one new address at once (a customer sending twice in a row on a
/// channel that delivers concurrently): every message is stored, in one contact's one conversation.
async fn first_messages_at_once_make_one_contact(postgres: bool) {
    let h = Harness::start(postgres).await;
    let sends: Vec<_> = (0..8)
        .map(|i| {
            let (conversations, tenant) = (h.conversations.clone(), h.tenant.clone());
            tokio::spawn(async move {
                let inbound = Inbound {
                    channel: Channel::Web,
                    address: "vis_twice".into(),
                    contact: NewContact::default(),
                    text: format!("Hello, message {i}"),
                    attachments: Vec::new(),
                    client_message_id: None,
                    provider_message_id: None,
                };
                conversations.receive(&tenant, inbound, false).await
            })
        })
        .collect();
    let mut conversations = Vec::new();
    for send in sends {
        let received = send.await.expect("task").expect("every first message is stored");
        conversations.push(received.conversation.id);
    }
    conversations.dedup();
    assert_eq!(conversations.len(), 1, "one conversation: {conversations:?}");
    let mut tx = h.db.tenant_read(&h.tenant.id).await.expect("tx");
    let contact = store::contact_by_identity(&mut tx, Channel::Web, "vis_twice").await.expect("read").expect("contact");
    let all = store::contact_conversations(&mut tx, &contact).await.expect("read");
    assert_eq!(all.len(), 1);
    let messages = store::latest_messages(&mut tx, &all[0].id, 50).await.expect("read");
    assert_eq!(messages.len(), 8, "no message lost");
    drop(tx);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_messages_at_once_make_one_contact_sqlite() {
    first_messages_at_once_make_one_contact(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_messages_at_once_make_one_contact_postgres() {
    first_messages_at_once_make_one_contact(true).await;
}
