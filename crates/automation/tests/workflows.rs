//! Workflows end to end: a real SQLite database, the real job worker, a local Slack stand-in
//! that records what it is sent; the subscriber is called directly with domain events.

mod common;

use common::{config, harness, Harness, Receiver};
use frontdesk_automation::model::*;
use frontdesk_automation::{AutomationConfig, WorkflowSubscriber, SCHEDULE_JOB};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::Error;
use frontdesk_store::events::{DomainEvent, Subscriber};
use frontdesk_store::jobs::{self, NewJob};
use serde_json::{json, Value};
use std::time::Duration;

/// Private destinations allowed (the stand-in is on loopback); step retries 50 ms apart.
fn wf_config() -> AutomationConfig {
    let mut c = config(true, 3);
    c.workflow_retry_delays = vec![Duration::from_millis(50); 4];
    c
}

fn anomaly(severity: &str, direction: &str, observed: f64) -> DomainEvent {
    DomainEvent {
        id: format!("evt_{}", frontdesk_kernel::id::new_body()),
        kind: "anomaly.detected".into(),
        occurred_at: now_ms(),
        data: json!({
            "metric": "bookings", "severity": severity, "direction": direction, "observed": observed,
            "explanation": "Bookings fell <b> & stayed low",
        }),
    }
}

fn slack(url: &str, text: &str) -> Value {
    json!({"type": "slack", "webhook_url": url, "text": text})
}

async fn create(h: &Harness, body: Value) -> Workflow {
    let req: CreateWorkflowRequest = serde_json::from_value(body).expect("request");
    h.workflows.create_workflow(&h.principal, req, &h.actor).await.expect("create workflow")
}

/// An anomaly workflow: bookings, at least medium, down, observed < 10.
async fn anomaly_workflow(h: &Harness, actions: Value, cooldown: i64) -> Workflow {
    create(
        h,
        json!({
            "name": "Bookings drop",
            "trigger": {"event": "anomaly.detected", "metric": "bookings", "severity_at_least": "medium", "direction": "down"},
            "conditions": [{"field": "data.observed", "op": "lt", "value": 10}],
            "actions": actions,
            "cooldown_secs": cooldown,
        }),
    )
    .await
}

async fn fire(h: &Harness, event: &DomainEvent) -> Vec<WorkflowRunId> {
    WorkflowSubscriber(h.workflows.clone()).handle(&h.tenant, event).await.expect("subscriber");
    let mut runs = Vec::new();
    for w in h.workflows.workflows(&h.principal, None, 100).await.expect("workflows") {
        let listed = h.workflows.runs(&h.principal, &w.id, None, 100).await.expect("runs");
        runs.extend(listed.into_iter().filter(|r| r.event_id == event.id).map(|r| r.id));
    }
    runs
}

