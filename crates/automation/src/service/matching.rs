//! Does an event fire a workflow? Trigger filters, conditions, schedules — pure functions.

use crate::model::*;
use crate::template::lookup;
use frontdesk_store::events::DomainEvent;
use serde_json::{json, Value};
use std::cmp::Ordering;

/// What placeholders and conditions see: `event.{id,kind,occurred_at}`, `data`, `workflow`.
pub fn context(event: &DomainEvent, workflow: Option<(&WorkflowId, &str)>) -> Value {
    let occurred = frontdesk_kernel::time::to_rfc3339(event.occurred_at);
    let (id, name) = workflow.map(|(id, name)| (id.as_str(), name)).unwrap_or_default();
    json!({
        "event": {"id": event.id, "kind": event.kind, "occurred_at": occurred},
        "data": event.data,
        "workflow": {"id": id, "name": name},
    })
}

/// The trigger's filters: the event kind, and for anomalies metric, severity and direction.
pub fn trigger_matches(trigger: &Trigger, event: &DomainEvent) -> bool {
    if trigger.event != event.kind {
        return false;
    }
    let text = |key: &str| event.data.get(key).and_then(Value::as_str);
    if let Some(metric) = &trigger.metric {
        if text("metric") != Some(metric.as_str()) {
            return false;
        }
    }
    if let Some(least) = trigger.severity_at_least {
        match text("severity").and_then(Severity::parse) {
            Some(s) if s >= least => {}
            _ => return false,
        }
    }
    if let Some(direction) = trigger.direction {
        if text("direction") != Some(direction.as_str()) {
            return false;
        }
    }
    true
}

/// All conditions hold on `context` (see [`context`]).
pub fn conditions_hold(conditions: &[Condition], context: &Value) -> bool {
    conditions.iter().all(|c| condition_holds(c, context))
}

fn condition_holds(c: &Condition, context: &Value) -> bool {
    let actual = lookup(context, &c.field).filter(|v| !v.is_null());
    let expected = c.value.as_ref().unwrap_or(&Value::Null);
    match (c.op, actual) {
        (ConditionOp::Exists, a) => a.is_some(),
        (ConditionOp::Ne, None) => !expected.is_null(),
        (_, None) => false,
        (ConditionOp::Eq, Some(a)) => same(a, expected),
        (ConditionOp::Ne, Some(a)) => !same(a, expected),
        (ConditionOp::Contains, Some(Value::String(s))) => expected.as_str().is_some_and(|e| s.contains(e)),
        (ConditionOp::Contains, Some(Value::Array(items))) => items.iter().any(|i| same(i, expected)),
        (ConditionOp::Contains, Some(_)) => false,
        (op, Some(a)) => match (order(a, expected), op) {
            (Some(o), ConditionOp::Gt) => o == Ordering::Greater,
            (Some(o), ConditionOp::Gte) => o != Ordering::Less,
            (Some(o), ConditionOp::Lt) => o == Ordering::Less,
            (Some(o), ConditionOp::Lte) => o != Ordering::Greater,
            _ => false,
        },
    }
}

/// Equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Numbers by value, strings lexically (RFC 3339 times compare correctly); nothing else.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `HH:MM` → (hour, minute).
pub fn parse_hh_mm(s: &str) -> Option<(i8, i8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some((h, m))
}

/// When a schedule workflow is due, if it is: `every_minutes` after the last firing (or the
/// creation), or today's `daily_at` in `tz` once it has passed and the workflow has not fired
/// since. Returns the slot's instant (UTC ms).
pub fn schedule_due(trigger: &Trigger, since: i64, now: i64, tz: &jiff::tz::TimeZone) -> Option<i64> {
    if let Some(every) = trigger.every_minutes {
        let due = since + i64::from(every.max(1)) * 60_000;
        return (now >= due).then_some(due);
    }
    let (h, m) = parse_hh_mm(trigger.daily_at.as_deref()?)?;
    let today = jiff::Timestamp::from_millisecond(now).ok()?.to_zoned(tz.clone()).date();
    // A time skipped by a DST change resolves to the instant just after the gap.
    let slot = today.at(h, m, 0, 0).to_zoned(tz.clone()).ok()?.timestamp().as_millisecond();
    (now >= slot && since < slot).then_some(slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: Value) -> DomainEvent {
        DomainEvent { id: "evt_1".into(), kind: kind.into(), occurred_at: 0, data }
    }

    fn trigger(v: Value) -> Trigger {
        serde_json::from_value(v).expect("trigger")
    }

    #[test]
    fn anomaly_filters() {
        let t = trigger(
            json!({"event": "anomaly.detected", "metric": "bookings", "severity_at_least": "medium", "direction": "down"}),
        );
        let hit = event("anomaly.detected", json!({"metric": "bookings", "severity": "high", "direction": "down"}));
        assert!(trigger_matches(&t, &hit));
        for data in [
            json!({"metric": "bookings", "severity": "low", "direction": "down"}),
            json!({"metric": "bookings", "severity": "high", "direction": "up"}),
            json!({"metric": "revenue", "severity": "high", "direction": "down"}),
            json!({}),
        ] {
            assert!(!trigger_matches(&t, &event("anomaly.detected", data)));
        }
        assert!(!trigger_matches(&t, &event("lead.created", hit.data.clone())));
    }

    #[test]
    fn conditions() {
        let ctx = context(&event("lead.created", json!({"n": 5, "s": "vip lead", "tags": ["a"], "z": null})), None);
        let c = |field: &str, op: ConditionOp, value: Value| Condition { field: field.into(), op, value: Some(value) };
        assert!(conditions_hold(
            &[c("data.n", ConditionOp::Gte, json!(5.0)), c("data.n", ConditionOp::Lt, json!(6))],
            &ctx
        ));
        assert!(conditions_hold(
            &[c("data.s", ConditionOp::Contains, json!("vip")), c("data.tags", ConditionOp::Contains, json!("a"))],
            &ctx
        ));
        assert!(conditions_hold(
            &[c("event.kind", ConditionOp::Eq, json!("lead.created")), c("data.x", ConditionOp::Ne, json!(1))],
            &ctx
        ));
        assert!(!conditions_hold(&[c("data.z", ConditionOp::Exists, Value::Null)], &ctx));
        assert!(!conditions_hold(&[c("data.s", ConditionOp::Gt, json!(1))], &ctx));
        assert!(!conditions_hold(&[c("data.missing", ConditionOp::Lt, json!(1))], &ctx));
    }

    #[test]
    fn schedules() {
        let every = trigger(json!({"event": "schedule", "every_minutes": 5}));
        assert_eq!(schedule_due(&every, 0, 299_999, &jiff::tz::TimeZone::UTC), None);
        assert_eq!(schedule_due(&every, 0, 300_000, &jiff::tz::TimeZone::UTC), Some(300_000));
        let daily = trigger(json!({"event": "schedule", "daily_at": "09:30"}));
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").expect("tz");
        // 2024-06-03 07:30 UTC is 09:30 in Berlin (summer time).
        let slot = 1_717_399_800_000;
        assert_eq!(schedule_due(&daily, slot - 86_400_000, slot - 1, &tz), None);
        assert_eq!(schedule_due(&daily, slot - 86_400_000, slot + 60_000, &tz), Some(slot));
        assert_eq!(schedule_due(&daily, slot + 1, slot + 60_000, &tz), None, "fired today already");
        assert_eq!(parse_hh_mm("24:00"), None);
        assert_eq!(parse_hh_mm("7:00"), None);
    }
}
