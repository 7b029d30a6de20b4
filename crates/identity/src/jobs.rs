//! Background work of identity: delivering outbox e-mail.
//!
//! With a mail server configured (`smtp_url`), the e-mail is sent over SMTP and marked `sent`;
//! a failing server is retried with backoff and the e-mail marked `failed` after the last try.
//! Without one (the embedded default) the e-mail is *held*: it stays in the outbox, visible in
//! the dashboard (Outbox page) and announced in the log without its body.

use crate::model::EmailId;
use crate::service::{Identity, EMAIL_JOB};
use crate::store;
use frontdesk_store::jobs::{Job, JobError, JobRegistry};
use serde::Deserialize;

#[derive(Deserialize)]
struct Payload {
    email_id: EmailId,
}

/// Hourly clean-up of sessions and refresh tokens that ended more than a day ago.
pub const PURGE_JOB: &str = "identity.purge_expired";

pub fn register(registry: &mut JobRegistry, identity: Identity, mailer: Option<crate::mailer::Mailer>) {
    let for_email = identity.clone();
    registry.register(EMAIL_JOB, move |job: Job| {
        let identity = for_email.clone();
        let mailer = mailer.clone();
        async move { deliver(&identity, mailer.as_ref(), &job).await }
    });
    registry.register_recurring(PURGE_JOB, std::time::Duration::from_secs(3600), move |_job: Job| {
        let identity = identity.clone();
        async move {
            let mut tx = identity.db().system().await?;
            let n = store::purge_expired(&mut tx).await?;
            tx.commit().await?;
            tracing::debug!(deleted = n, "expired sessions and tokens purged");
            Ok(())
        }
    });
}

async fn deliver(identity: &Identity, mailer: Option<&crate::mailer::Mailer>, job: &Job) -> Result<(), JobError> {
    let payload: Payload = job.payload()?;
    let tenant = job.tenant()?;
    let mut tx = identity.db().tenant(tenant).await?;
    let email = match store::email(&mut tx, &payload.email_id).await {
        Ok(e) => e,
        Err(frontdesk_store::StoreError::NotFound) => return Err(JobError::Permanent("e-mail is gone".into())),
        Err(e) => return Err(e.into()),
    };
    if email.status != "queued" {
        return Ok(()); // delivered or held by an earlier run: idempotent
    }
    let domain = email.to.rsplit('@').next().unwrap_or("").to_owned();
    let Some(mailer) = mailer else {
        store::set_email_status(&mut tx, &email.id, "held", None).await?;
        tx.commit().await?;
        tracing::info!(email_id = %email.id, to_domain = %domain, "no mail server configured: e-mail held in the outbox");
        return Ok(());
    };
    drop(tx); // no database connection held while talking to the mail server
    match mailer.send(&email.to, &email.subject, &email.body).await {
        Ok(()) => {
            let mut tx = identity.db().tenant(tenant).await?;
            store::set_email_status(&mut tx, &email.id, "sent", None).await?;
            tx.commit().await?;
            tracing::info!(email_id = %email.id, to_domain = %domain, "e-mail sent");
            Ok(())
        }
        Err(e) => {
            if job.attempt >= job.max_attempts {
                let mut tx = identity.db().tenant(tenant).await?;
                store::set_email_status(&mut tx, &email.id, "failed", Some(&e.to_string())).await?;
                tx.commit().await?;
            }
            Err(JobError::Transient(e.to_string()))
        }
    }
}