/// Waits until the run leaves `running`.
async fn settled(h: &Harness, id: &WorkflowRunId) -> WorkflowRun {
    for _ in 0..300 {
        let run = h.workflows.run(&h.principal, id).await.expect("run");
        if run.state != RunState::Running {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {id} still running: {:?}", h.workflows.run(&h.principal, id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anomaly_fires_a_matching_workflow_with_substituted_escaped_slack_text() {
    let h = harness(wf_config(), None).await;
    let rx = Receiver::start(&[200]).await;
    let text = "*{{data.metric}}* ({{event.kind}}, {{workflow.name}}): {{data.explanation}}{{data.nope}}";
    let w = anomaly_workflow(&h, json!([slack(&rx.url, text)]), 0).await;
    assert!(w.actions[0] != Action::Slack { webhook_url: rx.url.clone(), text: text.into() }, "the URL is shortened");

    let event = anomaly("high", "down", 3.0);
    let runs = fire(&h, &event).await;
    assert_eq!(runs.len(), 1);
    let run = settled(&h, &runs[0]).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!((run.source, run.steps[0].state, run.steps[0].attempts), (RunSource::Event, StepState::Succeeded, 1));
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body,
        json!({"text": "*bookings* (anomaly.detected, Bookings drop): Bookings fell &lt;b&gt; &amp; stayed low"})
    );

    // The same event delivered again makes no second run.
    assert_eq!(fire(&h, &event).await.len(), 1);
    let listed = h.workflows.runs(&h.principal, &w.id, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_direction_and_conditions_that_do_not_match_do_not_fire() {
    let h = harness(wf_config(), None).await;
    let rx = Receiver::start(&[200]).await;
    let w = anomaly_workflow(&h, json!([slack(&rx.url, "x")]), 0).await;
    for event in [anomaly("low", "down", 3.0), anomaly("high", "up", 3.0), anomaly("high", "down", 50.0)] {
        assert!(fire(&h, &event).await.is_empty(), "{event:?}");
    }
    let mut other = anomaly("high", "down", 3.0);
    other.kind = "lead.created".into();
    assert!(fire(&h, &other).await.is_empty());
    assert!(h.workflows.runs(&h.principal, &w.id, None, 10).await.unwrap().is_empty());
    assert!(rx.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_suppresses_the_next_event() {
    let h = harness(wf_config(), None).await;
    let rx = Receiver::start(&[200]).await;
    let w = anomaly_workflow(&h, json!([slack(&rx.url, "x")]), 3600).await;
    assert_eq!(fire(&h, &anomaly("high", "down", 1.0)).await.len(), 1);
    assert!(fire(&h, &anomaly("high", "down", 2.0)).await.is_empty(), "cooling down");
    let fired = h.workflows.workflow(&h.principal, &w.id).await.unwrap();
    assert!(fired.last_fired_at.is_some());
}

async fn outbox_len(h: &Harness) -> usize {
    h.identity.emails(&h.principal, None, 100).await.expect("emails").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_is_retried_and_earlier_steps_are_not_repeated() {
    let h = harness(wf_config(), None).await;
    let rx = Receiver::start(&[500, 200]).await;
    let email = json!({"type": "email", "to": "Owner@Example.com", "subject": "{{data.metric}}\nalert", "body": "{{data.explanation}}"});
    anomaly_workflow(&h, json!([email, slack(&rx.url, "{{data.metric}}")]), 0).await;
    let runs = fire(&h, &anomaly("medium", "down", 1.0)).await;
    let run = settled(&h, &runs[0]).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!((run.steps[0].action.as_str(), run.steps[0].attempts), ("email", 1));
    assert_eq!(
        (run.steps[1].action.as_str(), run.steps[1].state, run.steps[1].attempts),
        ("slack", StepState::Succeeded, 2)
    );
    assert_eq!(rx.received().len(), 2);
    let emails = h.identity.emails(&h.principal, None, 10).await.unwrap();
    assert_eq!(emails.len(), 1, "the e-mail step ran once");
    assert_eq!((emails[0].to.as_str(), emails[0].subject.as_str()), ("owner@example.com", "bookings alert"));
    assert_eq!(emails[0].body, "Bookings fell <b> & stayed low", "e-mail text is not Slack-escaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_always_fails_leaves_a_failed_run_with_its_error() {
    let h = harness(wf_config(), None).await;
    let rx = Receiver::start(&[503]).await;
    let email = json!({"type": "email", "to": "owner@example.com", "subject": "s", "body": "b"});
    anomaly_workflow(&h, json!([slack(&rx.url, "x"), email]), 0).await;
    let runs = fire(&h, &anomaly("high", "down", 1.0)).await;
    let run = settled(&h, &runs[0]).await;
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    assert_eq!((run.steps[0].state, run.steps[0].attempts), (StepState::Failed, 5));
    assert_eq!(run.steps[1].state, StepState::Pending, "later steps do not run");
    let error = run.error.unwrap_or_default();
    assert!(error.starts_with("Step 1 (slack) failed after 5 attempts") && error.contains("503"), "{error}");
    assert!(run.finished_at.is_some());
    assert_eq!(rx.received().len(), 5);
    assert_eq!(outbox_len(&h).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_endpoint_runs_now_and_returns_the_steps() {
    let h = harness(wf_config(), None).await;
    let rx = Receiver::start(&[200]).await;
    let w =
        anomaly_workflow(&h, json!([slack(&rx.url, "{{data.metric}} {{data.severity}}"), {"type": "webhook"}]), 3600)
            .await;
    let sample: SampleEvent =
        serde_json::from_value(json!({"kind": "anomaly.detected", "data": {"metric": "visits", "severity": "low"}}))
            .unwrap();
    for expected in [1, 2] {
        let result = h.workflows.test_workflow(&h.principal, &w.id, sample.clone(), &h.actor).await.unwrap();
        assert!(!result.matched, "wrong metric and severity");
        assert_eq!(result.run.source, RunSource::Test);
        assert_eq!(result.run.state, RunState::Succeeded, "{:?}", result.run);
        let details: Vec<_> = result.run.steps.iter().map(|s| s.detail.clone().unwrap_or_default()).collect();
        assert_eq!(details, ["HTTP 200", "queued 0 webhook deliveries"]);
        assert_eq!(rx.received().len(), expected, "tests ignore the cooldown");
    }
    assert_eq!(rx.received()[0].body["text"], "visits low");

    // The shortened URL sent back keeps the stored one.
    let shown = h.workflows.workflow(&h.principal, &w.id).await.unwrap();
    let update = UpdateWorkflowRequest { actions: Some(shown.actions.clone()), ..Default::default() };
    h.workflows.update_workflow(&h.principal, &w.id, update, &h.actor).await.unwrap();
    let result = h.workflows.test_workflow(&h.principal, &w.id, sample, &h.actor).await.unwrap();
    assert_eq!(result.run.state, RunState::Succeeded, "{:?}", result.run);
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_limit_answers_409_and_validation_names_the_field() {
    let mut c = wf_config();
    c.max_workflows_per_tenant = 2;
    let h = harness(c, None).await;
    let body = |actions: Value| json!({"name": "n", "trigger": {"event": "lead.created"}, "actions": actions});
    let bad = body(
        json!([{"type": "slack", "webhook_url": "not a url", "text": ""}, {"type": "email", "to": "x", "subject": "s", "body": "b"}]),
    );
    let req: CreateWorkflowRequest = serde_json::from_value(bad).unwrap();
    match h.workflows.create_workflow(&h.principal, req, &h.actor).await {
        Err(Error::Validation(errors)) => {
            let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
            assert!(fields.contains(&("actions[0].webhook_url", "invalid_url")), "{fields:?}");
            assert!(fields.contains(&("actions[0].text", "required")), "{fields:?}");
            assert!(fields.iter().any(|f| f.0 == "actions[1].to"), "{fields:?}");
        }
        other => panic!("accepted: {other:?}"),
    }
    let bad_trigger = json!({"name": "n", "trigger": {"event": "lead.created", "severity_at_least": "high"}, "actions": [{"type": "webhook"}]});
    let req: CreateWorkflowRequest = serde_json::from_value(bad_trigger).unwrap();
    match h.workflows.create_workflow(&h.principal, req, &h.actor).await {
        Err(Error::Validation(errors)) => assert_eq!(errors[0].field, "trigger.severity_at_least"),
        other => panic!("accepted: {other:?}"),
    }
    for _ in 0..2 {
        create(&h, body(json!([{"type": "webhook"}]))).await;
    }
    let req: CreateWorkflowRequest = serde_json::from_value(body(json!([{"type": "webhook"}]))).unwrap();
    match h.workflows.create_workflow(&h.principal, req, &h.actor).await {
        Err(e @ Error::Conflict { code: "workflow_limit", .. }) => assert_eq!(e.status().as_u16(), 409),
        other => panic!("not limited: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_schedule_fires_from_the_scheduler_job() {
    let h = harness(wf_config(), None).await;
    let email =
        json!({"type": "email", "to": "owner@example.com", "subject": "Report {{data.scheduled_for}}", "body": "b"});
    let w = create(
        &h,
        json!({"name": "Every minute", "trigger": {"event": "schedule", "every_minutes": 1}, "actions": [email]}),
    )
    .await;
    let mut tx = h.db.tenant(&h.tenant).await.unwrap();
    frontdesk_store::query("UPDATE workflows SET last_fired_at = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(now_ms() - 120_000)
        .bind(h.tenant.as_str())
        .bind(w.id.as_str())
        .execute(frontdesk_store::Tx::conn(&mut tx))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut sys = h.db.system().await.unwrap();
    jobs::enqueue(&mut sys, NewJob::new(SCHEDULE_JOB, &json!({})).unwrap()).await.unwrap();
    sys.commit().await.unwrap();
    let mut runs = Vec::new();
    for _ in 0..250 {
        runs = h.workflows.runs(&h.principal, &w.id, None, 10).await.unwrap();
        if !runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runs.len(), 1, "fired once");
    let run = settled(&h, &runs[0].id).await;
    assert_eq!(
        (run.source, run.state, run.event_kind.as_str()),
        (RunSource::Schedule, RunState::Succeeded, "schedule")
    );
    assert_eq!(run.event_data["workflow_id"], w.id.as_str());
    assert_eq!(outbox_len(&h).await, 1);
    // Fired just now: not due again.
    assert_eq!(h.workflows.fire_schedules(now_ms()).await.unwrap(), 0);
}
