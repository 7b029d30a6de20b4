//! The `message` step: a WhatsApp / SMS / Telegram message through the tenant's channels,
//! written to the channels outbox in the run's transaction. No channel is connected here, so
//! the message ends held in the outbox (the offline default); sending through the providers is
//! covered by the channels crate's own tests.

mod common;

use common::{config, harness, Harness};
use frontdesk_automation::model::*;
use frontdesk_automation::{AutomationConfig, WorkflowSubscriber};
use frontdesk_channels::model::{ChannelKind, MessageState};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::Error;
use frontdesk_store::events::{DomainEvent, Subscriber};
use serde_json::{json, Value};
use std::time::Duration;

fn wf_config() -> AutomationConfig {
    let mut c = config(true, 3);
    c.workflow_retry_delays = vec![Duration::from_millis(50); 4];
    c
}

fn lead(data: Value) -> DomainEvent {
    DomainEvent {
        id: format!("evt_{}", frontdesk_kernel::id::new_body()),
        kind: "lead.created".into(),
        occurred_at: now_ms(),
        data,
    }
}

async fn lead_workflow(h: &Harness, action: Value) -> Workflow {
    let req: CreateWorkflowRequest = serde_json::from_value(json!({
        "name": "Welcome new leads",
        "trigger": {"event": "lead.created"},
        "actions": [action],
    }))
    .expect("request");
    h.workflows.create_workflow(&h.principal, req, &h.actor).await.expect("create workflow")
}

/// Fires the event and waits (bounded) for its one run to leave `running`.
async fn run_for(h: &Harness, event: &DomainEvent) -> WorkflowRun {
    WorkflowSubscriber(h.workflows.clone()).handle(&h.tenant, event).await.expect("subscriber");
    for _ in 0..300 {
        for w in h.workflows.workflows(&h.principal, None, 10).await.expect("workflows") {
            let runs = h.workflows.runs(&h.principal, &w.id, None, 10).await.expect("runs");
            if let Some(run) = runs.into_iter().find(|r| r.event_id == event.id && r.state != RunState::Running) {
                return run;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no finished run for {}", event.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_step_queues_the_rendered_message_in_the_channels_outbox() {
    let h = harness(wf_config(), None).await;
    let action = json!({"type": "message", "channel": "whatsapp", "to": "{{data.phone}}",
                        "text": "Hi {{data.name}}, thanks for your interest!"});
    let workflow = lead_workflow(&h, action).await;

    let run = run_for(&h, &lead(json!({"name": "Ada", "phone": "+49 151 2345 6789"}))).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!(run.steps[0].action, "message");
    let detail = run.steps[0].detail.clone().unwrap_or_default();
    assert!(detail.starts_with("queued whatsapp message out_"), "{detail}");

    // The job that sends it holds it: WhatsApp is not connected.
    let mut outbox = Vec::new();
    for _ in 0..300 {
        outbox = h.channels.messages(&h.principal, None, 10).await.expect("outbox");
        if outbox.iter().all(|m| m.state != MessageState::Queued) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let m = &outbox[0];
    assert_eq!((m.channel, m.to.as_str()), (ChannelKind::Whatsapp, "+4915123456789"));
    assert_eq!(m.text, "Hi Ada, thanks for your interest!");
    assert_eq!(m.state, MessageState::Held, "{m:?}");
    assert_eq!(m.origin, format!("workflow {}", workflow.id));
    assert!(detail.ends_with(m.id.as_str()), "the step names the message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_the_event_does_not_fill_fails_the_step_without_retrying() {
    let h = harness(wf_config(), None).await;
    lead_workflow(&h, json!({"type": "message", "channel": "sms", "to": "{{data.phone}}", "text": "Welcome"})).await;

    let run = run_for(&h, &lead(json!({"name": "No Phone"}))).await;
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    assert_eq!((run.steps[0].state, run.steps[0].attempts), (StepState::Failed, 1), "bad input is not retried");
    let error = run.error.unwrap_or_default();
    assert!(error.contains("to"), "{error}");
    assert!(h.channels.messages(&h.principal, None, 10).await.expect("outbox").is_empty(), "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_actions_are_checked_when_the_workflow_is_saved() {
    let h = harness(wf_config(), None).await;
    let req: CreateWorkflowRequest = serde_json::from_value(json!({
        "name": "Bad messages",
        "trigger": {"event": "lead.created"},
        "actions": [
            {"type": "message", "channel": "sms", "to": "030 123", "text": "x"},
            {"type": "message", "channel": "sms", "to": "{{data.phone}}", "text": "x".repeat(1601)},
            {"type": "message", "channel": "telegram", "to": "@studio_news", "text": "ok"},
        ],
    }))
    .expect("request");
    match h.workflows.create_workflow(&h.principal, req, &h.actor).await {
        Err(Error::Validation(fields)) => {
            let named: Vec<(&str, &str)> = fields.iter().map(|f| (f.field.as_str(), f.code.as_str())).collect();
            assert_eq!(named, [("actions[0].to", "invalid_phone"), ("actions[1].text", "too_long")]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let unknown: Result<CreateWorkflowRequest, _> = serde_json::from_value(json!({
        "name": "Fax", "trigger": {"event": "lead.created"},
        "actions": [{"type": "message", "channel": "fax", "to": "+4930123456", "text": "x"}],
    }));
    assert!(unknown.is_err(), "an unknown channel does not parse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_template_step_renders_its_parameters() {
    let h = harness(wf_config(), None).await;
    let action = json!({"type": "message", "channel": "whatsapp", "to": "{{data.phone}}",
                        "template": {"name": "lead_welcome", "language": "de", "parameters": ["{{data.name}}"]}});
    lead_workflow(&h, action).await;
    let run = run_for(&h, &lead(json!({"name": "Ada", "phone": "+4915123456789"}))).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let outbox = h.channels.messages(&h.principal, None, 10).await.expect("outbox");
    let template = outbox[0].template.clone().expect("a template message");
    assert_eq!((template.name.as_str(), template.language.as_str()), ("lead_welcome", "de"));
    assert_eq!(template.parameters, ["Ada"]);

    // Templates are WhatsApp's only.
    let req: CreateWorkflowRequest = serde_json::from_value(json!({
        "name": "SMS template", "trigger": {"event": "lead.created"},
        "actions": [{"type": "message", "channel": "sms", "to": "+4930123456", "template": {"name": "x"}}],
    }))
    .expect("request");
    match h.workflows.create_workflow(&h.principal, req, &h.actor).await {
        Err(Error::Validation(fields)) => {
            let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(named, ["actions[0].template"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // A template's name and language are checked when the workflow is saved.
    let req: CreateWorkflowRequest = serde_json::from_value(json!({
        "name": "Bad template", "trigger": {"event": "lead.created"},
        "actions": [{"type": "message", "channel": "whatsapp", "to": "+4930123456",
                     "template": {"name": "Lead Welcome", "language": "x"}}],
    }))
    .expect("request");
    match h.workflows.create_workflow(&h.principal, req, &h.actor).await {
        Err(Error::Validation(fields)) => {
            let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(named, ["actions[0].template.name", "actions[0].template.language"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}
