//! Background work of identity: delivering outbox e-mail.
//!
//! No mail server is configured in the embedded default, so an e-mail is *held*: it stays in
//! the outbox, visible in the dashboard (Outbox page) and announced in the log without its body.
//! A later SMTP sender registers its own handler for the same job kind.

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

pub fn register(registry: &mut JobRegistry, identity: Identity) {
    let for_email = identity.clone();
    registry.register(EMAIL_JOB, move |job: Job| {
        let identity = for_email.clone();
        async move { hold_in_outbox(&identity, &job).await }
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

async fn hold_in_outbox(identity: &Identity, job: &Job) -> Result<(), JobError> {
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
    store::set_email_status(&mut tx, &email.id, "held", None).await?;
    tx.commit().await?;
    let domain = email.to.rsplit('@').next().unwrap_or("");
    tracing::info!(email_id = %email.id, to_domain = domain, "no mail server configured: e-mail held in the outbox");
    Ok(())
}
