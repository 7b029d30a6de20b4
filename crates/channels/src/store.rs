//! Channels' SQL, written once for SQLite and PostgreSQL. Secrets stay sealed here; only the
//! service opens them.

use crate::model::*;
use frontdesk_store::{AnyRow, Conditions, Row, StoreError, StoreResult, TenantTx, Tx};

/// A connected channel with its sealed secret.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub account: ChannelAccount,
    pub secret: String,
}

const ACCOUNT_COLS: &str = "channel, provider, account_id, sender, secret, secret_hint, created_at, updated_at";

fn account_from(r: &AnyRow) -> StoreResult<AccountRecord> {
    let channel: String = r.try_get("channel")?;
    let provider: String = r.try_get("provider")?;
    Ok(AccountRecord {
        account: ChannelAccount {
            channel: ChannelKind::parse(&channel)
                .ok_or_else(|| StoreError::Config(format!("unknown channel {channel:?} in channel_accounts")))?,
            provider: Provider::parse(&provider)
                .ok_or_else(|| StoreError::Config(format!("unknown provider {provider:?} in channel_accounts")))?,
            account_id: r.try_get("account_id")?,
            sender: r.try_get("sender")?,
            secret_hint: r.try_get("secret_hint")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        },
        secret: r.try_get("secret")?,
    })
}

pub async fn list_accounts(tx: &mut TenantTx) -> StoreResult<Vec<ChannelAccount>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {ACCOUNT_COLS} FROM channel_accounts WHERE tenant_id = $1 ORDER BY channel"
    ))
    .bind(tid)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| account_from(r).map(|a| a.account)).collect()
}

pub async fn account(tx: &mut TenantTx, channel: ChannelKind) -> StoreResult<AccountRecord> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!(
        "SELECT {ACCOUNT_COLS} FROM channel_accounts WHERE tenant_id = $1 AND channel = $2"
    ))
    .bind(tid)
    .bind(channel.as_str())
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    account_from(&row)
}

/// Connects the channel or replaces its account (keeping when it was first connected).
pub async fn upsert_account(tx: &mut TenantTx, a: &ChannelAccount, sealed_secret: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO channel_accounts (tenant_id, channel, provider, account_id, sender, secret, secret_hint,
                                       created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, channel) DO UPDATE SET
             provider = excluded.provider, account_id = excluded.account_id, sender = excluded.sender,
             secret = excluded.secret, secret_hint = excluded.secret_hint, updated_at = excluded.updated_at",
    )
    .bind(tid)
    .bind(a.channel.as_str())
    .bind(a.provider.as_str())
    .bind(&a.account_id)
    .bind(&a.sender)
    .bind(sealed_secret)
    .bind(&a.secret_hint)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn delete_account(tx: &mut TenantTx, channel: ChannelKind) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query("DELETE FROM channel_accounts WHERE tenant_id = $1 AND channel = $2")
        .bind(tid)
        .bind(channel.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

const MESSAGE_COLS: &str = "id, channel, to_addr, body, template, state, provider, provider_message_id, attempts, \
                            last_error, origin, created_at, updated_at, sent_at";

fn message_from(r: &AnyRow) -> StoreResult<OutboundMessage> {
    let channel: String = r.try_get("channel")?;
    let provider: Option<String> = r.try_get("provider")?;
    Ok(OutboundMessage {
        id: OutboundMessageId::from_db(r.try_get("id")?),
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| StoreError::Config(format!("unknown channel {channel:?} in outbound_messages")))?,
        to: r.try_get("to_addr")?,
        text: r.try_get("body")?,
        template: match r.try_get::<Option<String>, _>("template")? {
            Some(json) => Some(
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Config(format!("outbound_messages.template is not a template: {e}")))?,
            ),
            None => None,
        },
        state: MessageState::parse(&r.try_get::<String, _>("state")?),
        provider: provider.as_deref().and_then(Provider::parse),
        provider_message_id: r.try_get("provider_message_id")?,
        attempts: r.try_get("attempts")?,
        error: r.try_get("last_error")?,
        origin: r.try_get("origin")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

pub async fn insert_message(tx: &mut TenantTx, m: &OutboundMessage) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO outbound_messages (tenant_id, id, channel, to_addr, body, state, attempts, origin, created_at,
                                        updated_at, template)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tid)
    .bind(m.id.as_str())
    .bind(m.channel.as_str())
    .bind(&m.to)
    .bind(&m.text)
    .bind(m.state.as_str())
    .bind(m.attempts)
    .bind(&m.origin)
    .bind(m.created_at)
    .bind(m.updated_at)
    .bind(m.template.as_ref().map(|t| serde_json::json!(t).to_string()))
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn message(tx: &mut TenantTx, id: &OutboundMessageId) -> StoreResult<OutboundMessage> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!(
        "SELECT {MESSAGE_COLS} FROM outbound_messages WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tid)
    .bind(id.as_str())
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    message_from(&row)
}

/// Newest first, from the tenant's primary key.
pub async fn list_messages(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
    let mut c = Conditions::tenant("tenant_id", tx.tid());
    c.and_if("id < ?", after);
    let sql = format!(
        "SELECT {MESSAGE_COLS} FROM outbound_messages WHERE {} ORDER BY id DESC LIMIT {}",
        c.sql(),
        c.next_param()
    );
    let rows = c.bind(frontdesk_store::query(&sql)).bind(i64::from(limit)).fetch_all(tx.conn()).await?;
    rows.iter().map(message_from).collect()
}

/// The outcome of one attempt at a queued message.
pub struct Attempt<'a> {
    pub state: MessageState,
    pub provider: Option<Provider>,
    pub provider_message_id: Option<&'a str>,
    pub error: Option<&'a str>,
    pub at: i64,
}

/// Records an attempt on a message that is still queued; `false` when another attempt already
/// finished it (the job ran twice).
pub async fn record_attempt(tx: &mut TenantTx, id: &OutboundMessageId, a: &Attempt<'_>) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let sent_at = (a.state == MessageState::Sent).then_some(a.at);
    let n = frontdesk_store::query(
        "UPDATE outbound_messages SET state = $3, provider = $4, provider_message_id = $5, last_error = $6,
                attempts = attempts + 1, updated_at = $7, sent_at = $8
         WHERE tenant_id = $1 AND id = $2 AND state = 'queued'",
    )
    .bind(tid)
    .bind(id.as_str())
    .bind(a.state.as_str())
    .bind(a.provider.map(Provider::as_str))
    .bind(a.provider_message_id)
    .bind(a.error)
    .bind(a.at)
    .bind(sent_at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Marks a held message as queued again (its channel is connected now).
pub async fn requeue(tx: &mut TenantTx, id: &OutboundMessageId, at: i64) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "UPDATE outbound_messages SET state = 'queued', last_error = NULL, updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND state IN ('held', 'failed')",
    )
    .bind(tid)
    .bind(id.as_str())
    .bind(at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}
