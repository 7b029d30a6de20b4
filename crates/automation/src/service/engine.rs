//! Firing workflows: on domain events (the [`WorkflowSubscriber`]) and on schedules (a
//! recurring system job). Firing makes a run and queues its job in one transaction; the
//! cooldown is claimed by one conditional `UPDATE`, so concurrent replicas fire once.

use super::*;
use crate::service::matching::{conditions_hold, context, schedule_due, trigger_matches};
use frontdesk_identity::model::TenantStatus;
use frontdesk_kernel::TenantId;
use frontdesk_store::events::{DomainEvent, EventId as DomainEventId, Subscriber};
use frontdesk_store::jobs::{Job, JobError, JobRegistry};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// The job that performs a run's steps (payload: `{"run_id": …}`).
pub const RUN_JOB: &str = "automation.workflow.run";
/// The recurring system job that fires due schedule workflows, every minute.
pub const SCHEDULE_JOB: &str = "automation.workflow.schedule";

/// Hands domain events to the workflow engine; register it with
/// `frontdesk_store::events::register`.
#[derive(Clone)]
pub struct WorkflowSubscriber(pub Workflows);

impl Subscriber for WorkflowSubscriber {
    fn name(&self) -> &'static str {
        "workflows"
    }

    /// Only tenants with an enabled workflow on the event's kind get a delivery.
    fn wants<'a>(
        &'a self,
        tx: &'a mut frontdesk_store::TenantTx,
        event: &'a DomainEvent,
    ) -> Pin<Box<dyn Future<Output = frontdesk_store::StoreResult<bool>> + Send + 'a>> {
        Box::pin(crate::store::any_enabled_for(tx, &event.kind))
    }

    fn handle<'a>(
        &'a self,
        tenant: &'a TenantId,
        event: &'a DomainEvent,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), JobError>> + Send + 'a>> {
        Box::pin(async move {
            self.0.handle_event(tenant, event).await.map(|_| ()).map_err(|e| JobError::Transient(e.to_string()))
        })
    }
}

/// Registers the run job and the scheduler (every minute).
pub(crate) fn register(registry: &mut JobRegistry, workflows: Workflows) {
    let runner = workflows.clone();
    registry.register(RUN_JOB, move |job: Job| {
        let runner = runner.clone();
        async move {
            #[derive(serde::Deserialize)]
            struct Payload {
                run_id: WorkflowRunId,
            }
            let payload: Payload = job.payload()?;
            runner.execute_run(job.tenant()?, &payload.run_id).await
        }
    });
    registry.register_recurring(SCHEDULE_JOB, Duration::from_secs(60), move |_job: Job| {
        let workflows = workflows.clone();
        async move {
            let fired = workflows.fire_schedules(now_ms()).await.map_err(|e| JobError::Transient(e.to_string()))?;
            if fired > 0 {
                tracing::info!(fired, "scheduled workflows fired");
            }
            Ok(())
        }
    });
}

impl Workflows {
    /// Fires every enabled workflow of the tenant whose trigger and conditions match the
    /// event and which is not cooling down. Idempotent by event id (one run per workflow and
    /// event). Returns the runs made.
    pub async fn handle_event(&self, tenant: &TenantId, event: &DomainEvent) -> Result<Vec<WorkflowRunId>> {
        if event.kind == SCHEDULE_EVENT {
            return Ok(Vec::new()); // only the scheduler fires schedules
        }
        // Matching needs only a read; most events fire nothing and never take the write lock.
        let mut read = self.automation.db.tenant_read(tenant).await?;
        let candidates = store::enabled_workflows_for(&mut read, &event.kind).await?;
        drop(read);
        let matching: Vec<Workflow> = candidates
            .into_iter()
            .filter(|w| {
                trigger_matches(&w.trigger, event)
                    && conditions_hold(&w.conditions, &context(event, Some((&w.id, &w.name))))
            })
            .collect();
        let mut runs = Vec::new();
        if matching.is_empty() {
            return Ok(runs);
        }
        let mut tx = self.automation.db.tenant(tenant).await?;
        for w in matching {
            // The claim re-checks `disabled_at` and the cooldown against the row as it is now.
            if !store::claim_cooldown(&mut tx, &w.id, now_ms()).await? {
                tracing::debug!(workflow_id = %w.id, event_id = %event.id, "workflow cooling down");
                continue;
            }
            if let Some(run) = self.create_run(&mut tx, &w, event, RunSource::Event, true).await? {
                tracing::info!(workflow_id = %w.id, run_id = %run, event_id = %event.id, "workflow fired");
                runs.push(run);
            }
        }
        tx.commit().await?;
        Ok(runs)
    }

