//! Test harness: a fresh SQLite database with a tenant, the automation service, a real job
//! worker, and a local receiver that verifies every request with our own `verify`.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use frontdesk_automation::model::*;
use frontdesk_automation::signature::{verify, WebhookSecret, DEFAULT_TOLERANCE};
use frontdesk_automation::{Automation, AutomationConfig, Workflows};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::TenantId;
use frontdesk_store::audit::Actor;
use frontdesk_store::jobs::{JobRegistry, Worker, WorkerConfig};
use frontdesk_store::{Db, DbConfig};
use frontdesk_web::{PermissionSet, Principal};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub struct Harness {
    pub db: Db,
    pub tenant: TenantId,
    pub automation: Automation,
    /// Workflows on `automation`, e-mailing through a real identity service's outbox.
    pub workflows: Workflows,
    pub identity: frontdesk_identity::Identity,
    /// The channels outbox that `message` steps write to (no channel connected: messages are held).
    pub channels: frontdesk_channels::Channels,
    pub principal: Principal,
    pub actor: Actor,
    _shutdown: watch::Sender<bool>,
}

pub fn keyring() -> Keyring {
    Keyring::new(&[42u8; 32], &[]).expect("keyring")
}

/// A shrunken schedule: `attempts` attempts, 50 ms apart.
pub fn config(allow_private: bool, attempts: usize) -> AutomationConfig {
    let mut c = AutomationConfig::default();
    c.outbound.allow_private = allow_private;
    c.outbound.timeout = Duration::from_secs(5);
    c.retry_schedule = (0..attempts).map(|i| Duration::from_millis(if i == 0 { 0 } else { 50 })).collect();
    c
}

/// `config` serves the API; `worker_config` (when given) is what the delivery worker runs with.
pub async fn harness(config: AutomationConfig, worker_config: Option<AutomationConfig>) -> Harness {
    harness_with(config, worker_config, None).await
}

/// [`harness`] whose workflows (and their worker) carry out contact steps through `contacts`.
pub async fn harness_with(
    config: AutomationConfig,
    worker_config: Option<AutomationConfig>,
    contacts: Option<Arc<dyn frontdesk_automation::ContactActions>>,
) -> Harness {
    let path = std::env::temp_dir().join(format!("fd-automation-{}.db", frontdesk_kernel::id::new_body()));
    let db_config = DbConfig::new(format!("sqlite://{}?mode=rwc", path.display()));
    let migrations = [
        frontdesk_store::MIGRATIONS,
        frontdesk_identity::MIGRATIONS,
        frontdesk_automation::MIGRATIONS,
        frontdesk_channels::MIGRATIONS,
    ]
    .concat();
    frontdesk_store::migrate::run(&db_config, &migrations).await.expect("migrate");
    let db = Db::connect(&db_config).await.expect("connect");

    let tenant = frontdesk_identity::testing::insert_tenant(&db).await.expect("tenant");

    let automation = Automation::new(db.clone(), keyring(), config).expect("service");
    let worker_automation = match worker_config {
        Some(c) => Automation::new(db.clone(), keyring(), c).expect("worker service"),
        None => automation.clone(),
    };
    let identity = frontdesk_identity::Identity::new(
        db.clone(),
        keyring(),
        Arc::new(frontdesk_web::RateLimiter::in_memory()),
        frontdesk_identity::IdentityConfig::default(),
    );
    let channels =
        frontdesk_channels::Channels::new(db.clone(), keyring(), frontdesk_channels::ChannelsConfig::default())
            .expect("channels");
    let with_contacts = |w: Workflows| {
        let w = w.with_channels(channels.clone());
        match &contacts {
            Some(c) => w.with_contacts(c.clone()),
            None => w,
        }
    };
    let workflows = with_contacts(Workflows::new(automation.clone(), identity.clone()));
    let mut registry = JobRegistry::new();
    frontdesk_automation::register_jobs(&mut registry, worker_automation.clone());
    frontdesk_channels::register_jobs(&mut registry, channels.clone());
    frontdesk_automation::register_workflow_jobs(
        &mut registry,
        with_contacts(Workflows::new(worker_automation, identity.clone())),
    );
    let worker_config = WorkerConfig { poll_interval: Duration::from_millis(20), ..WorkerConfig::default() };
    let (shutdown, rx) = watch::channel(false);
    tokio::spawn(Worker::new(db.clone(), registry, worker_config).run(rx));

    let principal = Principal::api_key(tenant.clone(), "key_test", "test key".into(), PermissionSet::all());
    Harness {
        db,
        tenant,
        automation,
        workflows,
        identity,
        channels,
        principal,
        actor: Actor::system("test"),
        _shutdown: shutdown,
    }
}

impl Harness {
    pub async fn endpoint(&self, url: &str, event_types: &[&str]) -> WebhookEndpointWithSecret {
        let req = CreateEndpointRequest {
            url: url.into(),
            description: "test".into(),
            event_types: event_types.iter().map(|s| s.to_string()).collect(),
        };
        self.automation.create_endpoint(&self.principal, req, &self.actor).await.expect("create endpoint")
    }

    /// Publishes in a tenant transaction and commits it.
    pub async fn publish(&self, event_type: &str, data: serde_json::Value) -> Vec<WebhookDeliveryId> {
        let mut tx = self.db.tenant(&self.tenant).await.expect("tx");
        let ids = frontdesk_automation::publish(&mut tx, event_type, data).await.expect("publish");
        tx.commit().await.expect("commit");
        ids
    }

    pub async fn delivery(&self, id: &WebhookDeliveryId) -> WebhookDelivery {
        self.automation.delivery(&self.principal, id).await.expect("delivery")
    }

    /// Waits until the delivery leaves `queued`.
    pub async fn settled(&self, id: &WebhookDeliveryId) -> WebhookDelivery {
        for _ in 0..250 {
            let d = self.delivery(id).await;
            if d.state != DeliveryState::Queued {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("delivery {id} still queued: {:?}", self.delivery(id).await);
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// Whether our `verify` accepted it with the receiver's secrets.
    pub verified: bool,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub addr: SocketAddr,
    inner: Arc<Mutex<ReceiverState>>,
}

struct ReceiverState {
    secrets: Vec<WebhookSecret>,
    /// Status for the n-th request (0-based); the last entry repeats.
    plan: Vec<u16>,
    received: Vec<Received>,
}

impl Receiver {
    pub async fn start(plan: &[u16]) -> Receiver {
        let inner =
            Arc::new(Mutex::new(ReceiverState { secrets: Vec::new(), plan: plan.to_vec(), received: Vec::new() }));
        let app = axum::Router::new().route("/hook", post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Receiver { url: format!("http://{addr}/hook"), addr, inner }
    }

    pub fn trust(&self, secret: &str) {
        let secret = WebhookSecret::parse(secret).expect("secret");
        self.inner.lock().expect("lock").secrets = vec![secret];
    }

    pub fn set_plan(&self, plan: &[u16]) {
        let mut s = self.inner.lock().expect("lock");
        s.plan = plan.to_vec();
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }
}

async fn receive(State(state): State<Arc<Mutex<ReceiverState>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut s = state.lock().expect("lock");
    let verified = verify(&headers, &body, &s.secrets, DEFAULT_TOLERANCE).is_ok();
    let n = s.received.len();
    let status = s.plan.get(n).or(s.plan.last()).copied().unwrap_or(200);
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    s.received.push(Received { headers, body, verified });
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}
