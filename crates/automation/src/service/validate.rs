//! Checking workflow definitions, with field errors named like `actions[1].webhook_url` or
//! `actions[0].tags[2]`; and
//! sealing / showing the Slack webhook URLs inside actions.

use super::*;
use crate::service::matching::parse_hh_mm;
use frontdesk_kernel::domain::Email;

const MAX_NAME: usize = 200;
const MAX_CONDITIONS: usize = 20;
const MAX_ACTIONS: usize = 10;
const MAX_TEXT: usize = 4000;
const MAX_BODY: usize = 20_000;
const MAX_SUBJECT: usize = 200;
const MAX_COOLDOWN: i64 = 7 * 24 * 3600;
const MAX_EVERY_MINUTES: u32 = 7 * 24 * 60;
/// The contact form's limits on tags.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;
/// The limits of follow-up tasks.
const MAX_TASK_TITLE: usize = 200;
const MAX_TASK_NOTES: usize = 4000;
const MAX_DUE_HOURS: u32 = 24 * 366;

impl Workflows {
    pub(crate) fn check_name(v: &mut Validator, name: &str) -> String {
        let name = name.trim();
        if name.is_empty() {
            v.push("name", "required", "Give the workflow a name.");
        } else if name.chars().count() > MAX_NAME {
            v.push("name", "too_long", format!("At most {MAX_NAME} characters."));
        }
        name.to_owned()
    }

    pub(crate) fn check_cooldown(v: &mut Validator, secs: i64) {
        if !(0..=MAX_COOLDOWN).contains(&secs) {
            v.push("cooldown_secs", "out_of_range", format!("Between 0 and {MAX_COOLDOWN} seconds."));
        }
    }

    pub(crate) fn check_trigger(v: &mut Validator, t: &Trigger) {
        let schedule = t.event == SCHEDULE_EVENT;
        if !schedule {
            if let Err((code, message)) = check_event_type(&t.event) {
                v.push("trigger.event", code, message);
            }
        }
        if t.event != ANOMALY_EVENT {
            for (field, set) in [
                ("metric", t.metric.is_some()),
                ("severity_at_least", t.severity_at_least.is_some()),
                ("direction", t.direction.is_some()),
            ] {
                if set {
                    v.push(&format!("trigger.{field}"), "anomalies_only", "Only anomaly triggers filter on this.");
                }
            }
        }
        if let Some(metric) = &t.metric {
            if metric.trim().is_empty() || metric.len() > 200 {
                v.push("trigger.metric", "invalid", "Name a metric (at most 200 characters).");
            }
        }
        match (schedule, t.every_minutes, t.daily_at.as_deref()) {
            (false, None, None) => {}
            (false, _, _) => v.push("trigger.event", "schedule_only", "Only schedule triggers take a timetable."),
            (true, None, None) | (true, Some(_), Some(_)) => {
                v.push("trigger", "schedule_required", "A schedule needs either every_minutes or daily_at.")
            }
            (true, Some(n), None) => {
                if !(1..=MAX_EVERY_MINUTES).contains(&n) {
                    v.push("trigger.every_minutes", "out_of_range", format!("Between 1 and {MAX_EVERY_MINUTES}."));
                }
            }
            (true, None, Some(at)) => {
                if parse_hh_mm(at).is_none() {
                    v.push("trigger.daily_at", "invalid_time", "A time of day as HH:MM, like 09:30.");
                }
            }
        }
    }

    pub(crate) fn check_conditions(v: &mut Validator, conditions: &[Condition]) {
        if conditions.len() > MAX_CONDITIONS {
            v.push("conditions", "too_many", format!("At most {MAX_CONDITIONS} conditions."));
        }
        for (i, c) in conditions.iter().enumerate() {
            let f = c.field.as_str();
            let path_ok = (f.starts_with("data.") && f.len() > 5 && !f.split('.').any(str::is_empty))
                || matches!(f, "event.kind" | "event.id" | "event.occurred_at");
            if !path_ok || f.len() > 200 {
                v.push(
                    &format!("conditions[{i}].field"),
                    "invalid_path",
                    "A dotted path into the event's data (data.severity, data.items.0.name) or event.kind.",
                );
            }
            let value_ok = match (c.op, &c.value) {
                (ConditionOp::Exists, _) => true,
                (_, None) => false,
                (ConditionOp::Gt | ConditionOp::Gte | ConditionOp::Lt | ConditionOp::Lte, Some(v)) => {
                    v.is_number() || v.is_string()
                }
                (_, Some(_)) => true,
            };
            if !value_ok {
                v.push(
                    &format!("conditions[{i}].value"),
                    "invalid",
                    "Give a value to compare with (a number or text).",
                );
            }
        }
    }

