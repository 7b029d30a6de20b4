//! Plain-language explanations of anomalies, from the recorded numbers only: what moved, by how
//! much against the expected range, since when, and which other metrics moved at the same time.
//! (An LLM may rephrase this text later; it is given these numbers and nothing else.)

use crate::model::Anomaly;

/// Numbers as people read them: at most three significant decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

fn label(a: &Anomaly) -> String {
    match a.dimensions.as_object().filter(|d| !d.is_empty()) {
        Some(d) => {
            let dims: Vec<String> = d.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
            format!("{} ({})", a.metric, dims.join(", "))
        }
        None => a.metric.clone(),
    }
}

/// The explanation of an anomaly; `ended` once a normal point closed it.
pub fn template(a: &Anomaly, related: &[(String, String)], ended: bool) -> String {
    let verb = if a.direction == "up" { "rose" } else { "dropped" };
    let side = if a.direction == "up" { "above" } else { "below" };
    let mut text = format!(
        "{} {verb} to {} at {}, {side} the expected range of {}–{} (expected about {}",
        label(a),
        num(a.observed),
        time(a.ended_at.max(a.started_at)),
        num(a.expected_low),
        num(a.expected_high),
        num(a.expected)
    );
    if a.expected.abs() > f64::EPSILON {
        let pct = ((a.observed - a.expected) / a.expected.abs() * 100.0).abs();
        text.push_str(&format!("; {}% {}", num(pct.round()), if a.direction == "up" { "higher" } else { "lower" }));
    }
    text.push_str(").");
    if a.ended_at > a.started_at {
        let minutes = (a.ended_at - a.started_at) / 60_000;
        text.push_str(&format!(" Unusual since {} ({} min).", time(a.started_at), minutes));
    }
    if ended {
        text.push_str(" It is back within the expected range.");
    }
    text.push_str(&format!(" Severity: {} (score {}).", a.severity, num(a.score)));
    if !related.is_empty() {
        let moved: Vec<String> =
            related.iter().map(|(m, d)| format!("{m} {}", if d == "up" { "rose" } else { "dropped" })).collect();
        text.push_str(&format!(" At the same time: {}.", moved.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AnomalyId;

    #[test]
    fn explanation_uses_only_the_recorded_numbers() {
        let a = Anomaly {
            id: AnomalyId::new(),
            metric: "bookings".into(),
            dimensions: serde_json::json!({"location": "north"}),
            started_at: 1_764_000_000_000,
            ended_at: 1_764_001_800_000,
            direction: "down".into(),
            severity: "high".into(),
            score: 0.97,
            observed: 3.0,
            expected: 15.2,
            expected_low: 12.0,
            expected_high: 18.5,
            explanation: String::new(),
            acknowledged_at: None,
        };
        let text = template(&a, &[("cancellations".into(), "up".into())], false);
        assert!(text.starts_with("bookings (location=north) dropped to 3 at"), "{text}");
        assert!(text.contains("below the expected range of 12–18.5 (expected about 15.2; 80% lower)"), "{text}");
        assert!(text.contains("(30 min)") && text.contains("At the same time: cancellations rose."), "{text}");
        assert_eq!(num(0.1234), "0.12");
        assert_eq!(num(1250.4), "1250");
    }
}
