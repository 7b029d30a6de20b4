//! Background work of automation: one delivery attempt per job.
//!
//! The job reads the delivery and its endpoint, lets go of the database, sends the signed
//! request through `frontdesk_web::outbound` (fresh `webhook-timestamp` and signatures, same
//! `webhook-id` and body on every attempt), then records the outcome on the delivery row. A 2xx
//! answer succeeds; anything else schedules the next attempt per the retry schedule by
//! enqueuing a new job, until the schedule is spent and the delivery is `failed`.

use crate::model::*;
use crate::service::{schedule_attempt, Automation, DELIVER_JOB};
use crate::signature::signed_headers;
use crate::store::{self, Attempt};
use frontdesk_kernel::time::now_ms;
use frontdesk_store::jobs::{Job, JobError, JobRegistry};
use frontdesk_store::StoreError;
use frontdesk_web::outbound::{self, OutboundError, OutboundRequest};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Deserialize;
use std::time::Instant;

#[derive(Deserialize)]
struct Payload {
    delivery_id: WebhookDeliveryId,
}

pub fn register(registry: &mut JobRegistry, automation: Automation) {
    registry.register(DELIVER_JOB, move |job: Job| {
        let automation = automation.clone();
        async move { automation.attempt_delivery(&job).await }
    });
}

/// What one attempt came to.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    elapsed_ms: Option<i64>,
    /// No point retrying (endpoint disabled, secret unreadable).
    give_up: bool,
}

impl Automation {
    async fn attempt_delivery(&self, job: &Job) -> Result<(), JobError> {
        let payload: Payload = job.payload()?;
        let tenant = job.tenant()?.clone();
        let id = payload.delivery_id;

        // Read what to send, then release the connection before going to the network.
        let mut tx = self.db.tenant_read(&tenant).await?;
        let delivery = match store::delivery(&mut tx, &id).await {
            Ok(d) => d,
            Err(StoreError::NotFound) => return Ok(()), // endpoint deleted with its log
            Err(e) => return Err(e.into()),
        };
        if delivery.state != DeliveryState::Queued {
            return Ok(()); // recorded by an earlier run: idempotent
        }
        let endpoint = match store::endpoint(&mut tx, &delivery.endpoint_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let body = store::delivery_body(&mut tx, &id).await?;
        drop(tx);

        let outcome = self.send(&endpoint, &delivery, body).await;
        let now = now_ms();
        let attempts = delivery.attempts + 1;
        let succeeded = outcome.error.is_none();
        let next_delay = self.config.retry_schedule.get(attempts as usize).filter(|_| !succeeded && !outcome.give_up);
        let next_attempt_at = next_delay.map(|d| now + d.as_millis() as i64);
        let state = match (succeeded, next_attempt_at) {
            (true, _) => DeliveryState::Succeeded,
            (false, Some(_)) => DeliveryState::Queued,
            (false, None) => DeliveryState::Failed,
        };
        let attempt = Attempt {
            state,
            attempts,
            next_attempt_at,
            last_status: outcome.status.map(i64::from),
            last_error: outcome.error.clone(),
            response_ms: outcome.elapsed_ms,
            at: now,
        };
        let mut tx = self.db.tenant(&tenant).await?;
        if store::record_attempt(&mut tx, &id, &attempt).await? {
            if let Some(at) = next_attempt_at {
                schedule_attempt(&mut tx, &id, at).await.map_err(|e| JobError::Transient(e.to_string()))?;
            }
        }
        tx.commit().await?;
        match (&outcome.error, state) {
            (None, _) => tracing::debug!(delivery_id = %id, attempts, "webhook delivered"),
            (Some(error), DeliveryState::Failed) => {
                tracing::warn!(delivery_id = %id, attempts, %error, "webhook delivery failed for good")
            }
            (Some(error), _) => {
                tracing::info!(delivery_id = %id, attempts, %error, "webhook attempt failed; will retry")
            }
        }
        Ok(())
    }

    async fn send(&self, rec: &store::EndpointRecord, delivery: &WebhookDelivery, body: String) -> Outcome {
        let fail =
            |error: String, give_up: bool| Outcome { status: None, error: Some(error), elapsed_ms: None, give_up };
        if rec.endpoint.disabled_at.is_some() {
            return fail("endpoint disabled".into(), true);
        }
        let now = now_ms();
        let secrets = match self.signing_secrets(rec, now) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(endpoint_id = %rec.endpoint.id, error = %e, "cannot open the webhook signing secret");
                return fail("cannot open the signing secret (was the master key changed?)".into(), true);
            }
        };
        let url = match url::Url::parse(&rec.endpoint.url) {
            Ok(u) => u,
            Err(e) => return fail(format!("invalid URL: {e}"), true),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in signed_headers(&secrets, delivery.event_id.as_str(), now / 1000, body.as_bytes()) {
            match HeaderValue::from_str(&value) {
                Ok(v) => {
                    headers.insert(HeaderName::from_static(name), v);
                }
                Err(e) => return fail(format!("header {name}: {e}"), true),
            }
        }
        let started = Instant::now();
        let policy = &self.config.outbound;
        let result = outbound::send(&self.client, policy, OutboundRequest::post(url, headers, body.into_bytes())).await;
        let elapsed_ms = Some(started.elapsed().as_millis() as i64);
        match result {
            Ok(response) if response.status.is_success() => {
                Outcome { status: Some(response.status.as_u16()), error: None, elapsed_ms, give_up: false }
            }
            Ok(response) => Outcome {
                status: Some(response.status.as_u16()),
                error: Some(OutboundError::Http(response.status).to_string()),
                elapsed_ms,
                give_up: false,
            },
            Err(e) => {
                // A refused destination or a broken URL will not fix itself by waiting.
                let give_up = matches!(e, OutboundError::Forbidden { .. } | OutboundError::InvalidUrl(_));
                Outcome { status: None, error: Some(e.to_string()), elapsed_ms, give_up }
            }
        }
    }
}