    /// Checks actions and returns them as stored: Slack URLs sealed. A Slack URL sent back in
    /// the shortened form the API shows keeps the sealed URL it stands for (`keep`).
    pub(crate) fn check_actions(&self, v: &mut Validator, actions: &[Action], keep: &[Action]) -> Vec<Action> {
        if actions.is_empty() {
            v.push("actions", "required", "Add at least one action.");
        } else if actions.len() > MAX_ACTIONS {
            v.push("actions", "too_many", format!("At most {MAX_ACTIONS} actions."));
        }
        let mut out = Vec::with_capacity(actions.len());
        for (i, action) in actions.iter().enumerate() {
            let field = |name: &str| format!("actions[{i}].{name}");
            match action {
                Action::Slack { webhook_url, text: body } => {
                    check_text(v, &field("text"), body, MAX_TEXT);
                    let kept = keep.iter().find_map(|k| match k {
                        Action::Slack { webhook_url: sealed, .. } if self.shown_url(sealed) == *webhook_url => {
                            Some(sealed.clone())
                        }
                        _ => None,
                    });
                    let sealed = match kept {
                        Some(sealed) => sealed,
                        None => {
                            let url = self.automation.check_destination(v, &field("webhook_url"), webhook_url);
                            url.map(|u| self.automation.keys.seal(WORKFLOW_SECRET_PURPOSE, u.as_bytes()))
                                .unwrap_or_default()
                        }
                    };
                    out.push(Action::Slack { webhook_url: sealed, text: body.clone() });
                }
                Action::Webhook { event_type } => {
                    if let Some(Err((code, message))) = event_type.as_deref().map(check_event_type) {
                        v.push(&field("event_type"), code, message);
                    }
                    out.push(action.clone());
                }
                Action::Email { to, subject, body } => {
                    check_text(v, &field("subject"), subject, MAX_SUBJECT);
                    check_text(v, &field("body"), body, MAX_BODY);
                    let to = v.check(&field("to"), Email::parse(to)).map(Email::into_inner).unwrap_or_default();
                    out.push(Action::Email { to, subject: subject.clone(), body: body.clone() });
                }
                Action::Message { channel, to, text, template } => {
                    if template.is_none() || !text.trim().is_empty() {
                        check_text(v, &field("text"), text, channel.max_text_chars());
                    }
                    // Parameters are templates too: checked here for shape, filled in at run time.
                    let template = template
                        .as_ref()
                        .and_then(|t| frontdesk_channels::check_template(v, &field("template"), *channel, t));
                    let to = if to.contains("{{") {
                        // Filled in from the event when the workflow runs (and checked then).
                        check_text(v, &field("to"), to, MAX_SUBJECT);
                        to.trim().to_owned()
                    } else {
                        v.check(&field("to"), frontdesk_channels::check_recipient(*channel, to)).unwrap_or_default()
                    };
                    out.push(Action::Message { channel: *channel, to, text: text.clone(), template });
                }
                Action::StripeDunning { invoice_id, retry_after_hours } => {
                    let invoice_id = match invoice_id.as_deref().map(str::trim) {
                        None | Some("") => None,
                        // Filled in from the event when the workflow runs (and checked then).
                        Some(t) if t.contains("{{") => {
                            check_text(v, &field("invoice_id"), t, MAX_SUBJECT);
                            Some(t.to_owned())
                        }
                        Some(t) => v.check(&field("invoice_id"), frontdesk_commerce::check_invoice_id(t)),
                    };
                    let hours = retry_after_hours.as_deref();
                    if let Some(hours) = hours {
                        v.check(&field("retry_after_hours"), frontdesk_commerce::check_retry_hours(Some(hours)));
                    }
                    out.push(Action::StripeDunning { invoice_id, retry_after_hours: retry_after_hours.clone() });
                }
                Action::TagContact { contact_id, tags } => {
                    check_contact(v, &field("contact_id"), contact_id.as_deref());
                    if tags.is_empty() {
                        v.push(&field("tags"), "required", "Name at least one tag.");
                    } else if tags.len() > MAX_TAGS {
                        v.push(&field("tags"), "too_many", format!("At most {MAX_TAGS} tags."));
                    }
                    for (j, tag) in tags.iter().enumerate() {
                        check_tag(v, &format!("actions[{i}].tags[{j}]"), tag);
                    }
                    out.push(action.clone());
                }
                Action::FollowUpTask { title, notes, due_in_hours, assignee_email, contact_id } => {
                    check_text(v, &field("title"), title, MAX_TASK_TITLE);
                    if let Some(notes) = notes {
                        if notes.chars().count() > MAX_TASK_NOTES {
                            v.push(&field("notes"), "too_long", format!("At most {MAX_TASK_NOTES} characters."));
                        }
                    }
                    if due_in_hours.is_some_and(|h| h > MAX_DUE_HOURS) {
                        v.push(&field("due_in_hours"), "out_of_range", format!("At most {MAX_DUE_HOURS} hours."));
                    }
                    let assignee_email = assignee_email
                        .as_deref()
                        .map(str::trim)
                        .filter(|e| !e.is_empty())
                        .and_then(|e| v.check(&field("assignee_email"), Email::parse(e)).map(Email::into_inner));
                    check_contact(v, &field("contact_id"), contact_id.as_deref());
                    out.push(Action::FollowUpTask {
                        title: title.clone(),
                        notes: notes.clone().filter(|n| !n.trim().is_empty()),
                        due_in_hours: *due_in_hours,
                        assignee_email,
                        contact_id: contact_id.clone(),
                    });
                }
            }
        }
        out
    }

