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

pub fn register(registry: &mut JobRegistry, identity: Identity) {
    registry.register(EMAIL_JOB, move |job: Job| {
        let identity = identity.clone();
        async move { hold_in_outbox(&identity, &job).await }
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
