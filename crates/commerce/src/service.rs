//! Commerce's rules: connecting the tenant's Stripe account (keys checked with Stripe, sealed,
//! never shown again), receiving Stripe's events (signature checked, stored before they are
//! acknowledged, processed by a job into payments and domain events), and dunning.
//!
//! A payment outcome becomes the domain event `payment.succeeded` or `payment.failed`, which
//! workflows trigger on (and which the outbound webhooks forward). A workflow's
//! `stripe_dunning` step (or the API) starts a dunning case for a failed invoice: its payment is
//! retried in Stripe on a schedule until it is paid (`dunning.recovered`), every retry has
//! failed (`dunning.exhausted`), or someone stops it. Each retry is a job scheduled in the
//! transaction that decided it, so a crash or a Stripe outage loses none.

use crate::model::*;
use crate::store::{self, AccountRecord};
use crate::stripe::{self, CallError};
use frontdesk_kernel::crypto::{secret_hint, Keyring};
use frontdesk_kernel::error::{FieldErrorKind, Validator};
use frontdesk_kernel::money::Money;
use frontdesk_kernel::time::{now_ms, to_rfc3339};
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::events;
use frontdesk_store::jobs::{self, Job, JobError, JobRegistry, NewJob};
use frontdesk_store::{Db, StoreError, TenantTx};
use frontdesk_web::outbound::{self, OutboundError, OutboundPolicy};
use frontdesk_web::Principal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The job that turns one stored Stripe event into payments and domain events.
pub const EVENT_JOB: &str = "commerce.stripe_event";
/// The job that makes one dunning retry.
pub const DUNNING_JOB: &str = "commerce.dunning_retry";
/// Keyring purpose of the sealed Stripe keys.
pub const SECRET_PURPOSE: &str = "stripe-secret";

/// Domain events commerce emits.
pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const DUNNING_RECOVERED: &str = "dunning.recovered";
pub const DUNNING_EXHAUSTED: &str = "dunning.exhausted";
/// A retry was declined and the next one is scheduled (for reminders to the customer).
pub const DUNNING_RETRY_FAILED: &str = "dunning.retry_failed";

/// The Stripe event types Frontdesk stores and processes; others are acknowledged and dropped.
pub const HANDLED_EVENTS: &[&str] = &[
    "invoice.paid",
    "invoice.payment_failed",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
];

/// The largest webhook body accepted (Stripe's event objects are a few KB).
pub const MAX_WEBHOOK_BYTES: usize = 512 * 1024;

#[derive(Clone, Debug)]
pub struct CommerceConfig {
    /// Stripe's API root (operators change it only for a proxy or a test double).
    pub stripe_api_url: Url,
    /// How Stripe is reached (timeout, body limit; `allow_private` only for test doubles).
    pub outbound: OutboundPolicy,
    /// The server's public URL, for the webhook address the tenant gives Stripe.
    pub public_url: String,
}

impl Default for CommerceConfig {
    fn default() -> Self {
        Self {
            stripe_api_url: Url::parse("https://api.stripe.com/").unwrap_or_else(|_| unreachable!("constant URL")),
            outbound: OutboundPolicy {
                allow_private: false,
                max_redirects: 0,
                timeout: Duration::from_secs(20),
                max_body_bytes: 1024 * 1024,
                allow_hosts: Vec::new(),
            },
            public_url: "http://localhost:8080".into(),
        }
    }
}

/// The commerce capability's service. Cheap to clone.
#[derive(Clone)]
pub struct Commerce {
    db: Db,
    keys: Keyring,
    config: Arc<CommerceConfig>,
    client: reqwest::Client,
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored and queued for processing.
    Stored,
    /// Already stored by an earlier delivery of the same event.
    Duplicate,
    /// A type Frontdesk does not use: acknowledged, not stored.
    Ignored,
}

