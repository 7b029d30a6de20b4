//! Domain events: `emit` queues one delivery per subscriber that wants the event, inside the
//! emitting transaction, on both engines.

use frontdesk_kernel::TenantId;
use frontdesk_store::events::{self, DomainEvent, Subscriber, DELIVER_JOB};
use frontdesk_store::jobs::{JobError, JobRegistry};
use frontdesk_store::testing::TestDb;
use frontdesk_store::{query_scalar, StoreResult, TenantTx, Tx};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Wants only events of `kind`; counts how often it was asked.
struct Picky {
    name: &'static str,
    kind: &'static str,
    asked: AtomicUsize,
}

impl Subscriber for Picky {
    fn name(&self) -> &'static str {
        self.name
    }

    fn wants<'a>(&'a self, _tx: &'a mut TenantTx, event: &'a DomainEvent) -> BoxFuture<'a, StoreResult<bool>> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move { Ok(event.kind == self.kind) })
    }

    fn handle<'a>(&'a self, _tenant: &'a TenantId, _event: &'a DomainEvent) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The payloads of the tenant's queued delivery jobs.
async fn deliveries(db: &frontdesk_store::Db, tenant: &TenantId) -> Vec<serde_json::Value> {
    let mut tx = db.system_read().await.expect("read");
    let payloads: Vec<String> = query_scalar(
        "SELECT CAST(payload AS TEXT) FROM jobs WHERE tenant_id = $1 AND kind = $2 AND state = 'queued' ORDER BY id",
    )
    .bind(tenant.as_str())
    .bind(DELIVER_JOB)
    .fetch_all(tx.conn())
    .await
    .expect("deliveries");
    payloads.iter().map(|p| serde_json::from_str(p).expect("a JSON payload")).collect()
}

async fn emit_fans_out_to_the_subscribers_that_want_it(postgres: bool) {
    let test_db =
        TestDb::create(postgres, "store_events", frontdesk_store::MIGRATIONS, |_| {}).await.expect("test database");
    let db = test_db.db.clone();
    let tenant = TenantId::new();
    let bookings = Arc::new(Picky { name: "bookings", kind: "booking.created", asked: AtomicUsize::new(0) });
    let handoffs = Arc::new(Picky { name: "handoffs", kind: "conversation.handed_off", asked: AtomicUsize::new(0) });
    let mut registry = JobRegistry::new();
    events::register(&db, &mut registry, vec![bookings.clone(), handoffs.clone()]);

    // Nobody wants it: no job at all.
    let mut tx = db.tenant(&tenant).await.expect("begin");
    events::emit(&mut tx, "conversation.started", json!({"n": 1})).await.expect("emit");
    tx.commit().await.expect("commit");
    let mut read = db.system_read().await.expect("read");
    let jobs: i64 = query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_one(read.conn())
        .await
        .expect("count");
    drop(read);
    assert_eq!(jobs, 0, "an event nobody wants queues no job of any kind");
    assert_eq!(bookings.asked.load(Ordering::Relaxed), 1);

    // One subscriber wants it: one delivery, addressed to it, carrying the event.
    let mut tx = db.tenant(&tenant).await.expect("begin");
    let id = events::emit(&mut tx, "booking.created", json!({"booking_id": "bk_1"})).await.expect("emit");
    tx.commit().await.expect("commit");
    let queued = deliveries(&db, &tenant).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["subscriber"], "bookings");
    assert_eq!(queued[0]["event"]["id"], id.as_str());
    assert_eq!(queued[0]["event"]["data"]["booking_id"], "bk_1");

    // Rolled back with the change that emitted it: nothing is delivered.
    let mut tx = db.tenant(&tenant).await.expect("begin");
    events::emit(&mut tx, "conversation.handed_off", json!({})).await.expect("emit");
    drop(tx);
    assert_eq!(deliveries(&db, &tenant).await.len(), 1, "the rolled-back event queued nothing");
    assert_eq!(handoffs.asked.load(Ordering::Relaxed), 3, "every subscriber is asked for every event");

    test_db.drop_database().await.expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_fans_out_to_the_subscribers_that_want_it_on_sqlite() {
    emit_fans_out_to_the_subscribers_that_want_it(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_fans_out_to_the_subscribers_that_want_it_on_postgres() {
    emit_fans_out_to_the_subscribers_that_want_it(true).await;
}
