//! Workflow definitions: list, create (within the plan's limit), change, delete, test; runs.

use super::*;
use crate::service::matching::{conditions_hold, context, trigger_matches};
use frontdesk_identity::Identity;
use frontdesk_store::events::DomainEvent;

/// Keyring purpose of the sealed Slack webhook URLs inside actions.
pub const WORKFLOW_SECRET_PURPOSE: &str = "workflow-secret";

/// The workflow service: definitions, the engine and the runner. Cheap to clone.
#[derive(Clone)]
pub struct Workflows {
    pub(crate) automation: Automation,
    /// For e-mail actions (the outbox).
    pub(crate) identity: Identity,
    /// For tagging contacts and creating follow-up tasks.
    pub(crate) contacts: Option<Arc<dyn super::ContactActions>>,
    /// For messages through the tenant's WhatsApp, SMS and Telegram accounts.
    pub(crate) channels: Option<frontdesk_channels::Channels>,
    /// For dunning in the tenant's Stripe account.
    pub(crate) commerce: Option<frontdesk_commerce::Commerce>,
}

impl Workflows {
    pub fn new(automation: Automation, identity: Identity) -> Self {
        Self { automation, identity, contacts: None, channels: None, commerce: None }
    }

    /// Dunning steps (`stripe_dunning`) go through `commerce`; without it they fail.
    pub fn with_commerce(mut self, commerce: frontdesk_commerce::Commerce) -> Self {
        self.commerce = Some(commerce);
        self
    }

    /// Message steps (`message`) go through `channels`; without it they fail.
    pub fn with_channels(mut self, channels: frontdesk_channels::Channels) -> Self {
        self.channels = Some(channels);
        self
    }

    /// Contact steps (`tag_contact`, `follow_up_task`) go through `contacts`; without it they
    /// fail.
    pub fn with_contacts(mut self, contacts: Arc<dyn super::ContactActions>) -> Self {
        self.contacts = Some(contacts);
        self
    }

    pub fn automation(&self) -> &Automation {
        &self.automation
    }

