//! Dashboard pages of workflows: the list, an editor (the trigger, conditions and actions as
//! JSON, validated with the field at fault named, with an example of every action type),
//! enable/disable, delete, and each workflow's run history with every step's outcome.

use crate::model::*;
use crate::Workflows;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Form;
use frontdesk_kernel::{Error, FieldError};
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{ApiPath, AuditActor, Permission, Principal, Requirement, Routes};
use serde::Deserialize;
use serde_json::json;

pub fn templates(b: &mut TemplatesBuilder) {
    b.template("automation/workflows.html", include_str!("../templates/workflows.html"))
        .template("automation/workflow_runs.html", include_str!("../templates/workflow_runs.html"))
        .nav(NavItem {
            href: "/app/workflows",
            label: "nav.workflows",
            requirement: Requirement::Tenant(Permission::InsightsRead),
            order: 47,
        });
}

pub fn routes(workflows: Workflows) -> Routes {
    let manage = Requirement::Tenant(Permission::InsightsManage);
    Routes::new()
        .get("/app/workflows", Requirement::Tenant(Permission::InsightsRead), get(list))
        .post("/app/workflows", manage, post(create))
        .get("/app/workflows/{workflow_id}", Requirement::Tenant(Permission::InsightsRead), get(runs))
        .post("/app/workflows/{workflow_id}/toggle", manage, post(toggle))
        .post("/app/workflows/{workflow_id}/delete", manage, post(delete))
        .with_state(workflows)
}

/// The editor's starting point: an anomaly alert to Slack.
const EXAMPLE_TRIGGER: &str =
    r#"{"event": "anomaly.detected", "metric": "bookings", "direction": "down", "severity_at_least": "medium"}"#;
