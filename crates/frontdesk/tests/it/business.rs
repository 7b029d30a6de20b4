//! Issue 6, end to end on both engines: Frontdesk's own business metrics are fed from the web
//! chat by the business-metrics job and read through the metrics API; a workflow on
//! `conversation.handed_off` tags the contact and creates a follow-up task that staff see and
//! complete through `/api/v1/tasks`.

use crate::both;
use crate::conversations::{say, staff_conversation, use_model};
use crate::harness::TestApp;
use frontdesk_agent::testing::{Reply, StandIn};
use frontdesk_insights::business::{BUCKET_MS, GRACE_MS};
use frontdesk_kernel::time::{now_ms, to_rfc3339};
use serde_json::{json, Value};
use std::time::Duration;

/// The sum of a metric's raw points over the last two hours (and how many points there are).
async fn metric_sum(app: &TestApp, token: &str, metric: &str) -> (f64, usize) {
    let from = to_rfc3339(now_ms() - 2 * 3_600_000);
    let to = to_rfc3339(now_ms() + 2 * BUCKET_MS + 60_000);
    let res = app
        .client
        .get(app.at(&format!("/api/v1/metrics/{metric}")))
        .query(&[("resolution", "raw"), ("from", from.as_str()), ("to", to.as_str())])
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "{metric}");
    let points: Vec<Value> = res.json().await.expect("json");
    (points.iter().filter_map(|p| p["value"].as_f64()).sum(), points.len())
}

async fn business_metrics_from_the_web_chat(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("We open at 7.".into()));
    let t = app.tenant("Metered Studio").await;
    let quiet = app.tenant("Quiet Studio").await;
    use_model(app, &t, &model, json!({})).await;
    let first = say(app, &t.slug, None, "When do you open?").await;
    let token = first["visitor_token"].as_str().expect("token").to_owned();
    say(app, &t.slug, Some(&token), "And on Sundays?").await;
    say(app, &t.slug, None, "Do you have parking?").await; // a second visitor: a second conversation

    // The job, run with its clock past the end of the bucket that holds the chat.
    let feed = frontdesk::app::business_feed(&app.db, frontdesk_insights::Insights::new(app.db.clone()));
    let later = now_ms() + BUCKET_MS + GRACE_MS;
    let report = feed.close_buckets(later).await.expect("feed");
    assert_eq!((report.tenants, report.failed), (1, 0), "only the tenant that chatted is visited: {report:?}");
    assert!(report.points > 0, "{report:?}");

    let (messages_in, points) = metric_sum(app, &t.access_token, "frontdesk.messages_in").await;
    assert_eq!(messages_in, 3.0, "three customer messages");
    assert_eq!(points as i64, frontdesk_insights::business::LOOKBACK_MS / BUCKET_MS, "a point per bucket, zeros too");
    assert_eq!(metric_sum(app, &t.access_token, "frontdesk.messages_out").await.0, 3.0, "three answers");
    assert_eq!(metric_sum(app, &t.access_token, "frontdesk.conversations_started").await.0, 2.0);
    assert_eq!(metric_sum(app, &t.access_token, "frontdesk.ai_calls").await.0, 3.0);
    assert!(metric_sum(app, &t.access_token, "frontdesk.ai_tokens").await.0 > 0.0);
    assert_eq!(metric_sum(app, &quiet.access_token, "frontdesk.messages_in").await, (0.0, 0), "nothing for the idle");

    // A second run (another replica, a retry) stores nothing twice.
    let again = feed.close_buckets(later).await.expect("feed again");
    assert_eq!(again.points, 0, "{again:?}");
    assert_eq!(metric_sum(app, &t.access_token, "frontdesk.messages_in").await.0, 3.0);
    let series: Value = app.get_json("/api/v1/metrics", &t.access_token).await;
    let names: Vec<&str> = series.as_array().into_iter().flatten().filter_map(|s| s["metric"].as_str()).collect();
    assert!(names.contains(&"frontdesk.handoffs") && names.contains(&"frontdesk.messages_in"), "{names:?}");

    // Tenants cannot write into Frontdesk's own names.
    let res = app
        .client
        .post(app.at("/api/v1/metrics/ingest"))
        .bearer_auth(&t.api_key)
        .json(&json!([
            {"metric": "bookings", "value": 1, "timestamp": now_ms() / 1000},
            {"metric": "frontdesk.messages_in", "value": 99, "timestamp": now_ms() / 1000}
        ]))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("problem");
    assert_eq!(problem["errors"][0]["field"], "[1].metric", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "reserved", "{problem}");
    assert_eq!(metric_sum(app, &t.access_token, "frontdesk.messages_in").await.0, 3.0);
}

