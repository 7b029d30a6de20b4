//! Automation's rules: webhook endpoints with their secrets, publishing events into the
//! delivery log (in the caller's transaction), replays; and workflows ([`Workflows`]): their
//! definitions, the engine that fires them on domain events and schedules, and the runner that
//! performs their steps. Every change is audited in its own transaction.

mod contacts;
mod deliveries;
mod endpoints;
mod engine;
pub mod matching;
mod runner;
mod validate;
mod workflows;

pub use contacts::{ContactActions, ContactFuture, ContactStepError, FollowUpRequest, DEFAULT_CONTACT};
pub(crate) use engine::register as register_workflow_jobs;
pub use engine::{WorkflowSubscriber, RUN_JOB, SCHEDULE_JOB};
pub use workflows::{Workflows, WORKFLOW_SECRET_PURPOSE};

use crate::model::*;
use crate::signature::WebhookSecret;
use crate::store;
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::error::Validator;
use frontdesk_kernel::time::{now_ms, to_rfc3339};
use frontdesk_kernel::{Error, Result};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::jobs::{self, NewJob};
use frontdesk_store::{Db, TenantTx};
use frontdesk_web::outbound::{self, OutboundError, OutboundPolicy};
use frontdesk_web::Principal;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The job that makes one delivery attempt.
pub const DELIVER_JOB: &str = "automation.webhook.deliver";
/// Keyring purpose of sealed signing secrets.
pub const SECRET_PURPOSE: &str = "webhook-secret";

