//! Performing a run's steps in order. Each step's outcome is recorded on the run together with
//! a cursor, so a retry resumes at the failing step and never repeats one that succeeded.
//! E-mail, channel message, webhook and contact steps (tags, follow-up tasks) happen in the same
//! transaction as their record (exactly once);
//! a Slack post happens before its record (at least once). A failing step is retried by
//! queuing the run job again after the configured delay; once they are spent the run is
//! `failed` with the step's error.

use super::engine::schedule_run;
use super::*;
use crate::model::Action;
use crate::service::matching::context;
use crate::store::RunRecord;
use crate::template::{plain, render, slack_escape};
use frontdesk_kernel::TenantId;
use frontdesk_store::events::DomainEvent;
use frontdesk_store::jobs::JobError;
use frontdesk_store::StoreError;
use frontdesk_web::outbound::OutboundRequest;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

/// What one attempt at a step came to.
pub(crate) enum Outcome {
    Done(String),
    Failed { error: String, retry: bool },
}

impl Workflows {
    /// Performs the run's remaining steps (the run job; also called inline by tests of a
    /// workflow). Finished runs and runs of deleted workflows are left alone.
    pub(crate) async fn execute_run(&self, tenant: &TenantId, id: &WorkflowRunId) -> std::result::Result<(), JobError> {
        let mut tx = self.automation.db.tenant_read(tenant).await?;
        let found = match store::run(&mut tx, id).await {
            Ok(rec) => store::workflow(&mut tx, &rec.run.workflow_id).await.map(|w| (rec, w)),
            Err(e) => Err(e),
        };
        drop(tx);
        let (mut rec, workflow) = match found {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if rec.run.state != RunState::Running {
            return Ok(());
        }
        let fresh = rec.step_cursor == 0 && rec.step_attempts == 0;
        if fresh && rec.run.source != RunSource::Test && workflow.disabled_at.is_some() {
            let mut next = rec.clone();
            next.run.state = RunState::Skipped;
            next.run.error = Some("The workflow was disabled before the run started.".into());
            next.run.finished_at = Some(now_ms());
            let mut tx = self.automation.db.tenant(tenant).await?;
            if store::advance_run(&mut tx, &rec, &next).await? {
                tx.commit().await?;
            }
            return Ok(());
        }
        let event = DomainEvent {
            id: rec.run.event_id.clone(),
            kind: rec.run.event_kind.clone(),
            occurred_at: rec.run.started_at,
            data: rec.run.event_data.clone(),
        };
        let ctx = context(&event, Some((&workflow.id, &workflow.name)));
        while let Some(action) = usize::try_from(rec.step_cursor).ok().and_then(|i| rec.actions.get(i)).cloned() {
            let attempts = u32::try_from(rec.step_attempts).unwrap_or(0) + 1;
            match self.step(tenant, &rec, &action, &ctx, &event, attempts).await? {
                Some(next) if next.run.state == RunState::Running && next.step_cursor > rec.step_cursor => rec = next,
                _ => return Ok(()), // finished, waiting for a retry, or recorded by another runner
            }
        }
        // No steps left (an empty snapshot): nothing to do but finish.
        let mut next = rec.clone();
        next.run.state = RunState::Succeeded;
        next.run.finished_at = Some(now_ms());
        let mut tx = self.automation.db.tenant(tenant).await?;
        if store::advance_run(&mut tx, &rec, &next).await? {
            tx.commit().await?;
        }
        Ok(())
    }

    /// One attempt at the current step, recorded. `None` when another runner got there first.
    async fn step(
        &self,
        tenant: &TenantId,
        rec: &RunRecord,
        action: &Action,
        ctx: &serde_json::Value,
        event: &DomainEvent,
        attempts: u32,
    ) -> std::result::Result<Option<RunRecord>, JobError> {
        let db = &self.automation.db;
        let (mut tx, outcome) = match action {
            Action::Slack { webhook_url, text } => {
                let outcome = self.post_slack(webhook_url, &render(text, ctx, slack_escape)).await;
                (db.tenant(tenant).await?, outcome)
            }
            Action::TagContact { .. } | Action::FollowUpTask { .. } => {
                let mut tx = db.tenant(tenant).await?;
                match self.contact_step(&mut tx, action, ctx).await {
                    done @ Outcome::Done(_) => (tx, done),
                    failed => {
                        drop(tx); // roll back whatever the step wrote
                        (db.tenant(tenant).await?, failed)
                    }
                }
            }
            Action::Email { .. } | Action::Webhook { .. } | Action::Message { .. } | Action::StripeDunning { .. } => {
                let mut tx = db.tenant(tenant).await?;
                match self.in_transaction(&mut tx, rec, action, ctx, event).await {
                    Ok(detail) => (tx, Outcome::Done(detail)),
                    Err(e) => {
                        // Roll back whatever the step wrote. Bad input (a recipient the event did
                        // not fill) will not improve by waiting.
                        drop(tx);
                        let retry = !matches!(e, Error::Validation(_));
                        (db.tenant(tenant).await?, Outcome::Failed { error: e.to_string(), retry })
                    }
                }
            }
        };
        let now = now_ms();
        let (next, retry_at) = self.transition(rec, action, outcome, attempts, now);
        if !store::advance_run(&mut tx, rec, &next).await? {
            return Ok(None); // dropping the transaction rolls the step back
        }
        if let Some(at) = retry_at {
            schedule_run(&mut tx, &rec.run.id, at).await.map_err(|e| JobError::Transient(e.to_string()))?;
        }
        tx.commit().await?;
        Ok(Some(next))
    }

    /// The run after an attempt, and when to try again (if the step is to be retried).
    fn transition(
        &self,
        rec: &RunRecord,
        action: &Action,
        outcome: Outcome,
        attempts: u32,
        now: i64,
    ) -> (RunRecord, Option<i64>) {
        let mut next = rec.clone();
        let i = usize::try_from(rec.step_cursor).unwrap_or(0);
        while next.run.steps.len() <= i {
            next.run.steps.push(Step {
                action: action.kind().into(),
                state: StepState::Pending,
                detail: None,
                attempts: 0,
                at: None,
            });
        }
        let at = Some(to_rfc3339(now));
        let mut retry_at = None;
        let (state, detail) = match outcome {
            Outcome::Done(detail) => {
                next.step_cursor += 1;
                next.step_attempts = 0;
                if usize::try_from(next.step_cursor).unwrap_or(usize::MAX) >= rec.actions.len() {
                    next.run.state = RunState::Succeeded;
                    next.run.finished_at = Some(now);
                }
                (StepState::Succeeded, detail)
            }
            Outcome::Failed { error, retry } => {
                let delays = &self.automation.config.workflow_retry_delays;
                match delays.get(attempts as usize - 1).filter(|_| retry) {
                    Some(delay) => {
                        next.step_attempts = i64::from(attempts);
                        retry_at = Some(now + delay.as_millis() as i64);
                        (StepState::Retrying, error)
                    }
                    None => {
                        next.run.state = RunState::Failed;
                        next.run.finished_at = Some(now);
                        next.run.error = Some(format!(
                            "Step {} ({}) failed after {attempts} attempt{}: {error}",
                            i + 1,
                            action.kind(),
                            if attempts == 1 { "" } else { "s" }
                        ));
                        (StepState::Failed, error)
                    }
                }
            }
        };
        next.run.steps[i] = Step { action: action.kind().into(), state, detail: Some(detail), attempts, at };
        (next, retry_at)
    }

    /// Steps that write only to our database, in the run's transaction.
    async fn in_transaction(
        &self,
        tx: &mut TenantTx,
        rec: &RunRecord,
        action: &Action,
        ctx: &serde_json::Value,
        event: &DomainEvent,
    ) -> Result<String> {
        match action {
            Action::Email { to, subject, body } => {
                // One line: a subject never carries a header break, whatever the event holds.
                let subject = render(subject, ctx, plain).replace(['\r', '\n'], " ");
                let id = self.identity.queue_email(tx, to.clone(), subject, render(body, ctx, plain)).await?;
                Ok(format!("queued e-mail {id}"))
            }
            Action::Message { channel, to, text, template } => {
                let channels = self.channels.as_ref().ok_or_else(|| Error::internal("channels are not wired"))?;
                let origin = format!("workflow {}", rec.run.workflow_id);
                let template = template.as_ref().map(|t| frontdesk_channels::model::MessageTemplate {
                    parameters: t.parameters.iter().map(|p| render(p, ctx, plain)).collect(),
                    ..t.clone()
                });
                let (to, text) = (render(to, ctx, plain), render(text, ctx, plain));
                let message = channels.queue(tx, *channel, &to, &text, template.as_ref(), &origin).await?;
                Ok(format!("queued {} message {}", channel.as_str(), message.id))
            }
            Action::StripeDunning { invoice_id, retry_after_hours } => {
                let commerce = self.commerce.as_ref().ok_or_else(|| Error::internal("commerce is not wired"))?;
                let origin = format!("workflow {}", rec.run.workflow_id);
                let invoice_id = render(invoice_id.as_deref().unwrap_or("{{data.invoice_id}}"), ctx, plain);
                // What the payment event knows about the customer and the amount, for the case.
                let data = &event.data;
                let text = |key: &str| data[key].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
                let amount = match (data["amount"].as_i64(), text("currency")) {
                    (Some(minor), Some(code)) => frontdesk_kernel::money::Currency::parse(&code)
                        .ok()
                        .map(|currency| frontdesk_kernel::money::Money { minor, currency }),
                    _ => None,
                };
                let start = frontdesk_commerce::DunningStart {
                    invoice_id,
                    retry_after_hours: retry_after_hours.clone(),
                    customer_id: text("customer_id"),
                    customer_email: text("customer_email"),
                    amount,
                    hosted_invoice_url: text("hosted_invoice_url"),
                };
                let case = commerce.start_dunning(tx, start, &origin).await?;
                Ok(format!("dunning case {} for invoice {}", case.id, case.invoice_id))
            }
            Action::Webhook { event_type } => {
                let kind = event_type.as_deref().unwrap_or(&event.kind);
                let made = publish(tx, kind, event.data.clone()).await?;
                Ok(format!("queued {} webhook deliver{}", made.len(), if made.len() == 1 { "y" } else { "ies" }))
            }
            Action::Slack { .. } | Action::TagContact { .. } | Action::FollowUpTask { .. } => {
                Err(Error::internal("this step is not an outbox step"))
            }
        }
    }

    async fn post_slack(&self, sealed_url: &str, text: &str) -> Outcome {
        let give_up = |error: &str| Outcome::Failed { error: error.to_owned(), retry: false };
        let Some(clear) = self.open_url(sealed_url) else {
            return give_up("cannot open the Slack webhook URL (was the master key changed?)");
        };
        let Ok(url) = url::Url::parse(&clear) else { return give_up("the Slack webhook URL is invalid") };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = json!({"text": text}).to_string().into_bytes();
        let automation = &self.automation;
        match outbound::send(&automation.client, &automation.config.outbound, OutboundRequest::post(url, headers, body))
            .await
        {
            Ok(r) if r.status.is_success() => Outcome::Done(format!("HTTP {}", r.status.as_u16())),
            Ok(r) => {
                // Slack answers 4xx for a revoked hook or a bad payload: waiting will not fix it.
                let retry = r.status.is_server_error() || matches!(r.status.as_u16(), 408 | 429);
                Outcome::Failed { error: OutboundError::Http(r.status).to_string(), retry }
            }
            Err(e) => {
                let retry = !matches!(e, OutboundError::Forbidden { .. } | OutboundError::InvalidUrl(_));
                Outcome::Failed { error: e.to_string(), retry }
            }
        }
    }
}
