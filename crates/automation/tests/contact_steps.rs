//! The `tag_contact` and `follow_up_task` steps: their checks, their templates, the event's
//! contact by default, and how failures are retried (or not). Contacts are played by a recording
//! implementation of the `ContactActions` interface that writes a row in the run's transaction,
//! so a rolled-back attempt leaves nothing behind.

mod common;

use common::{config, harness_with, Harness};
use frontdesk_automation::model::*;
use frontdesk_automation::{ContactActions, ContactFuture, ContactStepError, FollowUpRequest};
use frontdesk_kernel::Error;
use frontdesk_store::audit::Actor;
use frontdesk_store::{TenantTx, Tx};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the contacts side was asked, and how many of the next calls fail (transiently).
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    fail_next: Mutex<u32>,
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }

    /// Records the call as an audit entry in the run's transaction (rolled back with it).
    async fn record(&self, tx: &mut TenantTx, line: String, actor: &Actor) -> Result<String, ContactStepError> {
        let change =
            frontdesk_store::audit::Change::new("test.contact_step", "contact", None).details(json!({"line": line}));
        frontdesk_store::audit::record(tx, actor, change)
            .await
            .map_err(|e| ContactStepError::Transient(e.to_string()))?;
        {
            let mut fail = self.fail_next.lock().expect("lock");
            if *fail > 0 {
                *fail -= 1;
                return Err(ContactStepError::Transient("database busy".into()));
            }
        }
        self.calls.lock().expect("lock").push(line.clone());
        Ok(line)
    }
}

impl ContactActions for Recorder {
    fn tag_contact<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        contact_id: &'a str,
        tags: &'a [String],
        actor: &'a Actor,
    ) -> ContactFuture<'a> {
        Box::pin(async move {
            if contact_id == "ct_gone" {
                return Err(ContactStepError::Permanent(format!("contact {contact_id} does not exist")));
            }
            self.record(tx, format!("tag {contact_id} {} by {}", tags.join("+"), actor.label), actor).await
        })
    }

    fn create_follow_up<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        task: FollowUpRequest,
        actor: &'a Actor,
    ) -> ContactFuture<'a> {
        Box::pin(async move {
            let line = format!(
                "task {:?} {:?} {:?} {:?} {:?} {:?}",
                task.title, task.notes, task.due_in_hours, task.assignee_email, task.contact_id, task.conversation_id
            );
            self.record(tx, line, actor).await
        })
    }
}

async fn start() -> (Harness, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let mut c = config(true, 3);
    c.workflow_retry_delays = vec![Duration::from_millis(50); 2];
    let h = harness_with(c, None, Some(recorder.clone())).await;
    (h, recorder)
}

async fn create(h: &Harness, actions: Value) -> Result<Workflow, Error> {
    let req: CreateWorkflowRequest = serde_json::from_value(json!({
        "name": "Handoffs",
        "trigger": {"event": "conversation.handed_off"},
        "actions": actions,
        "cooldown_secs": 0,
    }))
    .expect("request");
    h.workflows.create_workflow(&h.principal, req, &h.actor).await
}

async fn test_run(h: &Harness, w: &Workflow, data: Value) -> WorkflowRun {
    let sample = SampleEvent { kind: "conversation.handed_off".into(), data };
    h.workflows.test_workflow(&h.principal, &w.id, sample, &h.actor).await.expect("test").run
}

