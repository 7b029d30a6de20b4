//! Conversations' SQL, written once for both engines.

use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_store::{query, AnyRow, Conditions, Row, StoreError, StoreResult, SystemTx, TenantTx, Tx};

fn json_list<T: serde::de::DeserializeOwned>(s: Option<String>) -> Vec<T> {
    s.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

/// A value in the database that our own code never writes.
fn corrupt(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(what.into()))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

// ---- contacts ----------------------------------------------------------------------------

/// The contact behind a channel address.
pub async fn contact_by_identity(tx: &mut TenantTx, channel: Channel, address: &str) -> StoreResult<Option<ContactId>> {
    let tid = tx.tid().to_owned();
    let id: Option<String> = frontdesk_store::query_scalar(
        "SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND channel = $2 AND address = $3",
    )
    .bind(tid)
    .bind(channel.as_str())
    .bind(address)
    .fetch_optional(tx.conn())
    .await?;
    Ok(id.map(ContactId::from_db))
}

/// What a channel knows about a new contact.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
}

/// Creates a contact reachable at `address` on `channel`.
pub async fn insert_contact(
    tx: &mut TenantTx,
    id: &ContactId,
    c: &NewContact,
    channel: Channel,
    address: &str,
) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    query(
        "INSERT INTO contacts (tenant_id, id, name, email, phone, language, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&tid)
    .bind(id.as_str())
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.language)
    .bind(now)
    .execute(tx.conn())
    .await?;
    query(
        "INSERT INTO contact_identities (tenant_id, channel, address, contact_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&tid)
    .bind(channel.as_str())
    .bind(address)
    .bind(id.as_str())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn contact(tx: &mut TenantTx, id: &ContactId) -> StoreResult<Option<Contact>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT * FROM contacts WHERE tenant_id = $1 AND id = $2")
        .bind(&tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut contact = contact_from_row(&row)?;
    let identities = query(
        "SELECT channel, address FROM contact_identities WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at",
    )
    .bind(&tid)
    .bind(id.as_str())
    .fetch_all(tx.conn())
    .await?;
    for r in identities {
        let channel: String = r.try_get("channel")?;
        if let Some(channel) = Channel::parse(&channel) {
            contact.identities.push(ChannelIdentity { channel, address: r.try_get("address")? });
        }
    }
    Ok(Some(contact))
}

/// Contacts, newest first, optionally matching `q` in name, e-mail or phone.
pub async fn contacts(
    tx: &mut TenantTx,
    q: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Contact>> {
    let tid = tx.tid().to_owned();
    let pattern = q.map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
    let rows = query(
        "SELECT * FROM contacts WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2)
           AND ($3 IS NULL OR LOWER(COALESCE(name, '')) LIKE $3 OR LOWER(COALESCE(email, '')) LIKE $3
                OR COALESCE(phone, '') LIKE $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(&tid)
    .bind(after)
    .bind(pattern)
    .bind(limit as i64 + 1)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(contact_from_row).collect()
}

fn contact_from_row(r: &AnyRow) -> StoreResult<Contact> {
    Ok(Contact {
        id: ContactId::from_db(r.try_get("id")?),
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        language: r.try_get("language")?,
        consent_marketing: r
            .try_get::<i64, _>("consent_marketing")
            .or_else(|_| r.try_get::<i16, _>("consent_marketing").map(i64::from))?
            != 0,
        consent_updated_at: r.try_get("consent_updated_at")?,
        tags: json_list(r.try_get("tags")?),
        notes: r.try_get("notes")?,
        identities: Vec::new(),
        created_at: r.try_get("created_at")?,
    })
}

/// The editable fields of a contact, all already validated.
#[derive(Debug, Clone)]
pub struct ContactUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    pub consent_marketing: bool,
    pub tags: Vec<String>,
    pub notes: String,
}

pub async fn update_contact(tx: &mut TenantTx, id: &ContactId, u: &ContactUpdate) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let now = now_ms();
    let n = query(
        "UPDATE contacts SET name = $3, email = $4, phone = $5, language = $6,
            consent_updated_at = CASE WHEN consent_marketing <> $7 THEN $10 ELSE consent_updated_at END,
            consent_marketing = $7, tags = $8, notes = $9, updated_at = $10
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&tid)
    .bind(id.as_str())
    .bind(&u.name)
    .bind(&u.email)
    .bind(&u.phone)
    .bind(&u.language)
    .bind(i16::from(u.consent_marketing))
    .bind(to_json(&u.tags))
    .bind(&u.notes)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

// ---- conversations -----------------------------------------------------------------------

pub async fn insert_conversation(tx: &mut TenantTx, c: &Conversation) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO conversations (tenant_id, id, contact_id, channel, status, labels, last_message_at,
                                    created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, '[]', $6, $7, $7)",
    )
    .bind(tid)
    .bind(c.id.as_str())
    .bind(c.contact_id.as_str())
    .bind(c.channel.as_str())
    .bind(c.status.as_str())
    .bind(c.last_message_at)
    .bind(c.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn conversation(tx: &mut TenantTx, id: &ConversationId) -> StoreResult<Option<Conversation>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT * FROM conversations WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// What a turn needs to know of the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnContact {
    pub name: Option<String>,
    pub language: Option<String>,
}

macro_rules! conversation_for_turn_sql {
    () => {
        "SELECT c.*, p.name AS contact_name, p.language AS contact_language
         FROM conversations c LEFT JOIN contacts p ON p.tenant_id = c.tenant_id AND p.id = c.contact_id
         WHERE c.tenant_id = $1 AND c.id = $2"
    };
}
macro_rules! recent_messages_sql {
    () => {
        "SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND id <= $3
         ORDER BY id DESC LIMIT $4"
    };
}
/// SQLite: both of a turn's reads in one command (one call into the driver); the statements
/// share the numbered parameters.
const TURN_READS_SQLITE: &str = concat!(conversation_for_turn_sql!(), "; ", recent_messages_sql!());

/// What a turn reads before it answers: the conversation with its contact (`None` when it is
/// gone), and the conversation's newest `limit` messages up to `upto`, oldest first. On SQLite
/// one command; each statement sees committed data as of its start, as two queries would.
pub async fn turn_reads(
    tx: &mut TenantTx,
    id: &ConversationId,
    upto: &MessageId,
    limit: u32,
) -> StoreResult<(Option<(Conversation, TurnContact)>, Vec<Message>)> {
    let tid = tx.tid().to_owned();
    let (conversation, mut messages) = match tx.backend() {
        frontdesk_store::Backend::Sqlite => {
            let rows = query(TURN_READS_SQLITE)
                .bind(tid)
                .bind(id.as_str())
                .bind(upto.as_str())
                .bind(limit as i64)
                .fetch_all(tx.conn())
                .await?;
            // The first statement's row (if any) comes first, and only it has the contact's columns.
            match rows.split_first() {
                Some((first, rest)) if first.try_column("contact_name").is_ok() => {
                    (Some(turn_conversation_from_row(first)?), message_rows(rest)?)
                }
                _ => (None, message_rows(&rows)?),
            }
        }
        frontdesk_store::Backend::Postgres => {
            let row =
                query(conversation_for_turn_sql!()).bind(&tid).bind(id.as_str()).fetch_optional(tx.conn()).await?;
            let rows = query(recent_messages_sql!())
                .bind(&tid)
                .bind(id.as_str())
                .bind(upto.as_str())
                .bind(limit as i64)
                .fetch_all(tx.conn())
                .await?;
            (row.as_ref().map(turn_conversation_from_row).transpose()?, message_rows(&rows)?)
        }
    };
    messages.reverse();
    Ok((conversation, messages))
}

fn turn_conversation_from_row(row: &AnyRow) -> StoreResult<(Conversation, TurnContact)> {
    let contact = TurnContact { name: row.try_get("contact_name")?, language: row.try_get("contact_language")? };
    Ok((conversation_from_row(row)?, contact))
}

fn message_rows(rows: &[AnyRow]) -> StoreResult<Vec<Message>> {
    rows.iter().map(message_from_row).collect()
}

/// The conversation, locked until the transaction ends: on PostgreSQL `FOR UPDATE` makes
/// writers of one conversation wait for each other (and returns the version they committed);
/// SQLite's write transactions are already one at a time.
pub async fn lock_conversation(tx: &mut TenantTx, id: &ConversationId) -> StoreResult<Option<Conversation>> {
    let sql = match tx.backend() {
        frontdesk_store::Backend::Postgres => "SELECT * FROM conversations WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        frontdesk_store::Backend::Sqlite => "SELECT * FROM conversations WHERE tenant_id = $1 AND id = $2",
    };
    let tid = tx.tid().to_owned();
    let row = query(sql).bind(tid).bind(id.as_str()).fetch_optional(tx.conn()).await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// The contact's most recent conversation on a channel.
pub async fn latest_conversation(
    tx: &mut TenantTx,
    contact: &ContactId,
    channel: Channel,
) -> StoreResult<Option<Conversation>> {
    let tid = tx.tid().to_owned();
    let row = query(
        "SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel = $3
         ORDER BY id DESC LIMIT 1",
    )
    .bind(tid)
    .bind(contact.as_str())
    .bind(channel.as_str())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// [`latest_conversation`], locked until the transaction ends (one query): on PostgreSQL
/// `FOR UPDATE` makes writers of one conversation wait for each other and returns the version
/// they committed; SQLite's write transactions are already one at a time.
pub async fn latest_conversation_locked(
    tx: &mut TenantTx,
    contact: &ContactId,
    channel: Channel,
) -> StoreResult<Option<Conversation>> {
    let sql = match tx.backend() {
        frontdesk_store::Backend::Postgres => {
            "SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel = $3
             ORDER BY id DESC LIMIT 1 FOR UPDATE"
        }
        frontdesk_store::Backend::Sqlite => {
            "SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel = $3
             ORDER BY id DESC LIMIT 1"
        }
    };
    let tid = tx.tid().to_owned();
    let row = query(sql).bind(tid).bind(contact.as_str()).bind(channel.as_str()).fetch_optional(tx.conn()).await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// Serialises the transactions that may create the contact or the conversation of `address` on
/// `channel` until the transaction ends: two first messages from one new address (a customer
/// sending twice in a row) must make one contact and one conversation, not two or an error.
/// PostgreSQL: a transaction-scoped advisory lock on the address; SQLite's write transactions
/// are already one at a time.
pub async fn lock_address(tx: &mut TenantTx, channel: Channel, address: &str) -> StoreResult<()> {
    if tx.backend() == frontdesk_store::Backend::Postgres {
        let key = format!("{}:{}:{address}", tx.tid(), channel.as_str());
        query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(tx.conn()).await?;
    }
    Ok(())
}

/// The latest conversation on `channel` of the contact reachable at `address` there, locked like
/// [`latest_conversation_locked`] — one query for the common case of every message after the
/// first. `None` when the address is unknown or its contact has no conversation on the channel.
pub async fn latest_conversation_at_address(
    tx: &mut TenantTx,
    channel: Channel,
    address: &str,
) -> StoreResult<Option<Conversation>> {
    let sql = match tx.backend() {
        frontdesk_store::Backend::Postgres => {
            "SELECT * FROM conversations WHERE tenant_id = $1 AND channel = $2 AND contact_id =
                (SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND channel = $2 AND address = $3)
             ORDER BY id DESC LIMIT 1 FOR UPDATE"
        }
        frontdesk_store::Backend::Sqlite => {
            "SELECT * FROM conversations WHERE tenant_id = $1 AND channel = $2 AND contact_id =
                (SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND channel = $2 AND address = $3)
             ORDER BY id DESC LIMIT 1"
        }
    };
    let tid = tx.tid().to_owned();
    let row = query(sql).bind(tid).bind(channel.as_str()).bind(address).fetch_optional(tx.conn()).await?;
    row.as_ref().map(conversation_from_row).transpose()
}

pub async fn contact_conversations(tx: &mut TenantTx, contact: &ContactId) -> StoreResult<Vec<Conversation>> {
    let tid = tx.tid().to_owned();
    let rows = query("SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 ORDER BY id DESC LIMIT 200")
        .bind(tid)
        .bind(contact.as_str())
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(conversation_from_row).collect()
}

/// Which conversations the inbox shows, and in which order.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub status: Option<Status>,
    pub channel: Option<Channel>,
    /// A user id, or `Some("")` for unassigned.
    pub assignee: Option<String>,
    pub label: Option<String>,
    /// Customers waiting for a human the longest first (only conversations with a wait).
    pub waiting_longest: bool,
}

/// One page of the inbox. `after` is the `(sort key, id)` of the last row of the previous page.
pub async fn inbox(
    tx: &mut TenantTx,
    f: &InboxFilter,
    after: Option<(i64, String)>,
    limit: u32,
) -> StoreResult<Vec<Conversation>> {
    let (sql, conditions) = inbox_statement(tx.tid(), f, after);
    let rows = conditions.bind(query(&sql)).bind(limit as i64 + 1).fetch_all(tx.conn()).await?;
    rows.iter().map(conversation_from_row).collect()
}

/// The inbox's statement: only the filters that are set, so that a status filter comes from
/// `conversations_status` and the longest waits from `conversations_waiting` instead of a walk
/// of all the tenant's conversations. Its last parameter (after the conditions) is the limit.
pub fn inbox_statement(tenant: &str, f: &InboxFilter, after: Option<(i64, String)>) -> (String, Conditions) {
    let (order, key, cmp) = if f.waiting_longest {
        ("waiting_since ASC, id ASC", "waiting_since", ">")
    } else {
        ("last_message_at DESC, id DESC", "last_message_at", "<")
    };
    let mut c = Conditions::tenant("tenant_id", tenant);
    c.and_if("status = ?", f.status.map(Status::as_str)).and_if("channel = ?", f.channel.map(Channel::as_str));
    match f.assignee.as_deref() {
        Some("") => {
            c.and("(assignee_id IS NULL OR assignee_id = '')", []);
        }
        assignee => {
            c.and_if("assignee_id = ?", assignee);
        }
    }
    c.and_if("labels LIKE ?", f.label.as_ref().map(|l| format!("%{}%", to_json(l))));
    if f.waiting_longest {
        c.and("waiting_since IS NOT NULL", []);
    }
    if let Some((k, id)) = after {
        c.and(&format!("({key} {cmp} ? OR ({key} = ? AND id {cmp} ?))"), [k.into(), k.into(), id.into()]);
    }
    let sql = format!(
        "SELECT conversations.*, (SELECT name FROM contacts ct WHERE ct.tenant_id = conversations.tenant_id
                 AND ct.id = conversations.contact_id) AS contact_name
         FROM conversations WHERE {} ORDER BY {order} LIMIT {}",
        c.sql(),
        c.next_param()
    );
    (sql, c)
}

fn conversation_from_row(r: &AnyRow) -> StoreResult<Conversation> {
    let channel: String = r.try_get("channel")?;
    let status: String = r.try_get("status")?;
    let last_author: Option<String> = r.try_get("last_author")?;
    Ok(Conversation {
        id: ConversationId::from_db(r.try_get("id")?),
        contact_id: ContactId::from_db(r.try_get("contact_id")?),
        // Only list queries join the contact's name.
        contact_name: r.try_get::<Option<String>, _>("contact_name").ok().flatten(),
        channel: Channel::parse(&channel).ok_or_else(|| corrupt(format!("channel {channel}")))?,
        status: Status::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        assignee_id: r.try_get("assignee_id")?,
        labels: json_list(r.try_get("labels")?),
        handoff_reason: r.try_get("handoff_reason")?,
        handed_off_at: r.try_get("handed_off_at")?,
        waiting_since: r.try_get("waiting_since")?,
        human_wait_ms: r.try_get("human_wait_ms")?,
        human_waits: r.try_get("human_waits")?,
        summary: r.try_get("summary")?,
        summary_upto: r.try_get::<Option<String>, _>("summary_upto")?.map(MessageId::from_db),
        last_preview: r.try_get("last_preview")?,
        last_author: last_author.as_deref().and_then(Author::parse),
        message_count: r.try_get("message_count")?,
        last_message_at: r.try_get("last_message_at")?,
        created_at: r.try_get("created_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

/// Writes the mutable state of a conversation (status, assignment, labels, handoff, waits,
/// summary) as the service decided it.
pub async fn save_conversation_state(tx: &mut TenantTx, c: &Conversation) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "UPDATE conversations SET status = $3, assignee_id = $4, labels = $5, handoff_reason = $6, handed_off_at = $7,
            waiting_since = $8, human_wait_ms = $9, human_waits = $10, summary = $11, summary_upto = $12,
            resolved_at = $13, updated_at = $14
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tid)
    .bind(c.id.as_str())
    .bind(c.status.as_str())
    .bind(&c.assignee_id)
    .bind(to_json(&c.labels))
    .bind(&c.handoff_reason)
    .bind(c.handed_off_at)
    .bind(c.waiting_since)
    .bind(c.human_wait_ms)
    .bind(c.human_waits)
    .bind(&c.summary)
    .bind(c.summary_upto.as_ref().map(MessageId::as_str))
    .bind(c.resolved_at)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

// ---- messages ----------------------------------------------------------------------------

macro_rules! insert_message_sql {
    () => {
        "INSERT INTO messages (tenant_id, id, conversation_id, author, author_id, author_name, body,
            content, attachments, client_message_id, reply_to, specialist, tools, model, tokens_in, tokens_out,
            latency_ms, provider_message_id, delivery, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         ON CONFLICT DO NOTHING"
    };
}
macro_rules! conversation_summary_sql {
    () => {
        "UPDATE conversations SET last_message_at = $20, last_preview = $21, last_author = $4,
            message_count = message_count + 1, updated_at = $20
         WHERE tenant_id = $1 AND id = $3"
    };
}
// The message and the conversation's summary in one round trip (every chat turn stores two
// messages): PostgreSQL updates through a CTE only when the insert happened; SQLite runs both
// statements in one command (its `$N` parameters are shared), the update guarded by `changes()`,
// the rows the insert just made.
const INSERT_MESSAGE_POSTGRES: &str = concat!(
    "WITH inserted AS (",
    insert_message_sql!(),
    " RETURNING 1) ",
    conversation_summary_sql!(),
    " AND EXISTS (SELECT 1 FROM inserted)"
);
const INSERT_MESSAGE_SQLITE: &str =
    concat!(insert_message_sql!(), "; ", conversation_summary_sql!(), " AND changes() > 0");

/// Stores a message; false when it already exists (same client message id, or an answer to the
/// same customer message), which makes re-sends and retried turns no-ops. Also moves the
/// conversation's last activity.
pub async fn insert_message(tx: &mut TenantTx, m: &Message) -> StoreResult<bool> {
    let sql = match tx.backend() {
        frontdesk_store::Backend::Postgres => INSERT_MESSAGE_POSTGRES,
        frontdesk_store::Backend::Sqlite => INSERT_MESSAGE_SQLITE,
    };
    let tid = tx.tid().to_owned();
    let trace = m.trace.clone().unwrap_or_default();
    let preview: String = m.text.chars().take(140).collect();
    let changed = query(sql)
        .bind(&tid)
        .bind(m.id.as_str())
        .bind(m.conversation_id.as_str())
        .bind(m.author.as_str())
        .bind(&m.author_id)
        .bind(&m.author_name)
        .bind(&m.text)
        .bind((!m.content.is_empty()).then(|| to_json(&m.content)))
        .bind((!m.attachments.is_empty()).then(|| to_json(&m.attachments)))
        .bind(&m.client_message_id)
        .bind(m.reply_to.as_ref().map(MessageId::as_str))
        .bind(&trace.specialist)
        .bind((!trace.tools.is_empty()).then(|| to_json(&trace.tools)))
        .bind(&trace.model)
        .bind(trace.tokens_in)
        .bind(trace.tokens_out)
        .bind(trace.latency_ms)
        .bind(&m.provider_message_id)
        .bind(m.delivery.as_str())
        .bind(m.created_at)
        .bind(preview)
        .execute(tx.conn())
        .await?
        .rows_affected();
    // A re-sent message (same id, or the one reply a message may have) changes nothing.
    Ok(changed > 0)
}

pub async fn message(tx: &mut TenantTx, id: &MessageId) -> StoreResult<Option<Message>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT * FROM messages WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

pub async fn message_by_client_id(
    tx: &mut TenantTx,
    conversation: &ConversationId,
    client_message_id: &str,
) -> StoreResult<Option<Message>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND client_message_id = $3")
        .bind(tid)
        .bind(conversation.as_str())
        .bind(client_message_id)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

/// The agent's answer to a customer message, if it was given.
pub async fn reply_to(tx: &mut TenantTx, customer_message: &MessageId) -> StoreResult<Option<Message>> {
    let tid = tx.tid().to_owned();
    let row = query("SELECT * FROM messages WHERE tenant_id = $1 AND reply_to = $2")
        .bind(tid)
        .bind(customer_message.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

/// Messages after `after` (oldest first), at most `limit`.
pub async fn messages_after(
    tx: &mut TenantTx,
    conversation: &ConversationId,
    after: Option<&MessageId>,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    let tid = tx.tid().to_owned();
    let rows = query(
        "SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND ($3 IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(tid)
    .bind(conversation.as_str())
    .bind(after.map(MessageId::as_str))
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(message_from_row).collect()
}

/// The newest `limit` messages of a conversation (oldest first).
pub async fn latest_messages(
    tx: &mut TenantTx,
    conversation: &ConversationId,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    let tid = tx.tid().to_owned();
    let rows = query("SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3")
        .bind(tid)
        .bind(conversation.as_str())
        .bind(limit as i64)
        .fetch_all(tx.conn())
        .await?;
    let mut list = rows.iter().map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
    list.reverse();
    Ok(list)
}

fn message_from_row(r: &AnyRow) -> StoreResult<Message> {
    let author: String = r.try_get("author")?;
    let author = Author::parse(&author).ok_or_else(|| corrupt(format!("author {author}")))?;
    let trace = AgentTrace {
        specialist: r.try_get("specialist")?,
        tools: json_list(r.try_get("tools")?),
        model: r.try_get("model")?,
        tokens_in: r.try_get("tokens_in")?,
        tokens_out: r.try_get("tokens_out")?,
        latency_ms: r.try_get("latency_ms")?,
    };
    let delivery: String = r.try_get("delivery")?;
    Ok(Message {
        id: MessageId::from_db(r.try_get("id")?),
        conversation_id: ConversationId::from_db(r.try_get("conversation_id")?),
        author,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        text: r.try_get("body")?,
        content: json_list(r.try_get("content")?),
        attachments: json_list(r.try_get("attachments")?),
        client_message_id: r.try_get("client_message_id")?,
        reply_to: r.try_get::<Option<String>, _>("reply_to")?.map(MessageId::from_db),
        trace: (author == Author::Agent).then_some(trace),
        provider_message_id: r.try_get("provider_message_id")?,
        delivery: Delivery::parse(&delivery),
        created_at: r.try_get("created_at")?,
    })
}

// ---- settings and domains ----------------------------------------------------------------

pub async fn settings(tx: &mut TenantTx) -> StoreResult<Option<AssistantSettings>> {
    let tid = tx.tid().to_owned();
    let s: Option<String> =
        frontdesk_store::query_scalar("SELECT settings FROM assistant_settings WHERE tenant_id = $1")
            .bind(tid)
            .fetch_optional(tx.conn())
            .await?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
}

pub async fn put_settings(tx: &mut TenantTx, s: &AssistantSettings) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    query(
        "INSERT INTO assistant_settings (tenant_id, settings, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at",
    )
    .bind(tid)
    .bind(to_json(s))
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The tenant serving the public chat on `domain`.
pub async fn tenant_of_domain(tx: &mut SystemTx, domain: &str) -> StoreResult<Option<String>> {
    Ok(frontdesk_store::query_scalar("SELECT tenant_id FROM chat_domains WHERE domain = $1")
        .bind(domain)
        .fetch_optional(tx.conn())
        .await?)
}

pub async fn domains(tx: &mut TenantTx) -> StoreResult<Vec<String>> {
    let tid = tx.tid().to_owned();
    Ok(frontdesk_store::query_scalar("SELECT domain FROM chat_domains WHERE tenant_id = $1 ORDER BY domain")
        .bind(tid)
        .fetch_all(tx.conn())
        .await?)
}

/// Replaces the tenant's custom domains; false when one of them belongs to another tenant.
pub async fn set_domains(tx: &mut TenantTx, domains: &[String]) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    query("DELETE FROM chat_domains WHERE tenant_id = $1").bind(&tid).execute(tx.conn()).await?;
    for d in domains {
        let n = query(
            "INSERT INTO chat_domains (domain, tenant_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(d)
        .bind(&tid)
        .bind(now_ms())
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}