impl Commerce {
    pub fn new(db: Db, keys: Keyring, config: CommerceConfig) -> std::result::Result<Self, OutboundError> {
        let client = outbound::safe_client(&config.outbound)?;
        Ok(Self { db, keys, config: Arc::new(config), client })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn stripe<'a>(&'a self, secret_key: &'a str) -> stripe::Client<'a> {
        stripe::Client {
            http: &self.client,
            policy: &self.config.outbound,
            base: &self.config.stripe_api_url,
            secret_key,
        }
    }

    fn open(&self, sealed: &str) -> Option<String> {
        self.keys.open(SECRET_PURPOSE, sealed).ok().and_then(|b| String::from_utf8(b).ok())
    }

    /// Where Stripe must send the tenant's events.
    pub fn webhook_url(&self, tenant: &TenantId) -> String {
        format!("{}/api/v1/public/stripe/{tenant}/webhook", self.config.public_url.trim_end_matches('/'))
    }

    fn view(&self, tenant: &TenantId, a: &AccountRecord) -> StripeAccount {
        StripeAccount {
            account_id: a.account_id.clone(),
            display_name: a.display_name.clone(),
            default_currency: a.default_currency.clone(),
            livemode: a.livemode,
            secret_key_hint: a.secret_key_hint.clone(),
            webhook_secret_hint: a.webhook_secret_hint.clone(),
            webhook_url: self.webhook_url(tenant),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }

    // ---------------- the account ----------------

    /// The connected account; `None` when there is none.
    pub async fn account(&self, p: &Principal) -> Result<Option<StripeAccount>> {
        let tenant = p.tenant()?;
        let mut tx = self.db.tenant_read(tenant).await?;
        match store::account(&mut tx).await {
            Ok(a) => Ok(Some(self.view(tenant, &a))),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Connects the tenant's Stripe account, or changes its keys. A new secret key is checked
    /// with Stripe (`GET /v1/account`) before anything is stored: a key Stripe refuses is a field
    /// error, and Stripe being unreachable is a 503 that stores nothing.
    pub async fn connect(&self, p: &Principal, req: ConnectStripeRequest, actor: &Actor) -> Result<StripeAccount> {
        let tenant = p.tenant()?;
        let existing = {
            let mut tx = self.db.tenant_read(tenant).await?;
            match store::account(&mut tx).await {
                Ok(a) => Some(a),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let mut v = Validator::new();
        let given = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let secret_key = match given(&req.secret_key) {
            Some(k) => v.check("secret_key", check_secret_key(&k)),
            None if existing.is_none() => {
                v.push("secret_key", "required", "Paste the account's secret or restricted key.");
                None
            }
            None => None,
        };
        let webhook_secret = match given(&req.webhook_secret) {
            Some(s) => v.check("webhook_secret", check_webhook_secret(&s)),
            None if existing.is_none() => {
                v.push("webhook_secret", "required", "Paste the webhook endpoint's signing secret (whsec_…).");
                None
            }
            None => None,
        };
        v.finish()?;

        // The key is checked with Stripe outside any transaction: no connection waits on Stripe.
        let checked = match &secret_key {
            Some(key) => Some(self.check_with_stripe(key).await?),
            None => None,
        };
        // The stored account with what was given laid over it (validation made sure a new
        // account is given both secrets).
        let now = now_ms();
        let seal = |s: &str| self.keys.seal(SECRET_PURPOSE, s.as_bytes());
        let mut record = existing.unwrap_or_else(|| AccountRecord { created_at: now, ..AccountRecord::default() });
        record.updated_at = now;
        if let (Some(key), Some(info)) = (&secret_key, checked) {
            record.account_id = info.account_id;
            record.display_name = info.display_name;
            record.default_currency = info.default_currency;
            record.livemode = key.contains("_live_");
            record.secret_key = seal(key);
            record.secret_key_hint = secret_hint(key);
        }
        if let Some(secret) = &webhook_secret {
            record.webhook_secret = seal(secret);
            record.webhook_secret_hint = secret_hint(secret);
        }
        let mut tx = self.db.tenant(tenant).await?;
        store::upsert_account(&mut tx, &record).await?;
        let change = Change::new("stripe.connected", "stripe_account", Some(&record.account_id)).details(json!({
            "livemode": record.livemode,
            "secret_key_changed": secret_key.is_some(),
            "webhook_secret_changed": webhook_secret.is_some(),
        }));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant, stripe_account = %record.account_id, "stripe account connected");
        Ok(self.view(tenant, &record))
    }

    async fn check_with_stripe(&self, key: &str) -> Result<CheckedAccount> {
        match self.stripe(key).account().await {
            Ok(account) => {
                let account_id = account["id"].as_str().unwrap_or_default().to_owned();
                let currency = account["default_currency"].as_str().unwrap_or_default().to_ascii_uppercase();
                if !account_id.starts_with("acct_") || currency.len() != 3 {
                    return Err(Error::Unavailable { detail: "Stripe answered without an account id.".into() });
                }
                let display_name = account["settings"]["dashboard"]["display_name"]
                    .as_str()
                    .or(account["business_profile"]["name"].as_str())
                    .map(str::to_owned);
                Ok(CheckedAccount { account_id, display_name, default_currency: currency })
            }
            Err(CallError::Retry(why)) => {
                Err(Error::Unavailable { detail: format!("Stripe could not be reached to check the key: {why}") })
            }
            Err(CallError::Refused { message, .. } | CallError::Declined(message)) => {
                Err(Error::field("secret_key", "rejected", format!("Stripe did not accept this key: {message}")))
            }
        }
    }

    pub async fn disconnect(&self, p: &Principal, actor: &Actor) -> Result<()> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        store::delete_account(&mut tx).await?;
        audit::record(&mut tx, actor, Change::new("stripe.disconnected", "stripe_account", None)).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- webhooks ----------------

    /// A delivery from Stripe for `tenant`: its signature is checked with the tenant's signing
    /// secret; an event Frontdesk uses is stored and its processing queued before this returns
    /// (Stripe is acknowledged only once nothing can be lost). An unknown tenant, or one without
    /// a connected account, is a 404; a bad signature a 400 (Stripe retries, then alerts).
    pub async fn receive(&self, tenant: &TenantId, signature: Option<&str>, body: &[u8]) -> Result<Receipt> {
        // Read first: a forged or stray delivery never takes the writer.
        let account = {
            let mut tx = self.db.tenant_read(tenant).await?;
            store::account(&mut tx).await?
        };
        let Some(secret) = self.open(&account.webhook_secret) else {
            tracing::error!(tenant_id = %tenant, "cannot open the Stripe webhook secret (was the master key changed?)");
            return Err(Error::Unavailable {
                detail: "The webhook secret cannot be read; connect Stripe again.".into(),
            });
        };
        let now = now_ms() / 1000;
        if let Err(e) = stripe::verify(signature, body, &secret, now) {
            tracing::warn!(tenant_id = %tenant, error = %e, "stripe webhook refused");
            return Err(Error::bad_request("invalid_signature", format!("Stripe-Signature: {e}.")));
        }
        #[derive(Deserialize)]
        struct Envelope {
            id: String,
            #[serde(rename = "type")]
            kind: String,
        }
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|_| Error::bad_request("invalid_payload", "The body is not a Stripe event."))?;
        if !envelope.id.starts_with("evt_") || envelope.id.len() > 255 {
            return Err(Error::bad_request("invalid_payload", "The event has no Stripe event id."));
        }
        if !HANDLED_EVENTS.contains(&envelope.kind.as_str()) {
            return Ok(Receipt::Ignored);
        }
        let text =
            std::str::from_utf8(body).map_err(|_| Error::bad_request("invalid_payload", "The body is not UTF-8."))?;
        let mut tx = self.db.tenant(tenant).await?;
        if !store::insert_event(&mut tx, &envelope.id, &envelope.kind, text, now_ms()).await? {
            return Ok(Receipt::Duplicate);
        }
        let job = NewJob::new(EVENT_JOB, &json!({"event_id": envelope.id}))?
            .dedupe(format!("stripe:{tenant}:{}", envelope.id));
        jobs::enqueue(&mut tx, job).await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant, stripe_event = %envelope.id, kind = %envelope.kind, "stripe event stored");
        Ok(Receipt::Stored)
    }

    /// Processes one stored event (the event job): records the payment it reports, emits the
    /// domain event, and closes the invoice's dunning case when it was paid. Idempotent.
    async fn process_event(&self, job: &Job) -> std::result::Result<(), JobError> {
        #[derive(Deserialize)]
        struct Payload {
            event_id: String,
        }
        let payload: Payload = job.payload()?;
        let tenant = job.tenant()?.clone();
        let mut tx = self.db.tenant(&tenant).await?;
        let stored = match store::event(&mut tx, &payload.event_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if stored.processed {
            return Ok(());
        }
        let event: Value = serde_json::from_str(&stored.payload)
            .map_err(|e| JobError::Permanent(format!("stored Stripe event is not JSON: {e}")))?;
        let outcome = match payment_of(&event, &stored.kind) {
            Ok(Some(payment)) => {
                let note = format!("{} {} payment {}", payment.source.as_str(), payment.state.as_str(), payment.id);
                if store::insert_payment(&mut tx, &payment).await? {
                    let kind = match payment.state {
                        PaymentState::Succeeded => PAYMENT_SUCCEEDED,
                        PaymentState::Failed => PAYMENT_FAILED,
                    };
                    events::emit(&mut tx, kind, payment_event_data(&payment, &event)).await?;
                    if payment.state == PaymentState::Succeeded && payment.source == PaymentSource::Invoice {
                        self.close_paid_invoice(&mut tx, &payment.stripe_object_id)
                            .await
                            .map_err(|e| JobError::Transient(e.to_string()))?;
                    }
                }
                note
            }
            Ok(None) => "ignored: nothing was paid".to_owned(),
            Err(why) => format!("ignored: {why}"),
        };
        store::mark_processed(&mut tx, &payload.event_id, &outcome, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An invoice was paid: its active dunning case is recovered.
    async fn close_paid_invoice(&self, tx: &mut TenantTx, invoice_id: &str) -> Result<()> {
        if let Some(case) = store::active_case(tx, invoice_id).await? {
            self.close(tx, case, DunningState::Recovered, None, false).await?;
        }
        Ok(())
    }

    // ---------------- payments ----------------

    pub async fn payments(
        &self,
        p: &Principal,
        state: Option<PaymentState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Payment>> {
        let mut tx = self.db.tenant_read(p.tenant()?).await?;
        Ok(store::list_payments(&mut tx, state, after, limit).await?)
    }

    // ---------------- dunning ----------------

    pub async fn dunning_cases(
        &self,
        p: &Principal,
        state: Option<DunningState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DunningCase>> {
        let mut tx = self.db.tenant_read(p.tenant()?).await?;
        Ok(store::list_cases(&mut tx, state, after, limit).await?)
    }

    pub async fn dunning_case(&self, p: &Principal, id: &DunningCaseId) -> Result<DunningCase> {
        let mut tx = self.db.tenant_read(p.tenant()?).await?;
        Ok(store::case(&mut tx, id).await?)
    }

    /// Starts dunning from the API.
    pub async fn start_dunning_for(
        &self,
        p: &Principal,
        req: StartDunningRequest,
        actor: &Actor,
    ) -> Result<DunningCase> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        let start = DunningStart {
            invoice_id: req.invoice_id,
            retry_after_hours: req.retry_after_hours,
            ..DunningStart::default()
        };
        let case = self.start_dunning(&mut tx, start, "api").await?;
        let change = Change::new("dunning.started", "dunning_case", Some(case.id.as_str()))
            .details(json!({"invoice_id": case.invoice_id}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(case)
    }

    /// Starts dunning for an invoice in the caller's transaction (a workflow step): the case and
    /// its first retry exist exactly when the transaction commits. An invoice that already has
    /// an active case keeps it (a second start changes nothing). Bad input is a validation error
    /// on `invoice_id` or `retry_after_hours`.
    pub async fn start_dunning(&self, tx: &mut TenantTx, start: DunningStart, origin: &str) -> Result<DunningCase> {
        let mut v = Validator::new();
        let invoice_id = v.check("invoice_id", check_invoice_id(&start.invoice_id));
        let hours = v.check("retry_after_hours", check_retry_hours(start.retry_after_hours.as_deref()));
        v.finish()?;
        let (Some(invoice_id), Some(hours)) = (invoice_id, hours) else {
            return Err(Error::internal("checked dunning start incomplete"));
        };
        if let Some(existing) = store::active_case(tx, &invoice_id).await? {
            return Ok(existing);
        }
        let now = now_ms();
        let first = now + hours_ms(hours[0]);
        let case = DunningCase {
            id: DunningCaseId::new(),
            invoice_id,
            customer_id: start.customer_id,
            customer_email: start.customer_email,
            amount: start.amount,
            state: DunningState::Active,
            retry_after_hours: hours,
            retries: 0,
            next_retry_at: Some(first),
            last_error: None,
            hosted_invoice_url: start.hosted_invoice_url.filter(|u| u.starts_with("https://")),
            origin: origin.chars().take(200).collect(),
            created_at: now,
            updated_at: now,
            closed_at: None,
        };
        store::insert_case(tx, &case).await?;
        schedule_retry(tx, &case).await?;
        Ok(case)
    }

    /// Stops an active case.
    pub async fn cancel_dunning(&self, p: &Principal, id: &DunningCaseId, actor: &Actor) -> Result<DunningCase> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        let case = store::case(&mut tx, id).await?;
        if case.state != DunningState::Active {
            return Err(Error::conflict("not_active", "Only an active dunning case can be stopped."));
        }
        let case = self.close(&mut tx, case, DunningState::Cancelled, Some("Stopped by a team member."), false).await?;
        audit::record(&mut tx, actor, Change::new("dunning.cancelled", "dunning_case", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(case)
    }

    /// Closes an active case (as stored) in `state`, counting one more retry when `retried`;
    /// recovered and exhausted cases emit their event.
    async fn close(
        &self,
        tx: &mut TenantTx,
        case: DunningCase,
        state: DunningState,
        note: Option<&str>,
        retried: bool,
    ) -> Result<DunningCase> {
        let now = now_ms();
        let before = case.retries;
        let closed = DunningCase {
            state,
            retries: before + i64::from(retried),
            next_retry_at: None,
            last_error: note.map(str::to_owned).or(case.last_error.clone()),
            updated_at: now,
            closed_at: Some(now),
            ..case
        };
        if !store::update_active_case(tx, &closed, before).await? {
            return Err(Error::conflict("not_active", "The dunning case changed meanwhile; reload it."));
        }
        let kind = match state {
            DunningState::Recovered => Some(DUNNING_RECOVERED),
            DunningState::Exhausted => Some(DUNNING_EXHAUSTED),
            DunningState::Active | DunningState::Cancelled => None,
        };
        if let Some(kind) = kind {
            events::emit(tx, kind, dunning_event_data(&closed)).await?;
        }
        Ok(closed)
    }

    /// One retry of a case (the dunning job): looks at the invoice in Stripe; an open one is
    /// charged again (`POST /v1/invoices/{id}/pay`). Paid → recovered; declined → the next
    /// retry, or exhausted after the last; voided or written off in Stripe → cancelled. Stripe
    /// being unreachable retries the job (the retry is not counted); any other refusal (a
    /// revoked key, a missing account) counts as a failed retry with Stripe's words.
    async fn retry(&self, job: &Job) -> std::result::Result<(), JobError> {
        #[derive(Deserialize)]
        struct Payload {
            case_id: DunningCaseId,
            retry: i64,
        }
        let payload: Payload = job.payload()?;
        let tenant = job.tenant()?.clone();
        let (case, account) = {
            let mut tx = self.db.tenant_read(&tenant).await?;
            let case = match store::case(&mut tx, &payload.case_id).await {
                Ok(c) => c,
                Err(StoreError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let account = match store::account(&mut tx).await {
                Ok(a) => Some(a),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            (case, account)
        };
        let mut case = case;
        if case.state != DunningState::Active || case.retries != payload.retry {
            return Ok(()); // closed meanwhile, or this retry was already made
        }
        let result = match account.as_ref().map(|a| (a, self.open(&a.secret_key))) {
            None => Err("No Stripe account is connected.".to_owned()),
            Some((_, None)) => {
                Err("Cannot open the Stripe key (was the master key changed?): connect Stripe again.".into())
            }
            Some((_, Some(key))) => {
                let stripe = self.stripe(&key);
                let mut hosted = None;
                let collected = self.collect(&stripe, &case, &mut hosted).await;
                if hosted.is_some() {
                    case.hosted_invoice_url = hosted;
                }
                match collected {
                    Ok(verdict) => Ok(verdict),
                    Err(CallError::Retry(why)) => {
                        tracing::warn!(tenant_id = %tenant, case_id = %case.id, error = %why, "stripe unreachable; dunning retry postponed");
                        return Err(JobError::Transient(why));
                    }
                    Err(CallError::Declined(why) | CallError::Refused { message: why, .. }) => Err(why),
                }
            }
        };
        let mut tx = self.db.tenant(&tenant).await?;
        let outcome = match result {
            Ok(Verdict::Paid { charged }) => {
                self.close(&mut tx, case.clone(), DunningState::Recovered, None, charged).await.map(|_| "recovered")
            }
            Ok(Verdict::Closed(why)) => {
                self.close(&mut tx, case.clone(), DunningState::Cancelled, Some(&why), false).await.map(|_| "cancelled")
            }
            Err(why) => self.failed_retry(&mut tx, &case, &why).await,
        };
        match outcome {
            Ok(what) => {
                tx.commit().await?;
                tracing::info!(tenant_id = %tenant, case_id = %case.id, outcome = what, "dunning retry done");
                Ok(())
            }
            Err(Error::Conflict { .. }) => Ok(()), // another run or a cancellation got there first
            Err(e) => Err(JobError::Transient(e.to_string())),
        }
    }

    /// What Stripe says about the invoice, after charging it when it is still open.
    async fn collect(
        &self,
        stripe: &stripe::Client<'_>,
        case: &DunningCase,
        hosted_invoice_url: &mut Option<String>,
    ) -> std::result::Result<Verdict, CallError> {
        let invoice = stripe.invoice(&case.invoice_id).await?;
        *hosted_invoice_url =
            invoice["hosted_invoice_url"].as_str().filter(|u| u.starts_with("https://")).map(str::to_owned);
        match invoice["status"].as_str() {
            Some("paid") => return Ok(Verdict::Paid { charged: false }),
            Some("void") => return Ok(Verdict::Closed("The invoice was voided in Stripe.".into())),
            Some("uncollectible") => {
                return Ok(Verdict::Closed("The invoice was marked uncollectible in Stripe.".into()))
            }
            Some("open") => {}
            other => {
                let status = other.unwrap_or("unknown");
                return Ok(Verdict::Closed(format!("The invoice is {status} in Stripe, not open.")));
            }
        }
        let key = format!("frontdesk-{}-retry-{}", case.id, case.retries + 1);
        let paid = match stripe.pay_invoice(&case.invoice_id, &key).await {
            Ok(invoice) => invoice,
            // Paid between the look and the charge (the member, or Stripe's own retries): Stripe
            // refuses to charge a paid invoice, which is a recovery, not a failed retry.
            Err(CallError::Refused { .. })
                if stripe.invoice(&case.invoice_id).await.is_ok_and(|i| i["status"] == "paid") =>
            {
                return Ok(Verdict::Paid { charged: false })
            }
            Err(e) => return Err(e),
        };
        match paid["status"].as_str() {
            Some("paid") => Ok(Verdict::Paid { charged: true }),
            other => Err(CallError::Declined(format!("Stripe left the invoice {}.", other.unwrap_or("unpaid")))),
        }
    }

    /// A retry that did not collect: the next is scheduled, or the case is exhausted.
    async fn failed_retry(&self, tx: &mut TenantTx, case: &DunningCase, why: &str) -> Result<&'static str> {
        let retries = case.retries + 1;
        let next = usize::try_from(retries).ok().and_then(|i| case.retry_after_hours.get(i)).copied();
        let why: String = why.chars().take(500).collect();
        match next {
            Some(hours) => {
                let now = now_ms();
                let next_case = DunningCase {
                    retries,
                    next_retry_at: Some(case.created_at + hours_ms(hours)).map(|at| at.max(now)),
                    last_error: Some(why),
                    updated_at: now,
                    ..case.clone()
                };
                if !store::update_active_case(tx, &next_case, case.retries).await? {
                    return Err(Error::conflict("not_active", "The dunning case changed meanwhile."));
                }
                schedule_retry(tx, &next_case).await?;
                events::emit(tx, DUNNING_RETRY_FAILED, dunning_event_data(&next_case)).await?;
                Ok("declined; next retry scheduled")
            }
            None => {
                self.close(tx, case.clone(), DunningState::Exhausted, Some(&why), true).await?;
                Ok("exhausted")
            }
        }
    }
}

/// What dunning knows when it starts (from the `payment.failed` event, when a workflow starts it).
#[derive(Clone, Debug, Default)]
pub struct DunningStart {
    pub invoice_id: String,
    pub retry_after_hours: Option<Vec<u32>>,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub amount: Option<Money>,
    /// Where the customer can pay the invoice (`payment.failed`'s `hosted_invoice_url`).
    pub hosted_invoice_url: Option<String>,
}

struct CheckedAccount {
    account_id: String,
    display_name: Option<String>,
    default_currency: String,
}

enum Verdict {
    /// Paid: by this retry's charge, or already before it.
    Paid { charged: bool },
    /// Not collectable any more (voided, written off): the case is cancelled with this reason.
    Closed(String),
}

fn hours_ms(hours: u32) -> i64 {
    i64::from(hours) * 3_600_000
}

async fn schedule_retry(tx: &mut TenantTx, case: &DunningCase) -> Result<()> {
    let at = case.next_retry_at.unwrap_or_else(now_ms);
    let job = NewJob::new(DUNNING_JOB, &json!({"case_id": case.id, "retry": case.retries}))?
        .at(at)
        .dedupe(format!("dunning:{}:{}", case.id, case.retries))
        .max_attempts(20);
    jobs::enqueue(tx, job).await?;
    Ok(())
}

/// A Stripe secret (`sk_`) or restricted (`rk_`) key, live or test.
pub fn check_secret_key(key: &str) -> std::result::Result<String, FieldErrorKind> {
    let prefixed = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"].iter().any(|p| key.starts_with(p));
    if !prefixed || key.len() < 20 || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(FieldErrorKind::new(
            "invalid_key",
            "A Stripe secret key starts with sk_live_ or sk_test_ (restricted keys: rk_live_, rk_test_).",
        ));
    }
    Ok(key.to_owned())
}

/// A webhook endpoint's signing secret (`whsec_…`).
pub fn check_webhook_secret(secret: &str) -> std::result::Result<String, FieldErrorKind> {
    let body = secret.strip_prefix("whsec_").unwrap_or_default();
    if body.len() < 16 || secret.len() > 255 || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(FieldErrorKind::new(
            "invalid_secret",
            "A webhook signing secret starts with whsec_ (Stripe shows it on the webhook endpoint's page).",
        ));
    }
    Ok(secret.to_owned())
}

/// A Stripe invoice id (`in_…`).
pub fn check_invoice_id(id: &str) -> std::result::Result<String, FieldErrorKind> {
    let id = id.trim();
    let body = id.strip_prefix("in_").unwrap_or_default();
    if body.is_empty() || id.len() > 255 || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(FieldErrorKind::new("invalid_invoice", "A Stripe invoice id starts with in_."));
    }
    Ok(id.to_owned())
}

/// A retry schedule: 1–8 increasing hours, the last within 60 days; the default when absent.
pub fn check_retry_hours(hours: Option<&[u32]>) -> std::result::Result<Vec<u32>, FieldErrorKind> {
    let Some(hours) = hours else { return Ok(DEFAULT_RETRY_HOURS.to_vec()) };
    if hours.is_empty() || hours.len() > MAX_RETRIES {
        return Err(FieldErrorKind::new("invalid_schedule", format!("Give 1 to {MAX_RETRIES} retry times, in hours.")));
    }
    if hours[0] == 0 || hours.windows(2).any(|w| w[1] <= w[0]) {
        return Err(FieldErrorKind::new(
            "invalid_schedule",
            "Retry times are hours after the start, increasing, from 1.",
        ));
    }
    if hours.last().is_some_and(|&h| h > MAX_RETRY_HOURS) {
        return Err(FieldErrorKind::new("invalid_schedule", "The last retry must be within 60 days (1440 hours)."));
    }
    Ok(hours.to_vec())
}

/// The payment a Stripe event reports: `Ok(None)` when it reports none (a free invoice, a
/// subscription Checkout whose invoice reports the payment, an unpaid asynchronous Checkout),
/// `Err` when its object is not what its type promises.
fn payment_of(event: &Value, kind: &str) -> std::result::Result<Option<Payment>, String> {
    let object = &event["data"]["object"];
    let id = object["id"].as_str().ok_or("the event's object has no id")?;
    let event_id = event["id"].as_str().ok_or("the event has no id")?;
    let occurred_at = event["created"].as_i64().map_or_else(now_ms, |s| s * 1000);
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(|s| s.chars().take(500).collect::<String>());
    // `customer` is an id, or the customer object when the endpoint expands it.
    let customer_id = text(&object["customer"]).or_else(|| text(&object["customer"]["id"]));
    let (source, state, amount, email, name) = match kind {
        "invoice.paid" | "invoice.payment_failed" => {
            let paid = kind == "invoice.paid";
            let minor = if paid { object["amount_paid"].as_i64() } else { object["amount_due"].as_i64() };
            if paid && minor == Some(0) {
                return Ok(None);
            }
            let state = if paid { PaymentState::Succeeded } else { PaymentState::Failed };
            (PaymentSource::Invoice, state, minor, text(&object["customer_email"]), text(&object["customer_name"]))
        }
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed" => {
            if object["mode"].as_str() != Some("payment") {
                return Ok(None); // subscriptions are counted by their invoices
            }
            let state = match (kind, object["payment_status"].as_str()) {
                ("checkout.session.async_payment_failed", _) => PaymentState::Failed,
                (_, Some("paid")) => PaymentState::Succeeded,
                _ => return Ok(None), // paid later, asynchronously: reported by async_payment_*
            };
            let details = &object["customer_details"];
            (
                PaymentSource::Checkout,
                state,
                object["amount_total"].as_i64(),
                text(&details["email"]),
                text(&details["name"]),
            )
        }
        other => return Err(format!("{other} is not a payment event")),
    };
    let amount = money(amount, object["currency"].as_str()).ok_or("the object has no amount or currency")?;
    let failure = text(&object["last_payment_error"]["message"]);
    Ok(Some(Payment {
        id: PaymentId::new(),
        source,
        state,
        stripe_object_id: id.to_owned(),
        stripe_event_id: event_id.to_owned(),
        customer_id,
        customer_email: email,
        customer_name: name,
        amount,
        attempt_count: (source == PaymentSource::Invoice).then(|| object["attempt_count"].as_i64()).flatten(),
        failure,
        hosted_invoice_url: text(&object["hosted_invoice_url"]).filter(|u| u.starts_with("https://")),
        occurred_at,
        created_at: now_ms(),
    }))
}

/// What `payment.succeeded` / `payment.failed` carry: what a workflow needs to act (message the
/// customer the invoice's page, start dunning), never card details.
fn payment_event_data(p: &Payment, event: &Value) -> Value {
    let object = &event["data"]["object"];
    let mut data = json!({
        "payment_id": p.id,
        "source": p.source,
        "state": p.state,
        "stripe_object_id": p.stripe_object_id,
        "stripe_event_id": p.stripe_event_id,
        "customer_id": p.customer_id,
        "customer_email": p.customer_email,
        "customer_name": p.customer_name,
        "amount": p.amount.minor,
        "currency": p.amount.currency.as_str(),
        "amount_text": p.amount.display(),
        "failure": p.failure,
        "livemode": event["livemode"].as_bool().unwrap_or(false),
        // For a workflow's WhatsApp or SMS to the customer: Stripe keeps it in E.164.
        "customer_phone": object["customer_phone"].as_str().or(object["customer_details"]["phone"].as_str()),
    });
    if p.source == PaymentSource::Invoice {
        data["invoice_id"] = json!(p.stripe_object_id);
        data["attempt_count"] = json!(p.attempt_count);
        data["hosted_invoice_url"] = json!(p.hosted_invoice_url);
        data["next_payment_attempt"] = json!(object["next_payment_attempt"].as_i64().map(|s| to_rfc3339(s * 1000)));
    } else {
        data["checkout_session_id"] = json!(p.stripe_object_id);
    }
    data
}

fn dunning_event_data(c: &DunningCase) -> Value {
    json!({
        "dunning_case_id": c.id,
        "invoice_id": c.invoice_id,
        "state": c.state,
        "customer_id": c.customer_id,
        "customer_email": c.customer_email,
        "amount": c.amount.map(|m| m.minor),
        "currency": c.amount.map(|m| m.currency.as_str().to_owned()),
        "amount_text": c.amount.map(|m| m.display()),
        "retries": c.retries,
        "retries_planned": c.retry_after_hours.len(),
        "next_retry_at": c.next_retry_at.map(to_rfc3339),
        "last_error": c.last_error,
        "hosted_invoice_url": c.hosted_invoice_url,
    })
}

/// Registers the event and dunning jobs.
pub fn register_jobs(registry: &mut JobRegistry, commerce: Commerce) {
    let events = commerce.clone();
    registry.register(EVENT_JOB, move |job: Job| {
        let commerce = events.clone();
        async move { commerce.process_event(&job).await }
    });
    registry.register(DUNNING_JOB, move |job: Job| {
        let commerce = commerce.clone();
        async move { commerce.retry(&job).await }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_schedules_are_checked() {
        assert!(check_secret_key("sk_test_51H8dcfEXAMPLEkeyabc").is_ok());
        assert!(check_secret_key("rk_live_51H8dcfEXAMPLEkeyabc").is_ok());
        assert!(check_secret_key("pk_test_51H8dcfEXAMPLEkeyabc").is_err(), "a publishable key is not secret");
        assert!(check_secret_key("sk_test_short").is_err());
        assert!(check_webhook_secret("whsec_0123456789abcdefABCDEF").is_ok());
        assert!(check_webhook_secret("whsec_").is_err());
        assert!(check_invoice_id(" in_1MtHbELkdIwHu7ixl4OzzPMv ").is_ok());
        assert!(check_invoice_id("pi_123").is_err());
        assert_eq!(check_retry_hours(None), Ok(vec![24, 72, 168]));
        assert_eq!(check_retry_hours(Some(&[1, 2])), Ok(vec![1, 2]));
        assert!(check_retry_hours(Some(&[])).is_err());
        assert!(check_retry_hours(Some(&[0, 2])).is_err());
        assert!(check_retry_hours(Some(&[5, 5])).is_err());
        assert!(check_retry_hours(Some(&[1, 2000])).is_err());
        assert!(check_retry_hours(Some(&[1, 2, 3, 4, 5, 6, 7, 8, 9])).is_err());
    }

    #[test]
    fn payments_are_read_from_stripe_objects() {
        let failed = json!({"id": "evt_1", "type": "invoice.payment_failed", "created": 1_700_000_000, "livemode": false,
            "data": {"object": {"id": "in_1", "object": "invoice", "amount_due": 4900, "amount_paid": 0,
                "currency": "eur", "customer": "cus_1", "customer_email": "ada@example.com",
                "customer_name": "Ada", "attempt_count": 2, "next_payment_attempt": 1_700_086_400,
                "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1", "status": "open"}}});
        let p = payment_of(&failed, "invoice.payment_failed").expect("valid").expect("a payment");
        assert_eq!(
            (p.source, p.state, p.amount.display()),
            (PaymentSource::Invoice, PaymentState::Failed, "49.00 EUR".into())
        );
        assert_eq!((p.attempt_count, p.occurred_at), (Some(2), 1_700_000_000_000));
        let data = payment_event_data(&p, &failed);
        assert_eq!(data["invoice_id"], "in_1");
        assert_eq!(data["next_payment_attempt"], "2023-11-15T22:13:20Z");
        assert_eq!(data["customer_email"], "ada@example.com");

        let free = json!({"id": "evt_2", "data": {"object": {"id": "in_2", "amount_paid": 0, "currency": "eur"}}});
        assert_eq!(payment_of(&free, "invoice.paid"), Ok(None), "a free invoice is no payment");
        let subscription = json!({"id": "evt_3", "data": {"object": {"id": "cs_1", "mode": "subscription",
            "payment_status": "paid", "amount_total": 100, "currency": "eur"}}});
        assert_eq!(payment_of(&subscription, "checkout.session.completed"), Ok(None));
        let pending = json!({"id": "evt_4", "data": {"object": {"id": "cs_2", "mode": "payment",
            "payment_status": "unpaid", "amount_total": 100, "currency": "eur"}}});
        assert_eq!(payment_of(&pending, "checkout.session.completed"), Ok(None));
        let paid = json!({"id": "evt_5", "data": {"object": {"id": "cs_3", "mode": "payment",
            "payment_status": "paid", "amount_total": 2500, "currency": "usd",
            "customer_details": {"email": "bo@example.com", "name": "Bo"}}}});
        let p = payment_of(&paid, "checkout.session.completed").expect("valid").expect("a payment");
        assert_eq!(
            (p.state, p.customer_email.as_deref(), p.amount.display()),
            (PaymentState::Succeeded, Some("bo@example.com"), "25.00 USD".into())
        );
        let broken = json!({"id": "evt_6", "data": {"object": {"id": "in_3"}}});
        assert!(payment_of(&broken, "invoice.payment_failed").is_err());
    }
}