/// When each attempt of a delivery runs, counted from the previous failure (the Standard
/// Webhooks / Svix schedule): immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
/// 10 h — eight attempts over about 27.5 hours. After the last, the delivery is `failed` and
/// stays in the log, where it can be replayed.
pub const RETRY_SCHEDULE: &[Duration] = &[
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

#[derive(Clone, Debug)]
pub struct AutomationConfig {
    /// Where deliveries may go. `allow_private` also permits plain `http://` endpoint URLs.
    pub outbound: OutboundPolicy,
    /// Delay before each attempt (see [`RETRY_SCHEDULE`]); its length is the number of attempts.
    pub retry_schedule: Vec<Duration>,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_overlap: Duration,
    /// Workflows a tenant may have (the plan's limit until billing lands and supplies it per
    /// plan). Creating one more answers 409 `workflow_limit`.
    pub max_workflows_per_tenant: u32,
    /// Delay before each further attempt of a failing workflow step (see
    /// [`WORKFLOW_RETRY_DELAYS`]); a step gets one attempt more than there are delays.
    pub workflow_retry_delays: Vec<Duration>,
}

/// A failing workflow step is tried five times: at once, then after 10 s, 1 min, 5 min and
/// 30 min; after that the run stops as `failed` with the step's error.
pub const WORKFLOW_RETRY_DELAYS: &[Duration] =
    &[Duration::from_secs(10), Duration::from_secs(60), Duration::from_secs(300), Duration::from_secs(1800)];

impl Default for AutomationConfig {
    fn default() -> Self {
        Self {
            outbound: OutboundPolicy {
                allow_private: false,
                // Receivers answer at the URL they registered; a redirect is a failed attempt.
                max_redirects: 0,
                timeout: Duration::from_secs(10),
                max_body_bytes: 256 * 1024,
                allow_hosts: Vec::new(),
            },
            retry_schedule: RETRY_SCHEDULE.to_vec(),
            rotation_overlap: Duration::from_secs(24 * 3600),
            max_workflows_per_tenant: 50,
            workflow_retry_delays: WORKFLOW_RETRY_DELAYS.to_vec(),
        }
    }
}

/// The automation capability's service. Cheap to clone.
#[derive(Clone)]
pub struct Automation {
    pub(crate) db: Db,
    pub(crate) keys: Keyring,
    pub(crate) config: Arc<AutomationConfig>,
    pub(crate) client: reqwest::Client,
}

impl Automation {
    pub fn new(db: Db, keys: Keyring, config: AutomationConfig) -> std::result::Result<Self, OutboundError> {
        let client = outbound::safe_client(&config.outbound)?;
        Ok(Self { db, keys, config: Arc::new(config), client })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn config(&self) -> &AutomationConfig {
        &self.config
    }

    async fn tx(&self, principal: &Principal) -> Result<TenantTx> {
        Ok(self.db.tenant(principal.tenant()?).await?)
    }

    async fn read_tx(&self, principal: &Principal) -> Result<TenantTx> {
        Ok(self.db.tenant_read(principal.tenant()?).await?)
    }

    pub(crate) fn seal(&self, secret: &WebhookSecret) -> String {
        self.keys.seal(SECRET_PURPOSE, secret.expose().as_bytes())
    }

    /// The secrets that sign now: the current one, and the previous one during its overlap.
    pub(crate) fn signing_secrets(&self, rec: &store::EndpointRecord, now: i64) -> Result<Vec<WebhookSecret>> {
        let open = |sealed: &str| -> Result<WebhookSecret> {
            let bytes = self.keys.open(SECRET_PURPOSE, sealed).map_err(Error::internal)?;
            let text = String::from_utf8(bytes).map_err(Error::internal)?;
            WebhookSecret::parse(&text).map_err(Error::internal)
        };
        let mut secrets = vec![open(&rec.secret)?];
        if let (Some(prev), Some(until)) = (&rec.previous_secret, rec.endpoint.previous_secret_until) {
            if until > now {
                secrets.push(open(prev)?);
            }
        }
        Ok(secrets)
    }

    /// Publishes an event to every enabled endpoint that wants it; see [`publish`].
    pub async fn publish(
        &self,
        tx: &mut TenantTx,
        event_type: &str,
        data: serde_json::Value,
    ) -> Result<Vec<WebhookDeliveryId>> {
        publish(tx, event_type, data).await
    }
}

/// Publishes an event: one delivery per enabled endpoint whose filter matches, each with its
/// job, written in the caller's transaction — so the event is delivered if and only if the
/// change it describes commits. Returns the deliveries made (none when no endpoint wants it).
pub async fn publish(tx: &mut TenantTx, event_type: &str, data: serde_json::Value) -> Result<Vec<WebhookDeliveryId>> {
    if let Err((code, message)) = check_event_type(event_type) {
        return Err(Error::bad_request(code, message));
    }
    let endpoints = store::enabled_endpoints(tx).await?;
    let envelope = envelope(event_type, data);
    let event_id = EventId::new();
    let mut made = Vec::new();
    for endpoint in endpoints.iter().filter(|e| e.wants(event_type)) {
        made.push(enqueue_delivery(tx, &endpoint.id, &event_id, event_type, envelope.clone(), None).await?);
    }
    Ok(made)
}

pub(crate) fn envelope(event_type: &str, data: serde_json::Value) -> serde_json::Value {
    json!({"type": event_type, "timestamp": to_rfc3339(now_ms()), "data": data})
}

/// Records a queued delivery and its first job (due after the schedule's first delay: now).
pub(crate) async fn enqueue_delivery(
    tx: &mut TenantTx,
    endpoint: &WebhookEndpointId,
    event_id: &EventId,
    event_type: &str,
    payload: serde_json::Value,
    replay_of: Option<WebhookDeliveryId>,
) -> Result<WebhookDeliveryId> {
    let now = now_ms();
    let delivery = WebhookDelivery {
        id: WebhookDeliveryId::new(),
        endpoint_id: endpoint.clone(),
        event_id: event_id.clone(),
        event_type: event_type.to_owned(),
        payload,
        state: DeliveryState::Queued,
        attempts: 0,
        next_attempt_at: Some(now),
        last_status: None,
        last_error: None,
        response_ms: None,
        replay_of,
        created_at: now,
        updated_at: now,
    };
    store::insert_delivery(tx, &delivery).await?;
    schedule_attempt(tx, &delivery.id, now).await?;
    Ok(delivery.id)
}

/// Queues one attempt. Failed answers are retried by the delivery log's schedule, not by the
/// job queue; the job's own retries only cover a worker that died mid-attempt or a database
/// error (delivery is at least once: receivers de-duplicate by `webhook-id`).
pub(crate) async fn schedule_attempt(tx: &mut TenantTx, id: &WebhookDeliveryId, at: i64) -> Result<()> {
    let job = NewJob::new(DELIVER_JOB, &json!({"delivery_id": id})).map_err(Error::internal)?.max_attempts(3).at(at);
    jobs::enqueue(tx, job).await?;
    Ok(())
}

/// Event type names: `contact.created`, `booking.cancelled`, … (lower case, digits, `._-`).
pub(crate) fn check_event_type(t: &str) -> std::result::Result<(), (&'static str, String)> {
    let ok = !t.is_empty()
        && t.len() <= 100
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(("invalid_event_type", format!("{t:?} is not an event type (lower case letters, digits, . _ -).")))
    }
}
