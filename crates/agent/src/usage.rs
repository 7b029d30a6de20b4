//! Token accounting: every successful model call is recorded for the tenant it served.
//!
//! [`Metered`] is how the brain calls a model: each call names its tenant and purpose, so usage
//! cannot be recorded without one. [`TenantModel`] binds both for code that wants a plain
//! [`ChatProvider`]. Where records go is a [`UsageSink`]; storage (the `usage` table, billing's
//! meter) implements it, [`MemoryUsage`] serves tests.
//!
//! A caller that stores the outcome of its model calls in a transaction anyway (a chat turn
//! stores the reply) runs them inside [`deferred`]: their records are handed back instead of
//! written one transaction each, and the caller stores them with its own writes
//! ([`crate::settings::store_usage`]), so they commit, or fail, together.

use crate::model::{ChatEvent, ChatRequest, ChatResponse};
use crate::provider::{ChatProvider, EventStream, ProviderError};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, TenantId};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The tokens of one model call, for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub tenant_id: TenantId,
    /// The model that answered.
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// When the answer was complete (UTC milliseconds).
    pub at_ms: i64,
    /// What the call was for (`reply`, `routing`, `summary`, …).
    pub purpose: String,
}

/// Where usage records go.
pub trait UsageSink: Send + Sync {
    fn record(&self, r: UsageRecord) -> BoxFuture<'_, Result<(), Error>>;
}

/// Keeps records in memory (tests, the embedded mode before storage is wired).
#[derive(Debug, Default)]
pub struct MemoryUsage {
    records: Mutex<Vec<UsageRecord>>,
}

impl MemoryUsage {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn records(&self) -> Vec<UsageRecord> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A tenant's records.
    pub fn for_tenant(&self, tenant: &TenantId) -> Vec<UsageRecord> {
        self.records().into_iter().filter(|r| &r.tenant_id == tenant).collect()
    }
}

impl UsageSink for MemoryUsage {
    fn record(&self, r: UsageRecord) -> BoxFuture<'_, Result<(), Error>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(r);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A provider whose successful calls are recorded per tenant (inside [`deferred`]: handed to
/// its caller to record).
#[derive(Clone)]
pub struct Metered {
    provider: Arc<dyn ChatProvider>,
    sink: Arc<dyn UsageSink>,
}

impl fmt::Debug for Metered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metered").finish_non_exhaustive()
    }
}

impl Metered {
    pub fn new(provider: Arc<dyn ChatProvider>, sink: Arc<dyn UsageSink>) -> Self {
        Self { provider, sink }
    }

    /// The whole answer; its usage is recorded for `tenant` before it is returned.
    pub async fn complete(
        &self,
        tenant: &TenantId,
        purpose: &str,
        req: ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let answer = self.provider.complete(req).await?;
        record(&*self.sink, tenant, purpose, &answer).await;
        Ok(answer)
    }

    /// The streamed answer; usage is recorded when [`ChatEvent::Done`] passes (a stream dropped
    /// or failed before its end records nothing: the provider reported no usage for it).
    pub async fn stream(
        &self,
        tenant: &TenantId,
        purpose: &str,
        req: ChatRequest,
    ) -> Result<EventStream, ProviderError> {
        let events = self.provider.stream(req).await?;
        let meter = Arc::new((self.sink.clone(), tenant.clone(), purpose.to_owned()));
        Ok(events
            .then(move |item| {
                let meter = meter.clone();
                async move {
                    if let Ok(ChatEvent::Done(answer)) = &item {
                        let (sink, tenant, purpose) = &*meter;
                        record(&**sink, tenant, purpose, answer).await;
                    }
                    item
                }
            })
            .boxed())
    }

    /// This provider for one tenant and purpose, as a plain [`ChatProvider`].
    pub fn for_tenant(&self, tenant: TenantId, purpose: impl Into<String>) -> TenantModel {
        TenantModel { metered: self.clone(), tenant, purpose: purpose.into() }
    }
}

/// Usage that cannot be recorded is logged, not turned into a failed answer: the customer has
/// been answered, and the log keeps the numbers for reconciliation.
async fn record(sink: &dyn UsageSink, tenant: &TenantId, purpose: &str, answer: &ChatResponse) {
    let r = UsageRecord {
        tenant_id: tenant.clone(),
        model: answer.model.clone(),
        prompt_tokens: answer.usage.prompt_tokens,
        completion_tokens: answer.usage.completion_tokens,
        at_ms: now_ms(),
        purpose: purpose.to_owned(),
    };
    let Some(r) = defer(r) else { return };
    if let Err(e) = sink.record(r).await {
        tracing::error!(
            error = %e, tenant = %tenant, model = %answer.model, purpose,
            prompt_tokens = answer.usage.prompt_tokens, completion_tokens = answer.usage.completion_tokens,
            "model usage not recorded"
        );
    }
}

/// Where the records of [`deferred`] calls collect.
struct Deferral {
    tenant: TenantId,
    records: Arc<Mutex<Vec<UsageRecord>>>,
}

tokio::task_local! {
    static DEFERRAL: Deferral;
}

/// Runs `calls`, collecting the usage records of `tenant`'s [`Metered`] calls made on this task
/// instead of writing them, and returns them: the caller stores them (with
/// [`crate::settings::store_usage`]) in the transaction that stores what the calls produced.
/// Calls for other tenants, and calls on other tasks, go to their sink as usual.
pub async fn deferred<F: Future>(tenant: &TenantId, calls: F) -> (F::Output, Vec<UsageRecord>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let deferral = Deferral { tenant: tenant.clone(), records: records.clone() };
    let output = DEFERRAL.scope(deferral, calls).await;
    let records = std::mem::take(&mut *records.lock().unwrap_or_else(|e| e.into_inner()));
    (output, records)
}

/// Keeps `r` in the enclosing [`deferred`] scope when there is one for its tenant; otherwise
/// gives it back for the sink.
fn defer(r: UsageRecord) -> Option<UsageRecord> {
    let mut r = Some(r);
    let _ = DEFERRAL.try_with(|d| {
        if r.as_ref().is_some_and(|r| r.tenant_id == d.tenant) {
            if let Some(r) = r.take() {
                d.records.lock().unwrap_or_else(|e| e.into_inner()).push(r);
            }
        }
    });
    r
}

/// A [`Metered`] provider bound to one tenant and purpose.
#[derive(Clone)]
pub struct TenantModel {
    metered: Metered,
    tenant: TenantId,
    purpose: String,
}

impl fmt::Debug for TenantModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantModel").field("tenant", &self.tenant).field("purpose", &self.purpose).finish()
    }
}

impl TenantModel {
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

impl ChatProvider for TenantModel {
    fn complete(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(self.metered.complete(&self.tenant, &self.purpose, req))
    }

    fn stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(self.metered.stream(&self.tenant, &self.purpose, req))
    }
}