    /// Records a running run with every step pending and, when `enqueue`, queues its job. `None`
    /// when the workflow already has a run for this event.
    pub(crate) async fn create_run(
        &self,
        tx: &mut TenantTx,
        w: &Workflow,
        event: &DomainEvent,
        source: RunSource,
        enqueue: bool,
    ) -> Result<Option<WorkflowRunId>> {
        let steps = w
            .actions
            .iter()
            .map(|a| Step { action: a.kind().into(), state: StepState::Pending, detail: None, attempts: 0, at: None })
            .collect();
        let rec = store::RunRecord {
            run: WorkflowRun {
                id: WorkflowRunId::new(),
                workflow_id: w.id.clone(),
                event_id: event.id.clone(),
                event_kind: event.kind.clone(),
                event_data: event.data.clone(),
                source,
                state: RunState::Running,
                steps,
                error: None,
                started_at: now_ms(),
                finished_at: None,
            },
            actions: w.actions.clone(),
            step_cursor: 0,
            step_attempts: 0,
        };
        if !store::insert_run(tx, &rec).await? {
            return Ok(None);
        }
        if enqueue {
            schedule_run(tx, &rec.run.id, rec.run.started_at).await?;
        }
        Ok(Some(rec.run.id))
    }

    /// Fires the schedule workflows of every tenant that are due at `now` (see
    /// [`matching::schedule_due`]) with a synthetic `schedule` event. Returns how many fired.
    pub async fn fire_schedules(&self, now: i64) -> Result<usize> {
        let mut sys = self.automation.db.system_read().await?;
        let candidates = store::schedule_workflows(&mut sys).await?;
        // Each tenant's zone, or None when the tenant is not active.
        let mut zones: HashMap<String, Option<jiff::tz::TimeZone>> = HashMap::new();
        let mut due = Vec::new();
        for (tenant, w) in candidates {
            if !zones.contains_key(&tenant) {
                let zone = match frontdesk_identity::store::tenant(&mut sys, &TenantId::from_db(tenant.clone())).await {
                    Ok(t) if t.status == TenantStatus::Active => {
                        Some(jiff::tz::TimeZone::get(&t.time_zone).unwrap_or(jiff::tz::TimeZone::UTC))
                    }
                    Ok(_) | Err(frontdesk_store::StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                };
                zones.insert(tenant.clone(), zone);
            }
            let Some(Some(tz)) = zones.get(&tenant) else { continue };
            if let Some(slot) = schedule_due(&w.trigger, w.last_fired_at.unwrap_or(w.created_at), now, tz) {
                due.push((tenant, w, slot));
            }
        }
        drop(sys);
        let mut fired = 0;
        for (tenant, w, slot) in due {
            let tenant = TenantId::from_db(tenant);
            let event = DomainEvent {
                id: DomainEventId::new().to_string(),
                kind: SCHEDULE_EVENT.into(),
                occurred_at: now,
                data: json!({"workflow_id": w.id, "scheduled_for": to_rfc3339(slot)}),
            };
            let mut tx = self.automation.db.tenant(&tenant).await?;
            if !store::claim_slot(&mut tx, &w.id, w.last_fired_at, now).await? {
                continue; // another replica fired this slot
            }
            if conditions_hold(&w.conditions, &context(&event, Some((&w.id, &w.name))))
                && self.create_run(&mut tx, &w, &event, RunSource::Schedule, true).await?.is_some()
            {
                fired += 1;
            }
            tx.commit().await?;
        }
        Ok(fired)
    }
}

/// Queues the run job (again, for a retry, at `at`).
pub(crate) async fn schedule_run(tx: &mut TenantTx, run: &WorkflowRunId, at: i64) -> Result<()> {
    let job = NewJob::new(RUN_JOB, &json!({"run_id": run})).map_err(Error::internal)?.max_attempts(5).at(at);
    jobs::enqueue(tx, job).await?;
    Ok(())
}