both!(business_metrics, business_metrics_from_the_web_chat, crate::conversations::fast);

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app.client.post(app.at(path)).bearer_auth(token).json(&body).send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `path` until `done` holds.
async fn until(app: &TestApp, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = app.get_json(path, token).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there: {last:#}");
}

async fn handoff_tags_the_contact_and_creates_a_task(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("Let me check.".into()));
    let t = app.tenant("Careful Studio").await;
    use_model(app, &t, &model, json!({})).await;
    let workflow = json!({
        "name": "Call back after a handoff",
        "trigger": {"event": "conversation.handed_off"},
        "cooldown_secs": 0,
        "actions": [
            {"type": "tag_contact", "tags": ["Needs-Callback", "via-{{data.channel}}"]},
            {"type": "follow_up_task", "title": "Call back ({{data.reason}})", "notes": "From {{workflow.name}}",
             "due_in_hours": 4, "assignee_email": t.email},
        ],
    });
    let (status, created) = post(app, &t.access_token, "/api/v1/workflows", workflow).await;
    assert_eq!(status, 201, "{created}");
    let workflow_id = created["id"].as_str().expect("workflow id").to_owned();
    assert_eq!(created["actions"][1]["type"], "follow_up_task");

    let first = say(app, &t.slug, None, "What does a ten-class card cost?").await;
    let conversation = first["conversation_id"].as_str().expect("conversation").to_owned();
    let detail = staff_conversation(app, &t.access_token, &conversation).await;
    let contact = detail["contact_id"].as_str().expect("contact").to_owned();
    let (status, taken) =
        post(app, &t.access_token, &format!("/api/v1/conversations/{conversation}/takeover"), json!({})).await;
    assert_eq!((status, taken["status"].as_str()), (200, Some("handed_off")), "{taken}");

    let tasks_path = format!("/api/v1/tasks?status=open&contact_id={contact}");
    let tasks =
        until(app, &t.access_token, &tasks_path, |v| v["items"].as_array().is_some_and(|a| !a.is_empty())).await;
    let task = &tasks["items"][0];
    assert_eq!(task["title"], "Call back (staff_takeover)");
    assert_eq!(task["notes"], "From Call back after a handoff");
    assert_eq!(task["conversation_id"], conversation.as_str());
    assert_eq!(task["created_by"], "workflow Call back after a handoff");
    assert!(task["assignee_id"].as_str().is_some_and(|a| a.starts_with("usr_")), "{task}");
    assert!(task["due_at"].is_string());
    let shown: Value = app.get_json(&format!("/api/v1/contacts/{contact}"), &t.access_token).await;
    assert_eq!(shown["contact"]["tags"], json!(["needs-callback", "via-web"]), "{shown}");

    let runs_path = format!("/api/v1/workflows/{workflow_id}/runs");
    let runs = until(app, &t.access_token, &runs_path, |v| v["items"][0]["state"] == "succeeded").await;
    let steps = &runs["items"][0]["steps"];
    assert_eq!(steps[0]["action"], "tag_contact");
    assert_eq!(steps[0]["detail"], format!("tagged {contact} with needs-callback, via-web"));
    assert!(steps[1]["detail"].as_str().is_some_and(|d| d.starts_with("created task tsk_")), "{steps}");

    // Staff complete it: gone from the open list, listed as done; twice is a conflict.
    let task_id = task["id"].as_str().expect("task id");
    let (status, done) = post(app, &t.access_token, &format!("/api/v1/tasks/{task_id}/complete"), json!({})).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("done")), "{done}");
    let (status, _) = post(app, &t.access_token, &format!("/api/v1/tasks/{task_id}/complete"), json!({})).await;
    assert_eq!(status, 409);
    let open: Value = app.get_json(&tasks_path, &t.access_token).await;
    assert_eq!(open["items"], json!([]));
    let closed: Value = app.get_json("/api/v1/tasks?status=done", &t.access_token).await;
    assert_eq!(closed["items"][0]["id"], task_id);

    // A sample event naming a contact that does not exist: the step fails once, not retried.
    let sample = json!({"kind": "conversation.handed_off", "data": {"contact_id": "ct_01JD3Q0000000000000000000A", "reason": "x"}});
    let (status, tested) = post(app, &t.access_token, &format!("/api/v1/workflows/{workflow_id}/test"), sample).await;
    assert_eq!(status, 200, "{tested}");
    let run = &tested["run"];
    assert_eq!((run["state"].as_str(), run["steps"][0]["state"].as_str()), (Some("failed"), Some("failed")), "{run}");
    assert_eq!(run["steps"][0]["attempts"], 1);
    assert!(run["error"].as_str().is_some_and(|e| e.contains("does not exist")), "{run}");

    // A workflow naming something that cannot work is refused with the field at fault.
    let bad = json!({"name": "Bad", "trigger": {"event": "conversation.handed_off"},
        "actions": [{"type": "tag_contact", "tags": []}, {"type": "follow_up_task", "title": " ", "assignee_email": "nobody"}]});
    let (status, problem) = post(app, &t.access_token, "/api/v1/workflows", bad).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> =
        problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["actions[0].tags", "actions[1].title", "actions[1].assignee_email"], "{problem}");
}

both!(handoff_workflow, handoff_tags_the_contact_and_creates_a_task, crate::conversations::fast);