    pub async fn workflows(&self, p: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<Workflow>> {
        let mut tx = self.automation.read_tx(p).await?;
        let rows = store::list_workflows(&mut tx, after, limit).await?;
        Ok(rows.into_iter().map(|w| self.shown(w)).collect())
    }

    pub async fn workflow(&self, p: &Principal, id: &WorkflowId) -> Result<Workflow> {
        let mut tx = self.automation.read_tx(p).await?;
        Ok(self.shown(store::workflow(&mut tx, id).await?))
    }

    pub async fn create_workflow(&self, p: &Principal, req: CreateWorkflowRequest, actor: &Actor) -> Result<Workflow> {
        let mut v = Validator::new();
        let name = Self::check_name(&mut v, &req.name);
        Self::check_trigger(&mut v, &req.trigger);
        Self::check_conditions(&mut v, &req.conditions);
        let actions = self.check_actions(&mut v, &req.actions, &[]);
        Self::check_cooldown(&mut v, req.cooldown_secs);
        v.finish()?;
        let now = now_ms();
        let workflow = Workflow {
            id: WorkflowId::new(),
            name,
            trigger: req.trigger,
            conditions: req.conditions,
            actions,
            cooldown_secs: req.cooldown_secs,
            disabled_at: req.disabled.then_some(now),
            last_fired_at: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.automation.tx(p).await?;
        let limit = self.automation.config.max_workflows_per_tenant;
        if store::count_workflows(&mut tx).await? >= i64::from(limit) {
            return Err(Error::conflict(
                "workflow_limit",
                format!("Your plan allows {limit} workflows; delete one or upgrade to add more."),
            ));
        }
        store::insert_workflow(&mut tx, &workflow).await?;
        let change = Change::new("workflow.created", "workflow", Some(workflow.id.as_str()))
            .details(json!({"name": workflow.name, "trigger": workflow.trigger}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(self.shown(workflow))
    }

    pub async fn update_workflow(
        &self,
        p: &Principal,
        id: &WorkflowId,
        req: UpdateWorkflowRequest,
        actor: &Actor,
    ) -> Result<Workflow> {
        let mut tx = self.automation.tx(p).await?;
        let mut w = store::workflow(&mut tx, id).await?;
        let mut v = Validator::new();
        let name = req.name.as_deref().map(|n| Self::check_name(&mut v, n));
        if let Some(t) = &req.trigger {
            Self::check_trigger(&mut v, t);
        }
        if let Some(c) = &req.conditions {
            Self::check_conditions(&mut v, c);
        }
        let actions = req.actions.as_deref().map(|a| self.check_actions(&mut v, a, &w.actions));
        if let Some(c) = req.cooldown_secs {
            Self::check_cooldown(&mut v, c);
        }
        v.finish()?;
        let now = now_ms();
        w.name = name.unwrap_or(w.name);
        w.trigger = req.trigger.unwrap_or(w.trigger);
        w.conditions = req.conditions.unwrap_or(w.conditions);
        w.actions = actions.unwrap_or(w.actions);
        w.cooldown_secs = req.cooldown_secs.unwrap_or(w.cooldown_secs);
        match (req.disabled, w.disabled_at) {
            (Some(true), None) => w.disabled_at = Some(now),
            (Some(false), Some(_)) => w.disabled_at = None,
            _ => {}
        }
        w.updated_at = now;
        store::update_workflow(&mut tx, &w).await?;
        let change = Change::new("workflow.updated", "workflow", Some(id.as_str())).details(json!({
            "name": w.name,
            "trigger": w.trigger,
            "actions": w.actions.iter().map(Action::kind).collect::<Vec<_>>(),
            "disabled": w.disabled_at.is_some(),
        }));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(self.shown(w))
    }

    /// Deletes the workflow and its runs; a run in progress finds it gone and stops.
    pub async fn delete_workflow(&self, p: &Principal, id: &WorkflowId, actor: &Actor) -> Result<()> {
        let mut tx = self.automation.tx(p).await?;
        let w = store::workflow(&mut tx, id).await?;
        store::delete_workflow(&mut tx, id).await?;
        let change = Change::new("workflow.deleted", "workflow", Some(id.as_str())).details(json!({"name": w.name}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A workflow's runs, newest first.
    pub async fn runs(
        &self,
        p: &Principal,
        id: &WorkflowId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WorkflowRun>> {
        let mut tx = self.automation.read_tx(p).await?;
        store::workflow(&mut tx, id).await?;
        Ok(store::list_runs(&mut tx, id, after, limit).await?)
    }

    pub async fn run(&self, p: &Principal, id: &WorkflowRunId) -> Result<WorkflowRun> {
        let mut tx = self.automation.read_tx(p).await?;
        Ok(store::run(&mut tx, id).await?.run)
    }

    /// Runs the workflow now on a sample event, whatever its trigger, conditions, cooldown or
    /// disabled state (its actions really happen), and returns the run: finished, or with a
    /// failing step's next attempt scheduled. `matched` tells whether the event would fire it.
    pub async fn test_workflow(
        &self,
        p: &Principal,
        id: &WorkflowId,
        sample: SampleEvent,
        actor: &Actor,
    ) -> Result<WorkflowTestResult> {
        if sample.kind != SCHEDULE_EVENT {
            check_event_type(&sample.kind).map_err(|(code, message)| Error::field("kind", code, message))?;
        }
        let data = if sample.data.is_null() { json!({}) } else { sample.data };
        let event = DomainEvent {
            id: frontdesk_store::events::EventId::new().to_string(),
            kind: sample.kind,
            occurred_at: now_ms(),
            data,
        };
        let tenant = p.tenant()?.clone();
        let mut tx = self.automation.tx(p).await?;
        let w = store::workflow(&mut tx, id).await?;
        let matched = trigger_matches(&w.trigger, &event)
            && conditions_hold(&w.conditions, &context(&event, Some((&w.id, &w.name))));
        let run =
            self.create_run(&mut tx, &w, &event, RunSource::Test, false).await?.ok_or(Error::internal("test run"))?;
        let change = Change::new("workflow.tested", "workflow", Some(id.as_str()))
            .details(json!({"run_id": run, "event_kind": event.kind, "matched": matched}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        self.execute_run(&tenant, &run).await.map_err(|e| Error::Unavailable { detail: e.to_string() })?;
        let mut tx = self.automation.read_tx(p).await?;
        Ok(WorkflowTestResult { matched, run: store::run(&mut tx, &run).await?.run })
    }
}