const EXAMPLE_CONDITIONS: &str = "[]";
/// One example per action type, shown under the editor.
const ACTION_EXAMPLES: &[(&str, &str)] = &[
    (
        "slack",
        r#"{"type": "slack", "webhook_url": "https://hooks.slack.com/services/…", "text": "{{data.explanation}}"}"#,
    ),
    ("webhook", r#"{"type": "webhook", "event_type": "studio.alert"}"#),
    (
        "email",
        r#"{"type": "email", "to": "owner@example.com", "subject": "{{event.kind}}", "body": "{{data.explanation}}"}"#,
    ),
    ("message", r#"{"type": "message", "channel": "whatsapp", "to": "+4930123456", "text": "{{data.explanation}}"}"#),
    ("tag_contact", r#"{"type": "tag_contact", "tags": ["needs-callback", "{{data.channel}}"]}"#),
    (
        "follow_up_task",
        r#"{"type": "follow_up_task", "title": "Call back: {{data.reason}}", "notes": "Conversation {{data.conversation_id}}", "due_in_hours": 4, "assignee_email": "desk@example.com"}"#,
    ),
    ("stripe_dunning", r#"{"type": "stripe_dunning", "retry_after_hours": [24, 72, 168]}"#),
];
const EXAMPLE_ACTIONS: &str =
    r#"[{"type": "slack", "webhook_url": "https://hooks.slack.com/services/…", "text": "{{data.explanation}}"}]"#;

#[derive(Deserialize)]
pub struct WorkflowForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    trigger: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    actions: String,
    #[serde(default)]
    cooldown_secs: String,
}

async fn render(
    w: &Workflows,
    page: &Page,
    p: &Principal,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: serde_json::Value,
) -> Response {
    match w.workflows(p, None, 200).await {
        Ok(list) => {
            // Errors of the JSON fields, shown under each (`actions[0].webhook_url` → actions).
            let under = |name: &str| errors.iter().filter(|e| e.field.starts_with(name)).cloned().collect::<Vec<_>>();
            let json_errors =
                json!({"trigger": under("trigger"), "conditions": under("conditions"), "actions": under("actions")});
            page.render_status(
                status,
                "automation/workflows.html",
                json!({
                    "workflows": list,
                    "can_manage": p.can(Permission::InsightsManage),
                    "errors": errors,
                    "json_errors": json_errors,
                    "form": form,
                    "action_examples": ACTION_EXAMPLES.iter().map(|(kind, example)| json!({"type": kind, "example": example})).collect::<Vec<_>>(),
                }),
            )
        }
        Err(e) => page.error(e),
    }
}

fn blank_form() -> serde_json::Value {
    json!({"name": "", "trigger": EXAMPLE_TRIGGER, "conditions": EXAMPLE_CONDITIONS, "actions": EXAMPLE_ACTIONS, "cooldown_secs": "300"})
}

async fn list(State(w): State<Workflows>, page: Page, p: Principal) -> Response {
    render(&w, &page, &p, StatusCode::OK, Vec::new(), blank_form()).await
}

/// Parses one JSON field of the form, naming it on failure.
fn json_field<T: serde::de::DeserializeOwned>(errors: &mut Vec<FieldError>, field: &str, text: &str) -> Option<T> {
    match frontdesk_web::extract::parse_json::<T>(text.as_bytes()) {
        Ok(v) => Some(v),
        Err(Error::Validation(es)) => {
            for e in es {
                let at = if e.field.is_empty() { field.to_owned() } else { format!("{field}.{}", e.field) };
                errors.push(FieldError::new(at, &e.code, e.message));
            }
            None
        }
        Err(e) => {
            errors.push(FieldError::new(field, "invalid", e.to_string()));
            None
        }
    }
}

async fn create(
    State(w): State<Workflows>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<WorkflowForm>,
) -> Response {
    let form = json!({"name": f.name, "trigger": f.trigger, "conditions": f.conditions, "actions": f.actions, "cooldown_secs": f.cooldown_secs});
    let mut errors = Vec::new();
    let trigger = json_field::<Trigger>(&mut errors, "trigger", &f.trigger);
    let conditions = json_field::<Vec<Condition>>(
        &mut errors,
        "conditions",
        if f.conditions.trim().is_empty() { "[]" } else { &f.conditions },
    );
    let actions = json_field::<Vec<Action>>(&mut errors, "actions", &f.actions);
    let cooldown_secs = match f.cooldown_secs.trim() {
        "" => 300,
        s => s.parse().unwrap_or_else(|_| {
            errors.push(FieldError::new("cooldown_secs", "invalid", "Seconds, as a whole number."));
            0
        }),
    };
    let (Some(trigger), Some(conditions), Some(actions)) = (trigger, conditions, actions) else {
        return render(&w, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, errors, form).await;
    };
    if !errors.is_empty() {
        return render(&w, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, errors, form).await;
    }
    let req =
        CreateWorkflowRequest { name: f.name.clone(), trigger, conditions, actions, cooldown_secs, disabled: false };
    match w.create_workflow(&p, req, &actor).await {
        Ok(_) => Redirect::to("/app/workflows?notice=saved").into_response(),
        Err(Error::Validation(errors)) => render(&w, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, errors, form).await,
        Err(e @ Error::Conflict { .. }) => {
            let problem = e.problem();
            let errors = vec![FieldError::new("", &problem.code, problem.detail.unwrap_or_default())];
            render(&w, &page, &p, StatusCode::CONFLICT, errors, form).await
        }
        Err(e) => page.error(e),
    }
}

async fn runs(State(w): State<Workflows>, page: Page, p: Principal, ApiPath(id): ApiPath<WorkflowId>) -> Response {
    let result = async {
        let workflow = w.workflow(&p, &id).await?;
        let runs = w.runs(&p, &id, None, 50).await?;
        Ok::<_, Error>(json!({"workflow": workflow, "runs": runs}))
    };
    match result.await {
        Ok(data) => page.render("automation/workflow_runs.html", data),
        Err(e) => page.error(e),
    }
}

async fn toggle(
    State(w): State<Workflows>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Response {
    let result = async {
        let current = w.workflow(&p, &id).await?;
        let req = UpdateWorkflowRequest { disabled: Some(current.disabled_at.is_none()), ..Default::default() };
        w.update_workflow(&p, &id, req, &actor).await
    };
    page.after(result.await, "/app/workflows?notice=saved")
}

async fn delete(
    State(w): State<Workflows>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Response {
    page.after(w.delete_workflow(&p, &id, &actor).await, "/app/workflows?notice=deleted")
}
