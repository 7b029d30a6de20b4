//! Domain events: how capabilities tell each other what happened without reading each other's
//! tables. A capability emits an event inside its own transaction ([`emit`]), which asks each
//! [`Subscriber`] (webhooks, workflows, …) whether it wants the event and queues one delivery
//! job per subscriber that does — in that transaction, so the deliveries exist exactly when the
//! event's transaction commits. Each subscriber retries on its own, a failing one never blocks or
//! repeats the others, and subscribers are idempotent by event id.
//!
//! Most events of most tenants interest nobody (no workflow on that kind, no webhook endpoint):
//! they then cost the emitting transaction a look-up per subscriber and nothing else — no job,
//! no worker wake-up, which matters on the chat path, where every new conversation emits one.

use crate::db::Db;
use crate::error::StoreResult;
use crate::jobs::{self, Job, JobError, JobRegistry, NewJob};
use crate::tx::TenantTx;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::TenantId;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The job that fans an event out to the subscribers. Events are fanned out by [`emit`] now;
/// the job still runs dispatches queued by earlier versions.
pub const DISPATCH_JOB: &str = "events.dispatch";
/// The job that hands an event to one subscriber.
pub const DELIVER_JOB: &str = "events.deliver";

frontdesk_kernel::define_id!(
    /// One domain event.
    EventId,
    "evt"
);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DomainEvent {
    pub id: String,
    /// `anomaly.detected`, `booking.created`, …
    pub kind: String,
    pub occurred_at: i64,
    pub data: serde_json::Value,
}

/// The registered subscribers ([`register`]), shared by the database handle.
pub(crate) type Subscribers = Arc<Vec<Arc<dyn Subscriber>>>;

/// Records `kind` with `data`: every subscriber that wants it gets a delivery job, queued in the
/// caller's transaction (so only if it commits). Returns the event's id.
pub async fn emit(tx: &mut TenantTx, kind: &str, data: serde_json::Value) -> StoreResult<String> {
    let event = DomainEvent { id: EventId::new().to_string(), kind: kind.to_owned(), occurred_at: now_ms(), data };
    let subscribers = tx.db().subscribers();
    fan_out(tx, &subscribers, &event).await?;
    Ok(event.id)
}

async fn fan_out(tx: &mut TenantTx, subscribers: &[Arc<dyn Subscriber>], event: &DomainEvent) -> StoreResult<()> {
    for subscriber in subscribers {
        if !subscriber.wants(tx, event).await? {
            continue;
        }
        let name = subscriber.name();
        let delivery = Delivery { subscriber: name.to_owned(), event: event.clone() };
        // The dedupe key makes a second fan-out of one event (a re-run dispatch job) a no-op.
        let job = NewJob::new(DELIVER_JOB, &delivery)?.dedupe(format!("{}:{name}", event.id)).max_attempts(10);
        jobs::enqueue(tx, job).await?;
    }
    Ok(())
}

/// Something that reacts to domain events of any tenant.
pub trait Subscriber: Send + Sync + 'static {
    /// Stable name (part of the per-subscriber job's de-duplication key).
    fn name(&self) -> &'static str;
    /// Whether the subscriber may have anything to do with `event` for the transaction's tenant
    /// (say, the tenant has a workflow on its kind). Asked inside the emitting transaction, so
    /// it must be a quick read; `false` spares a delivery job that would find nothing to do —
    /// most events of most tenants. The default answers yes; a wrong "no" loses the event for
    /// the subscriber, so answer no only when sure.
    fn wants<'a>(&'a self, tx: &'a mut TenantTx, event: &'a DomainEvent) -> BoxFuture<'a, StoreResult<bool>> {
        let _ = (tx, event);
        Box::pin(async { Ok(true) })
    }
    fn handle<'a>(&'a self, tenant: &'a TenantId, event: &'a DomainEvent) -> BoxFuture<'a, Result<(), JobError>>;
}

#[derive(Serialize, Deserialize)]
struct Delivery {
    subscriber: String,
    event: DomainEvent,
}

/// Makes these the subscribers of `db`'s events and registers their delivery jobs (and the
/// dispatch job of earlier versions).
pub fn register(db: &Db, registry: &mut JobRegistry, subscribers: Vec<Arc<dyn Subscriber>>) {
    let subscribers: Subscribers = Arc::new(subscribers);
    db.set_subscribers(subscribers.clone());
    let dispatch_to = subscribers.clone();
    registry.register(DISPATCH_JOB, move |job: Job| {
        let subscribers = dispatch_to.clone();
        async move {
            let event: DomainEvent = job.payload()?;
            let tenant = job.tenant()?.clone();
            let db = job.db.clone().ok_or_else(|| JobError::Permanent("no database handle".into()))?;
            let mut tx = db.tenant(&tenant).await?;
            fan_out(&mut tx, &subscribers, &event).await?;
            tx.commit().await?;
            Ok(())
        }
    });
    registry.register(DELIVER_JOB, move |job: Job| {
        let subscribers = subscribers.clone();
        async move {
            let delivery: Delivery = job.payload()?;
            let tenant = job.tenant()?.clone();
            match subscribers.iter().find(|s| s.name() == delivery.subscriber) {
                Some(s) => s.handle(&tenant, &delivery.event).await,
                None => Err(JobError::Permanent(format!("no subscriber {}", delivery.subscriber))),
            }
        }
    });
}