    /// The clear Slack URL of a stored (sealed) one.
    pub(crate) fn open_url(&self, sealed: &str) -> Option<String> {
        let bytes = self.automation.keys.open(WORKFLOW_SECRET_PURPOSE, sealed).ok()?;
        String::from_utf8(bytes).ok()
    }

    /// How the API shows a sealed Slack URL: scheme, host and the last four characters.
    pub(crate) fn shown_url(&self, sealed: &str) -> String {
        let Some(clear) = self.open_url(sealed) else { return "(unreadable)".into() };
        let hint = frontdesk_kernel::crypto::secret_hint(&clear);
        match url::Url::parse(&clear) {
            Ok(u) => format!("{}://{}/{hint}", u.scheme(), u.host_str().unwrap_or_default()),
            Err(_) => hint,
        }
    }

    /// The workflow as the API shows it (Slack URLs shortened).
    pub(crate) fn shown(&self, mut w: Workflow) -> Workflow {
        for action in &mut w.actions {
            if let Action::Slack { webhook_url, .. } = action {
                *webhook_url = self.shown_url(webhook_url);
            }
        }
        w
    }
}

fn check_text(v: &mut Validator, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        v.push(field, "required", "This text is required.");
    } else if value.chars().count() > max {
        v.push(field, "too_long", format!("At most {max} characters."));
    }
}

/// A contact reference: a template (`{{data.customer_id}}`) or a contact id (`ct_…`).
fn check_contact(v: &mut Validator, field: &str, value: Option<&str>) {
    let Some(value) = value else { return };
    let value = value.trim();
    let ok = if value.contains("{{") {
        value.len() <= 200 && !crate::template::placeholders(value).is_empty()
    } else {
        value.starts_with("ct_") && value.len() <= 64
    };
    if !ok {
        v.push(
            field,
            "invalid",
            "A contact id (ct_…) or a placeholder such as {{data.contact_id}}; leave it out for the event's contact.",
        );
    }
}

/// A tag: up to 40 characters, no quotes or commas (a placeholder is checked when it renders).
fn check_tag(v: &mut Validator, field: &str, tag: &str) {
    let tag = tag.trim();
    if tag.is_empty() {
        v.push(field, "required", "A tag cannot be empty.");
    } else if !tag.contains("{{") && (tag.chars().count() > MAX_TAG_CHARS || tag.contains(['"', '\\', ','])) {
        v.push(field, "invalid", format!("Up to {MAX_TAG_CHARS} characters, no quotes or commas."));
    } else if tag.chars().count() > MAX_TEXT {
        v.push(field, "too_long", format!("At most {MAX_TEXT} characters."));
    }
}
