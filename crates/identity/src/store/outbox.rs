//! The e-mail outbox.

use super::*;

pub async fn insert_email(tx: &mut impl Tx, tenant: &TenantId, e: &Email) -> StoreResult<()> {
    frontdesk_store::query(
        "INSERT INTO outbox_emails (tenant_id, id, to_addr, subject, body_text, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(e.id.as_str())
    .bind(&e.to)
    .bind(&e.subject)
    .bind(&e.body)
    .bind(&e.status)
    .bind(e.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(crate) fn email_from(r: &AnyRow) -> StoreResult<Email> {
    Ok(Email {
        id: EmailId::from_db(r.try_get("id")?),
        to: r.try_get("to_addr")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body_text")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn list_emails(tx: &mut TenantTx, after: Option<&str>, limit: u32) -> StoreResult<Vec<Email>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(
        "SELECT id, to_addr, subject, body_text, status, created_at FROM outbox_emails
         WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(tid)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(email_from).collect()
}

pub async fn email(tx: &mut TenantTx, id: &EmailId) -> StoreResult<Email> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(
        "SELECT id, to_addr, subject, body_text, status, created_at FROM outbox_emails WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tid)
    .bind(id.as_str())
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    email_from(&row)
}

pub async fn set_email_status(tx: &mut TenantTx, id: &EmailId, status: &str, error: Option<&str>) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE outbox_emails SET status = $1, error = $2, sent_at = CASE WHEN $1 = 'sent' THEN $3 ELSE sent_at END
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(status)
    .bind(error)
    .bind(now_ms())
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}
