//! Commerce's SQL, written once for SQLite and PostgreSQL. Keys stay sealed here; only the
//! service opens them.

use crate::model::*;
use frontdesk_kernel::money::{Currency, Money};
use frontdesk_store::{AnyRow, Conditions, Row, StoreError, StoreResult, TenantTx, Tx};

/// The connected account as stored: both keys sealed.
#[derive(Debug, Clone, Default)]
pub struct AccountRecord {
    pub account_id: String,
    pub display_name: Option<String>,
    pub default_currency: String,
    pub livemode: bool,
    pub secret_key: String,
    pub secret_key_hint: String,
    pub webhook_secret: String,
    pub webhook_secret_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn account(tx: &mut TenantTx) -> StoreResult<AccountRecord> {
    let tid = tx.tid().to_owned();
    let r = frontdesk_store::query(
        "SELECT account_id, display_name, default_currency, livemode, secret_key, secret_key_hint, webhook_secret,
                webhook_secret_hint, created_at, updated_at
         FROM stripe_accounts WHERE tenant_id = $1",
    )
    .bind(tid)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(AccountRecord {
        account_id: r.try_get("account_id")?,
        display_name: r.try_get("display_name")?,
        default_currency: r.try_get("default_currency")?,
        livemode: r.try_get::<i64, _>("livemode")? != 0,
        secret_key: r.try_get("secret_key")?,
        secret_key_hint: r.try_get("secret_key_hint")?,
        webhook_secret: r.try_get("webhook_secret")?,
        webhook_secret_hint: r.try_get("webhook_secret_hint")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Connects the account or replaces it (keeping when it was first connected).
pub async fn upsert_account(tx: &mut TenantTx, a: &AccountRecord) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO stripe_accounts (tenant_id, account_id, display_name, default_currency, livemode, secret_key,
                                      secret_key_hint, webhook_secret, webhook_secret_hint, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (tenant_id) DO UPDATE SET
             account_id = excluded.account_id, display_name = excluded.display_name,
             default_currency = excluded.default_currency, livemode = excluded.livemode,
             secret_key = excluded.secret_key, secret_key_hint = excluded.secret_key_hint,
             webhook_secret = excluded.webhook_secret, webhook_secret_hint = excluded.webhook_secret_hint,
             updated_at = excluded.updated_at",
    )
    .bind(tid)
    .bind(&a.account_id)
    .bind(&a.display_name)
    .bind(&a.default_currency)
    .bind(i64::from(a.livemode))
    .bind(&a.secret_key)
    .bind(&a.secret_key_hint)
    .bind(&a.webhook_secret)
    .bind(&a.webhook_secret_hint)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn delete_account(tx: &mut TenantTx) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query("DELETE FROM stripe_accounts WHERE tenant_id = $1")
        .bind(tid)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---------------- events ----------------

/// Stores a received event; `false` when it was already there (Stripe delivers at least once).
pub async fn insert_event(tx: &mut TenantTx, id: &str, kind: &str, payload: &str, at: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "INSERT INTO stripe_events (tenant_id, id, type, payload, received_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, id) DO NOTHING",
    )
    .bind(tid)
    .bind(id)
    .bind(kind)
    .bind(payload)
    .bind(at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    Ok(n == 1)
}

/// A stored event: its type, payload, and whether it was processed.
pub struct StoredEvent {
    pub kind: String,
    pub payload: String,
    pub processed: bool,
}

pub async fn event(tx: &mut TenantTx, id: &str) -> StoreResult<StoredEvent> {
    let tid = tx.tid().to_owned();
    let r = frontdesk_store::query(
        "SELECT type, payload, processed_at FROM stripe_events WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tid)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(StoredEvent {
        kind: r.try_get("type")?,
        payload: r.try_get("payload")?,
        processed: r.try_get::<Option<i64>, _>("processed_at")?.is_some(),
    })
}

/// Marks an event processed; `false` when another run already did.
pub async fn mark_processed(tx: &mut TenantTx, id: &str, outcome: &str, at: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "UPDATE stripe_events SET processed_at = $3, outcome = $4 WHERE tenant_id = $1 AND id = $2 AND processed_at IS NULL",
    )
    .bind(tid)
    .bind(id)
    .bind(at)
    .bind(outcome)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

// ---------------- payments ----------------

const PAYMENT_COLS: &str = "id, source, state, stripe_object_id, stripe_event_id, customer_id, customer_email, \
                            customer_name, amount, currency, attempt_count, failure, hosted_invoice_url, occurred_at, \
                            created_at";

fn currency_of(code: &str, table: &str) -> StoreResult<Currency> {
    Currency::parse(code).map_err(|_| StoreError::Config(format!("{table}.currency {code:?} is not a currency")))
}

fn payment_from(r: &AnyRow) -> StoreResult<Payment> {
    let source: String = r.try_get("source")?;
    let state: String = r.try_get("state")?;
    let currency: String = r.try_get("currency")?;
    Ok(Payment {
        id: PaymentId::from_db(r.try_get("id")?),
        source: PaymentSource::parse(&source)
            .ok_or_else(|| StoreError::Config(format!("unknown payment source {source:?}")))?,
        state: PaymentState::parse(&state)
            .ok_or_else(|| StoreError::Config(format!("unknown payment state {state:?}")))?,
        stripe_object_id: r.try_get("stripe_object_id")?,
        stripe_event_id: r.try_get("stripe_event_id")?,
        customer_id: r.try_get("customer_id")?,
        customer_email: r.try_get("customer_email")?,
        customer_name: r.try_get("customer_name")?,
        amount: Money { minor: r.try_get("amount")?, currency: currency_of(&currency, "payments")? },
        attempt_count: r.try_get("attempt_count")?,
        failure: r.try_get("failure")?,
        hosted_invoice_url: r.try_get("hosted_invoice_url")?,
        occurred_at: r.try_get("occurred_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Records a payment outcome; `false` when its event was already recorded.
pub async fn insert_payment(tx: &mut TenantTx, p: &Payment) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(&format!(
        "INSERT INTO payments (tenant_id, {PAYMENT_COLS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (tenant_id, stripe_event_id) DO NOTHING"
    ))
    .bind(tid)
    .bind(p.id.as_str())
    .bind(p.source.as_str())
    .bind(p.state.as_str())
    .bind(&p.stripe_object_id)
    .bind(&p.stripe_event_id)
    .bind(&p.customer_id)
    .bind(&p.customer_email)
    .bind(&p.customer_name)
    .bind(p.amount.minor)
    .bind(p.amount.currency.as_str())
    .bind(p.attempt_count)
    .bind(&p.failure)
    .bind(&p.hosted_invoice_url)
    .bind(p.occurred_at)
    .bind(p.created_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    Ok(n == 1)
}

/// Newest first, optionally only one state.
pub async fn list_payments(
    tx: &mut TenantTx,
    state: Option<PaymentState>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Payment>> {
    let mut c = Conditions::tenant("tenant_id", tx.tid());
    c.and_if("state = ?", state.map(PaymentState::as_str));
    c.and_if("id < ?", after);
    let sql =
        format!("SELECT {PAYMENT_COLS} FROM payments WHERE {} ORDER BY id DESC LIMIT {}", c.sql(), c.next_param());
    let rows = c.bind(frontdesk_store::query(&sql)).bind(i64::from(limit)).fetch_all(tx.conn()).await?;
    rows.iter().map(payment_from).collect()
}

// ---------------- dunning ----------------

const CASE_COLS: &str = "id, invoice_id, customer_id, customer_email, amount, currency, state, retry_after_hours, \
                         retries, next_retry_at, last_error, origin, created_at, updated_at, closed_at, \
                         hosted_invoice_url";

fn case_from(r: &AnyRow) -> StoreResult<DunningCase> {
    let state: String = r.try_get("state")?;
    let hours: String = r.try_get("retry_after_hours")?;
    let amount: Option<i64> = r.try_get("amount")?;
    let currency: Option<String> = r.try_get("currency")?;
    let amount = match (amount, currency) {
        (Some(minor), Some(code)) => Some(Money { minor, currency: currency_of(&code, "dunning_cases")? }),
        _ => None,
    };
    Ok(DunningCase {
        id: DunningCaseId::from_db(r.try_get("id")?),
        invoice_id: r.try_get("invoice_id")?,
        customer_id: r.try_get("customer_id")?,
        customer_email: r.try_get("customer_email")?,
        amount,
        state: DunningState::parse(&state)
            .ok_or_else(|| StoreError::Config(format!("unknown dunning state {state:?}")))?,
        retry_after_hours: serde_json::from_str(&hours)
            .map_err(|e| StoreError::Config(format!("dunning_cases.retry_after_hours: {e}")))?,
        retries: r.try_get("retries")?,
        next_retry_at: r.try_get("next_retry_at")?,
        last_error: r.try_get("last_error")?,
        hosted_invoice_url: r.try_get("hosted_invoice_url")?,
        origin: r.try_get("origin")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

pub async fn insert_case(tx: &mut TenantTx, c: &DunningCase) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(&format!(
        "INSERT INTO dunning_cases (tenant_id, {CASE_COLS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(tid)
    .bind(c.id.as_str())
    .bind(&c.invoice_id)
    .bind(&c.customer_id)
    .bind(&c.customer_email)
    .bind(c.amount.map(|m| m.minor))
    .bind(c.amount.map(|m| m.currency.as_str().to_owned()))
    .bind(c.state.as_str())
    .bind(serde_json::json!(c.retry_after_hours).to_string())
    .bind(c.retries)
    .bind(c.next_retry_at)
    .bind(&c.last_error)
    .bind(&c.origin)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.closed_at)
    .bind(&c.hosted_invoice_url)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn case(tx: &mut TenantTx, id: &DunningCaseId) -> StoreResult<DunningCase> {
    let tid = tx.tid().to_owned();
    let row =
        frontdesk_store::query(&format!("SELECT {CASE_COLS} FROM dunning_cases WHERE tenant_id = $1 AND id = $2"))
            .bind(tid)
            .bind(id.as_str())
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
    case_from(&row)
}

/// The invoice's active case, if it has one.
pub async fn active_case(tx: &mut TenantTx, invoice_id: &str) -> StoreResult<Option<DunningCase>> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!(
        "SELECT {CASE_COLS} FROM dunning_cases WHERE tenant_id = $1 AND invoice_id = $2 AND state = 'active'"
    ))
    .bind(tid)
    .bind(invoice_id)
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(case_from).transpose()
}

/// Newest first, optionally only one state.
pub async fn list_cases(
    tx: &mut TenantTx,
    state: Option<DunningState>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<DunningCase>> {
    let mut c = Conditions::tenant("tenant_id", tx.tid());
    c.and_if("state = ?", state.map(DunningState::as_str));
    c.and_if("id < ?", after);
    let sql =
        format!("SELECT {CASE_COLS} FROM dunning_cases WHERE {} ORDER BY id DESC LIMIT {}", c.sql(), c.next_param());
    let rows = c.bind(frontdesk_store::query(&sql)).bind(i64::from(limit)).fetch_all(tx.conn()).await?;
    rows.iter().map(case_from).collect()
}

/// Writes a case's progress, only if it is still active with `retries_before` retries (so two
/// runs of one step, or a step racing a cancellation, cannot both write); `false` otherwise.
pub async fn update_active_case(tx: &mut TenantTx, c: &DunningCase, retries_before: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "UPDATE dunning_cases SET state = $3, retries = $4, next_retry_at = $5, last_error = $6, updated_at = $7,
                closed_at = $8, hosted_invoice_url = $10
         WHERE tenant_id = $1 AND id = $2 AND state = 'active' AND retries = $9",
    )
    .bind(tid)
    .bind(c.id.as_str())
    .bind(c.state.as_str())
    .bind(c.retries)
    .bind(c.next_retry_at)
    .bind(&c.last_error)
    .bind(c.updated_at)
    .bind(c.closed_at)
    .bind(retries_before)
    .bind(&c.hosted_invoice_url)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}
