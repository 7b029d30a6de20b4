//! The audit log: who changed what, in which tenant, on which object, from where, when.
//! Written in the same transaction as the change it records; append-only in both engines.

use crate::error::StoreResult;
use crate::tx::{SystemTx, TenantTx, Tx};
use frontdesk_kernel::time::now_ms;
use serde::Serialize;
use sqlx::Row;

frontdesk_kernel::define_id!(
    /// One audit log entry.
    AuditId,
    "aud"
);

/// Who acted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Actor {
    /// `user`, `api_key`, `operator` (the CLI) or `system`.
    pub kind: &'static str,
    pub id: Option<String>,
    /// E-mail, key name, or `cli`.
    pub label: String,
    /// `api`, `dashboard`, `cli` or `system`.
    pub via: &'static str,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Self { kind: "system", id: None, label: label.to_owned(), via: "system", ip: None, request_id: None }
    }

    /// A user acting before any session exists (sign-up, accepting an invitation).
    pub fn user(id: &str, email: &str, ip: &str) -> Self {
        Self {
            kind: "user",
            id: Some(id.to_owned()),
            label: email.to_owned(),
            via: "api",
            ip: Some(ip.to_owned()),
            request_id: None,
        }
    }

    /// The operator at the command line.
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Self { kind: "operator", id: None, label: format!("cli:{user}"), via: "cli", ip: None, request_id: None }
    }
}

/// What happened, to which object.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// `member.role_changed`, `api_key.created`, …
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: Option<&'a str>,
    /// Extra facts (never secrets).
    pub details: serde_json::Value,
}

impl<'a> Change<'a> {
    pub fn new(action: &'a str, object_type: &'a str, object_id: Option<&'a str>) -> Self {
        Self { action, object_type, object_id, details: serde_json::Value::Object(Default::default()) }
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Records a change in the transaction's tenant.
pub async fn record(tx: &mut TenantTx, actor: &Actor, change: Change<'_>) -> StoreResult<()> {
    let tenant = tx.tid().to_owned();
    insert(tx, &tenant, actor, change).await
}

/// Records a change of `tenant` from a system transaction (sign-up, the operator's CLI).
pub async fn record_system(tx: &mut SystemTx, tenant: &str, actor: &Actor, change: Change<'_>) -> StoreResult<()> {
    insert(tx, tenant, actor, change).await
}

async fn insert(tx: &mut impl Tx, tenant: &str, actor: &Actor, change: Change<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, at, actor_type, actor_id, actor_label, action, object_type,
                                object_id, via, ip, request_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(tenant)
    .bind(AuditId::new().as_str())
    .bind(now_ms())
    .bind(actor.kind)
    .bind(&actor.id)
    .bind(&actor.label)
    .bind(change.action)
    .bind(change.object_type)
    .bind(change.object_id)
    .bind(actor.via)
    .bind(&actor.ip)
    .bind(&actor.request_id)
    .bind(change.details.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One entry as the audit viewer shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: AuditId,
    #[serde(with = "frontdesk_kernel::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: i64,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub via: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Filters of the audit viewer; every one optional.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Exact action, or a prefix ending in `.` (`member.`).
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub object_id: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Only entries before this instant (RFC 3339).
    pub until: Option<String>,
}

/// Entries of the transaction's tenant, newest first.
pub async fn query(
    tx: &mut TenantTx,
    filter: &AuditFilter,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let (sql, c) = query_statement(tx.tid(), filter, since_ms, until_ms, after);
    let rows = c.bind(sqlx::query(&sql)).bind(limit as i64).fetch_all(tx.conn()).await?;
    rows.into_iter()
        .map(|r| {
            let details: String = r.try_get("details")?;
            Ok(AuditEntry {
                id: AuditId::from_db(r.try_get("id")?),
                at: r.try_get("at")?,
                actor_type: r.try_get("actor_type")?,
                actor_id: r.try_get("actor_id")?,
                actor_label: r.try_get("actor_label")?,
                action: r.try_get("action")?,
                object_type: r.try_get("object_type")?,
                object_id: r.try_get("object_id")?,
                via: r.try_get("via")?,
                ip: r.try_get("ip")?,
                request_id: r.try_get("request_id")?,
                details: serde_json::from_str(&details).unwrap_or_default(),
            })
        })
        .collect()
}

/// [`query`]'s statement: only the filters that are set, so an action, an actor or an object
/// comes from its index (`audit_log_action`, `_actor`, `_object`). Its last parameter is the limit.
pub fn query_statement(
    tenant: &str,
    filter: &AuditFilter,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    after: Option<&str>,
) -> (String, crate::Conditions) {
    let (action_exact, action_prefix) = match filter.action.as_deref() {
        Some(a) if a.ends_with('.') => (None, Some(format!("{a}%"))),
        Some(a) => (Some(a.to_owned()), None),
        None => (None, None),
    };
    let mut c = crate::Conditions::tenant("tenant_id", tenant);
    c.and_if("action = ?", action_exact)
        .and_if("action LIKE ?", action_prefix)
        .and_if("actor_id = ?", filter.actor_id.as_deref())
        .and_if("object_id = ?", filter.object_id.as_deref())
        .and_if("at >= ?", since_ms)
        .and_if("at < ?", until_ms)
        .and_if("id < ?", after);
    let sql = format!(
        "SELECT id, at, actor_type, actor_id, actor_label, action, object_type, object_id, via, ip, request_id, details
         FROM audit_log WHERE {} ORDER BY id DESC LIMIT {}",
        c.sql(),
        c.next_param()
    );
    (sql, c)
}

/// Entries of the last `limit` changes across tenants, for the operator (newest first).
pub async fn recent_all(tx: &mut SystemTx, limit: u32) -> StoreResult<Vec<(String, String, i64)>> {
    let rows = sqlx::query("SELECT tenant_id, action, at FROM audit_log ORDER BY at DESC LIMIT $1")
        .bind(limit as i64)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter().map(|r| Ok((r.try_get("tenant_id")?, r.try_get("action")?, r.try_get("at")?))).collect()
}
