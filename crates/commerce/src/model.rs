//! The tenant's Stripe account, the payments Stripe reported, and dunning cases.

use frontdesk_kernel::define_id;
use frontdesk_kernel::money::{Currency, Money};
use frontdesk_kernel::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A payment Stripe reported (one per payment outcome: a failed invoice attempt, a paid
    /// invoice, a completed checkout).
    PaymentId,
    "pay"
);
define_id!(
    /// One dunning process: retries of one unpaid invoice on a schedule.
    DunningCaseId,
    "dun"
);

/// The tenant's connected Stripe account, as the API shows it: never the keys, only their end.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct StripeAccount {
    /// Stripe's account id (`acct_…`), as `GET /v1/account` reported it when connecting.
    pub account_id: String,
    /// The business name on the Stripe account, when it has one.
    pub display_name: Option<String>,
    /// The account's default currency (upper case); revenue is counted in it.
    pub default_currency: String,
    /// A live key (`sk_live_…`, `rk_live_…`) rather than a test-mode one.
    pub livemode: bool,
    /// The last four characters of the secret (or restricted) key.
    pub secret_key_hint: String,
    /// The last four characters of the webhook signing secret.
    pub webhook_secret_hint: String,
    /// Where Stripe must send the account's events (add it as a webhook endpoint in Stripe).
    pub webhook_url: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// Connects the tenant's Stripe account, or changes its keys.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStripeRequest {
    /// A secret key (`sk_live_…`, `sk_test_…`) or a restricted key (`rk_…`) with read access to
    /// the account and write access to invoices. Required when connecting; omit it to keep the
    /// stored one.
    #[serde(default)]
    pub secret_key: Option<String>,
    /// The signing secret of the webhook endpoint (`whsec_…`). Required when connecting; omit it
    /// to keep the stored one.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// Where a payment came from in Stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    /// An invoice (memberships and other subscriptions): `invoice.paid`, `invoice.payment_failed`.
    Invoice,
    /// A one-off Checkout payment (payment links): `checkout.session.completed`,
    /// `checkout.session.async_payment_succeeded` / `_failed`.
    Checkout,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentSource::Invoice => "invoice",
            PaymentSource::Checkout => "checkout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [PaymentSource::Invoice, PaymentSource::Checkout].into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Succeeded,
    Failed,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Succeeded => "succeeded",
            PaymentState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [PaymentState::Succeeded, PaymentState::Failed].into_iter().find(|p| p.as_str() == s)
    }
}

/// One payment outcome Stripe reported.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub source: PaymentSource,
    pub state: PaymentState,
    /// The invoice (`in_…`) or Checkout Session (`cs_…`).
    pub stripe_object_id: String,
    /// The Stripe event that reported it (`evt_…`).
    pub stripe_event_id: String,
    /// Stripe's customer (`cus_…`), when there is one.
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    /// Paid, or due when it failed.
    pub amount: Money,
    /// Invoices: how many times Stripe has tried to collect it.
    pub attempt_count: Option<i64>,
    /// Why it failed, in Stripe's words, when Stripe said.
    pub failure: Option<String>,
    /// Invoices: the page where the customer can pay it.
    pub hosted_invoice_url: Option<String>,
    /// When Stripe created the event (UTC ms).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DunningState {
    /// Retries are scheduled.
    Active,
    /// The invoice was paid (by a retry or otherwise).
    Recovered,
    /// Every retry failed.
    Exhausted,
    /// Stopped by a person, or the invoice was voided or written off in Stripe.
    Cancelled,
}

impl DunningState {
    pub fn as_str(self) -> &'static str {
        match self {
            DunningState::Active => "active",
            DunningState::Recovered => "recovered",
            DunningState::Exhausted => "exhausted",
            DunningState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DunningState::Active, DunningState::Recovered, DunningState::Exhausted, DunningState::Cancelled]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Hours after the start of dunning at which the invoice's payment is retried, when the
/// workflow does not say: a day, three days and a week, like common dunning schedules.
pub const DEFAULT_RETRY_HOURS: [u32; 3] = [24, 72, 168];
/// At most this many retries per case.
pub const MAX_RETRIES: usize = 8;
/// The last retry at most this long after the start (60 days).
pub const MAX_RETRY_HOURS: u32 = 24 * 60;

/// One unpaid invoice being collected: its payment is retried in Stripe on a schedule until it
/// is paid, the schedule runs out, or someone stops it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DunningCase {
    pub id: DunningCaseId,
    /// The Stripe invoice (`in_…`).
    pub invoice_id: String,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    /// Due, as the starting event reported it.
    pub amount: Option<Money>,
    pub state: DunningState,
    /// Hours after `created_at` at which the payment is retried.
    pub retry_after_hours: Vec<u32>,
    /// Retries made so far.
    pub retries: i64,
    /// When the next retry is due (UTC ms); none once the case is closed.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_retry_at: Option<i64>,
    /// Stripe's answer to the last retry that did not collect the payment.
    pub last_error: Option<String>,
    /// The invoice's page where the customer can pay it (or update their card), from the
    /// starting event or the last look at the invoice.
    pub hosted_invoice_url: Option<String>,
    /// What started it (`workflow wfl_…`, `api`).
    pub origin: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<i64>,
}

/// Starts dunning for an invoice (the API; workflows use their `stripe_dunning` step).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDunningRequest {
    /// The Stripe invoice (`in_…`).
    pub invoice_id: String,
    /// Hours after now at which to retry the payment, increasing (1–8 of them, the last at most
    /// 60 days away); a day, three days and a week when left out.
    #[serde(default)]
    pub retry_after_hours: Option<Vec<u32>>,
}

/// A Stripe amount (`amount_due`, `amount_total`) in `currency` (lower case in Stripe).
pub(crate) fn money(minor: Option<i64>, currency: Option<&str>) -> Option<Money> {
    let currency = Currency::parse(currency?).ok()?;
    Some(Money { minor: minor?, currency })
}