async fn settled(h: &Harness, id: &WorkflowRunId) -> WorkflowRun {
    for _ in 0..300 {
        let run = h.workflows.run(&h.principal, id).await.expect("run");
        if run.state != RunState::Running {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {id} still running");
}

async fn audited_steps(h: &Harness) -> usize {
    let mut tx = h.db.tenant_read(&h.tenant).await.expect("tx");
    let tid = tx.tid().to_owned();
    let n: i64 = frontdesk_store::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'test.contact_step'",
    )
    .bind(tid)
    .fetch_one(tx.conn())
    .await
    .expect("count");
    n as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_steps_render_their_templates_with_the_events_contact() {
    let (h, recorder) = start().await;
    let w = create(
        &h,
        json!([
            {"type": "tag_contact", "tags": ["callback", "via-{{data.channel}}"]},
            {"type": "follow_up_task", "title": "Call back ({{data.reason}})", "notes": "{{workflow.name}}",
             "due_in_hours": 4, "assignee_email": " Desk@Example.com ", "contact_id": "{{data.person}}"},
        ]),
    )
    .await
    .expect("workflow");
    let Action::FollowUpTask { assignee_email, .. } = &w.actions[1] else { panic!("{:?}", w.actions) };
    assert_eq!(assignee_email.as_deref(), Some("desk@example.com"), "the address is stored normalised");

    let data = json!({"contact_id": "ct_1", "person": "ct_2", "channel": "web", "reason": "complaint", "conversation_id": "cv_9"});
    let run = test_run(&h, &w, data).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!(
        recorder.calls(),
        [
            "tag ct_1 callback+via-web by workflow Handoffs".to_owned(),
            r#"task "Call back (complaint)" Some("Handoffs") Some(4) Some("desk@example.com") Some("ct_2") Some("cv_9")"#
                .to_owned(),
        ]
    );
    assert_eq!(run.steps[0].detail.as_deref(), Some("tag ct_1 callback+via-web by workflow Handoffs"));
    assert_eq!(audited_steps(&h).await, 2, "each step wrote in the run's transaction");

    // Without a contact in the event, the task is made without one; the tag step cannot work.
    let run = test_run(&h, &w, json!({"reason": "x"})).await;
    assert_eq!(run.state, RunState::Failed);
    assert_eq!((run.steps[0].state, run.steps[0].attempts), (StepState::Failed, 1), "not retried: {run:?}");
    assert!(run.error.as_deref().is_some_and(|e| e.contains("names no contact")), "{run:?}");
    assert_eq!(recorder.calls().len(), 2, "the later step never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_contact_fails_at_once_and_a_busy_database_is_retried() {
    let (h, recorder) = start().await;
    let w = create(&h, json!([{"type": "tag_contact", "tags": ["vip"]}])).await.expect("workflow");
    let run = test_run(&h, &w, json!({"contact_id": "ct_gone"})).await;
    assert_eq!((run.state, run.steps[0].attempts), (RunState::Failed, 1), "{run:?}");
    assert!(run.error.as_deref().is_some_and(|e| e.contains("ct_gone does not exist")), "{run:?}");

    *recorder.fail_next.lock().expect("lock") = 1;
    let first = test_run(&h, &w, json!({"contact_id": "ct_7"})).await;
    assert_eq!((first.state, first.steps[0].state), (RunState::Running, StepState::Retrying), "{first:?}");
    let run = settled(&h, &first.id).await;
    assert_eq!((run.state, run.steps[0].attempts), (RunState::Succeeded, 2), "{run:?}");
    assert_eq!(recorder.calls(), ["tag ct_7 vip by workflow Handoffs"]);
    assert_eq!(audited_steps(&h).await, 1, "the failed attempt's write was rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_steps_are_checked_with_the_field_at_fault() {
    let (h, _) = start().await;
    let bad = json!([
        {"type": "tag_contact", "tags": [], "contact_id": "someone"},
        {"type": "tag_contact", "tags": ["ok", "", "a,b", "{{data.tag}}"]},
        {"type": "follow_up_task", "title": "", "due_in_hours": 100000, "assignee_email": "not-an-address"},
    ]);
    match create(&h, bad).await {
        Err(Error::Validation(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(
                fields,
                [
                    "actions[0].contact_id",
                    "actions[0].tags",
                    "actions[1].tags[1]",
                    "actions[1].tags[2]",
                    "actions[2].title",
                    "actions[2].due_in_hours",
                    "actions[2].assignee_email",
                ]
            );
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    let unknown = serde_json::from_value::<Action>(json!({"type": "tag_contact", "tags": ["x"], "colour": "red"}));
    assert!(unknown.is_err(), "unknown fields are refused");
}
