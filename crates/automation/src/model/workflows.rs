//! Workflows: a trigger, conditions on the event's fields, and ordered actions; and their runs.

use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A tenant's workflow: trigger → conditions → actions.
    WorkflowId,
    "wfl"
);
define_id!(
    /// One execution of a workflow for one event.
    WorkflowRunId,
    "wfr"
);

/// The trigger kind of workflows that run on a timetable.
pub const SCHEDULE_EVENT: &str = "schedule";
/// The event kind of anomalies (the insights capability's `ANOMALY_EVENT`).
pub const ANOMALY_EVENT: &str = "anomaly.detected";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// What starts a workflow: a domain event (`anomaly.detected`, `lead.created`,
/// `booking.cancelled`, …) or `schedule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// An event kind, or `schedule`.
    pub event: String,
    /// Anomalies only: the metric's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Anomalies only: the lowest severity that fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_at_least: Option<Severity>,
    /// Anomalies only: `up` or `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Schedules: run every this many minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_minutes: Option<u32>,
    /// Schedules: run daily at `HH:MM` in the tenant's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConditionOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    Exists,
}

/// A test on one of the event's fields; a workflow fires only when all of its conditions hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Dotted path: `data.metric`, `data.dimensions.channel`, `data.items.0.name`, `event.kind`.
    pub field: String,
    pub op: ConditionOp,
    /// The value to compare with (not used by `exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<serde_json::Value>,
}

/// One step of a workflow. Text fields are templates: `{{event.kind}}`, `{{event.id}}`,
/// `{{workflow.name}}`, `{{data.metric}}`, `{{data.explanation}}`, `{{data.contact_id}}`, …
/// (unknown placeholders render empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// POSTs `{"text": …}` to a Slack incoming webhook. The URL is a secret: stored sealed and
    /// shown shortened; send the shortened form back unchanged to keep it.
    Slack { webhook_url: String, text: String },
    /// Publishes the event's data to the tenant's webhook endpoints (signed per Standard
    /// Webhooks), as `event_type` or else under the event's own kind.
    Webhook {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_type: Option<String>,
    },
    /// Sends an e-mail (through the outbox).
    Email { to: String, subject: String, body: String },
    /// Sends a WhatsApp, SMS or Telegram message through the tenant's connected channel (held
    /// in the channels outbox when the channel is not connected). `to` is a template that
    /// renders to a phone number in E.164 (WhatsApp, SMS) or a Telegram chat id / `@channel`,
    /// e.g. `{{data.phone}}`; a recipient that does not render to one fails the step without
    /// retrying.
    Message {
        #[schema(value_type = String)]
        channel: frontdesk_channels::model::ChannelKind,
        to: String,
        /// The text (a template); may be left out when a WhatsApp `template` is sent.
        #[serde(default)]
        text: String,
        /// WhatsApp only: a pre-approved template (what a business may send outside the 24 hours
        /// after the customer's last message); its `parameters` are templates like the text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<frontdesk_channels::model::MessageTemplate>,
    },
    /// Adds tags to a contact (keeping the ones they have). A missing contact fails the step
    /// without retrying.
    TagContact {
        /// The contact: a template, `{{data.contact_id}}` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact_id: Option<String>,
        /// 1–20 tags (templates), up to 40 characters each; stored in lower case.
        tags: Vec<String>,
    },
    /// Creates a follow-up task for the team, about the event's contact when it names one
    /// (`data.contact_id`) and linked to its conversation (`data.conversation_id`).
    FollowUpTask {
        /// Up to 200 characters (a template).
        title: String,
        /// Up to 4000 characters (a template).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
        /// Due this many hours after the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_in_hours: Option<u32>,
        /// The member who should do it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee_email: Option<String>,
        /// The contact: a template, `{{data.contact_id}}` when absent (no contact when it renders
        /// empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact_id: Option<String>,
    },
    /// Starts dunning for a Stripe invoice in the tenant's connected Stripe account: its payment
    /// is retried at each of `retry_after_hours` until it is paid (`dunning.recovered`) or the
    /// schedule runs out (`dunning.exhausted`). Meant for `payment.failed`; an invoice that is
    /// already being dunned keeps its case.
    StripeDunning {
        /// The invoice: a template, `{{data.invoice_id}}` when absent. One that does not render
        /// to an invoice id (`in_…`) fails the step without retrying.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<String>,
        /// Hours after the step at which to retry, increasing (1–8, the last within 60 days);
        /// 24, 72 and 168 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_hours: Option<Vec<u32>>,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Slack { .. } => "slack",
            Action::Webhook { .. } => "webhook",
            Action::Email { .. } => "email",
            Action::Message { .. } => "message",
            Action::TagContact { .. } => "tag_contact",
            Action::FollowUpTask { .. } => "follow_up_task",
            Action::StripeDunning { .. } => "stripe_dunning",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workflow {
    pub id: WorkflowId,
    pub name: String,
    pub trigger: Trigger,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    /// After firing, the workflow ignores further events for this long (schedules and tests
    /// ignore it).
    pub cooldown_secs: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<i64>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_fired_at: Option<i64>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

fn default_cooldown() -> i64 {
    300
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflowRequest {
    pub name: String,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    /// Seconds; 300 when absent.
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: i64,
    /// Create it disabled.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkflowRequest {
    pub name: Option<String>,
    pub trigger: Option<Trigger>,
    pub conditions: Option<Vec<Condition>>,
    pub actions: Option<Vec<Action>>,
    pub cooldown_secs: Option<i64>,
    /// `true` stops the workflow from firing; `false` resumes it.
    pub disabled: Option<bool>,
}

/// A sample event for `POST /workflows/{id}/test`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleEvent {
    pub kind: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    /// Not executed (the workflow was disabled before the run started).
    Skipped,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RunState::Running, RunState::Succeeded, RunState::Failed, RunState::Skipped]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunSource {
    Event,
    Schedule,
    Test,
}

impl RunSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RunSource::Event => "event",
            RunSource::Schedule => "schedule",
            RunSource::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RunSource::Event, RunSource::Schedule, RunSource::Test].into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    /// Failed; another attempt is scheduled.
    Retrying,
    Succeeded,
    Failed,
}

/// One action's outcome within a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Step {
    /// The action's type (`slack`, `webhook`, `email`, `tag_contact`, `follow_up_task`).
    pub action: String,
    pub state: StepState,
    /// What happened (`HTTP 200`, `queued e-mail eml_…`, `tagged ct_… with vip`, `created task
    /// tsk_…`) or the last error.
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    /// RFC 3339 time of the last attempt.
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowRun {
    pub id: WorkflowRunId,
    pub workflow_id: WorkflowId,
    pub event_id: String,
    pub event_kind: String,
    #[schema(value_type = Object)]
    pub event_data: serde_json::Value,
    pub source: RunSource,
    pub state: RunState,
    pub steps: Vec<Step>,
    /// Why the run failed (the failing step, its attempts and last error).
    pub error: Option<String>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<i64>,
}

/// The answer of `POST /workflows/{id}/test`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowTestResult {
    /// Whether the sample event matches the trigger and conditions (the test runs either way).
    pub matched: bool,
    pub run: WorkflowRun,
}
