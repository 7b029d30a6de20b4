//! Placeholders in workflow texts: `{{event.kind}}`, `{{data.metric}}`, `{{workflow.name}}`.
//!
//! Deliberately not a template engine: a placeholder is a dotted path into the run's context
//! (`event`, `data`, `workflow`), nothing is evaluated, an unknown path or a non-scalar value
//! renders empty, and a value is never scanned for placeholders again.

use serde_json::Value;

/// Looks a dotted path up (`data.items.0.name`); numeric segments index arrays.
pub fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |v, seg| match v {
        Value::Object(map) => map.get(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// A scalar as text: strings as they are, numbers and booleans in JSON form; null, objects and
/// arrays render empty.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Object(_) | Value::Array(_) => String::new(),
    }
}

/// Substitutes every `{{ path }}` of `template` with the value at `path` in `context`, passed
/// through `escape` (the template's own text is kept as written).
pub fn render(template: &str, context: &Value, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        out.push_str(&rest[..start]);
        let path = rest[start + 2..start + 2 + len].trim();
        if let Some(value) = lookup(context, path) {
            out.push_str(&escape(&scalar_text(value)));
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Values as they are (e-mail bodies, webhook text).
pub fn plain(s: &str) -> String {
    s.to_owned()
}

/// Slack's escaping of the three control characters in message text, so event data cannot
/// form links or mentions (`<!channel>`).
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The placeholders of `template` (for validation).
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        found.push(rest[start + 2..start + 2 + len].trim());
        rest = &rest[start + 2 + len + 2..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitutes_scalars_and_leaves_unknowns_empty() {
        let ctx =
            json!({"event": {"kind": "anomaly.detected"}, "data": {"n": 3, "ok": true, "xs": [{"a": "x"}], "o": {}}});
        let out =
            render("{{event.kind}}: {{ data.n }} {{data.ok}} {{data.xs.0.a}} [{{data.o}}] [{{nope.x}}]", &ctx, plain);
        assert_eq!(out, "anomaly.detected: 3 true x [] []");
        assert_eq!(render("a {{ unterminated", &ctx, plain), "a {{ unterminated");
    }

    #[test]
    fn values_are_not_rendered_twice_and_slack_text_is_escaped() {
        let ctx = json!({"data": {"v": "{{data.w}} <!channel> & co", "w": "no"}});
        assert_eq!(render("<b>{{data.v}}", &ctx, slack_escape), "<b>{{data.w}} &lt;!channel&gt; &amp; co");
        assert_eq!(placeholders("{{a}} and {{ b.c }}"), vec!["a", "b.c"]);
    }
}
