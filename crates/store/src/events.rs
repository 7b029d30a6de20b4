//! Domain events: how capabilities tell each other what happened without reading each other's
//! tables. A capability emits an event inside its own transaction ([`emit`]); it is dispatched
//! only if that transaction commits. The dispatch job fans the event out into one job per
//! [`Subscriber`] (webhooks, workflows, …), so each subscriber retries on its own and a failing
//! one never blocks or repeats the others. Subscribers are idempotent by event id.

use crate::error::StoreResult;
use crate::jobs::{self, Job, JobError, JobRegistry, NewJob};
use crate::tx::TenantTx;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::TenantId;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The job that fans an event out to the subscribers.
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

/// Records `kind` with `data` for dispatch when the caller's transaction commits.
pub async fn emit(tx: &mut TenantTx, kind: &str, data: serde_json::Value) -> StoreResult<String> {
    let event = DomainEvent { id: EventId::new().to_string(), kind: kind.to_owned(), occurred_at: now_ms(), data };
    jobs::enqueue(tx, NewJob::new(DISPATCH_JOB, &event)?.max_attempts(20)).await?;
    Ok(event.id)
}

/// Something that reacts to domain events of any tenant.
pub trait Subscriber: Send + Sync + 'static {
    /// Stable name (part of the per-subscriber job's de-duplication key).
    fn name(&self) -> &'static str;
    /// Whether the subscriber may have anything to do with `event` for the transaction's tenant
    /// (say, the tenant has a workflow on its kind). Asked by the dispatch job in its own
    /// transaction; `false` spares a delivery job that would find nothing to do — most events
    /// of most tenants. The default answers yes; a wrong "no" loses the event for the subscriber,
    /// so answer no only when sure.
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

/// Registers the dispatch and delivery jobs for these subscribers.
pub fn register(registry: &mut JobRegistry, subscribers: Vec<Arc<dyn Subscriber>>) {
    let subscribers = Arc::new(subscribers);
    let dispatch_to = subscribers.clone();
    registry.register(DISPATCH_JOB, move |job: Job| {
        let subscribers = dispatch_to.clone();
        async move {
            let event: DomainEvent = job.payload()?;
            let tenant = job.tenant()?.clone();
            let db = job.db.clone().ok_or_else(|| JobError::Permanent("no database handle".into()))?;
            let mut tx = db.tenant(&tenant).await?;
            for subscriber in subscribers.iter() {
                if !subscriber.wants(&mut tx, &event).await? {
                    continue;
                }
                let name = subscriber.name();
                let delivery = Delivery { subscriber: name.to_owned(), event: event.clone() };
                // The dedupe key makes a re-run of this dispatch (after a crash) a no-op.
                let job = NewJob::new(DELIVER_JOB, &delivery)?.dedupe(format!("{}:{name}", event.id)).max_attempts(10);
                jobs::enqueue(&mut tx, job).await?;
            }
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
