//! Explanations rephrased by the configured language model — checked so that it never invents a
//! number: every number in its text must already be in the template explanation, which is built
//! from the recorded data alone. Otherwise the template stays.

use frontdesk_agent::{ChatMessage, ChatProvider, ChatRequest};
use std::sync::Arc;

const SYSTEM: &str = "You rewrite anomaly alerts for the owner of a small service business (a studio, salon or \
clinic). Write one or two short sentences in plain language: what changed, by how much against what was \
expected, since when, and what else moved at the same time. Use only the facts and numbers in the alert; \
never add numbers, causes or advice. No markdown.";

/// Rewrites template explanations with a language model.
#[derive(Clone)]
pub struct ExplanationWriter {
    provider: Arc<dyn ChatProvider>,
}

impl ExplanationWriter {
    pub fn new(provider: Arc<dyn ChatProvider>) -> Self {
        Self { provider }
    }

    /// The model's wording when it keeps to the template's numbers; `None` to keep the template.
    pub async fn rewrite(&self, template: &str) -> Option<String> {
        let mut req = ChatRequest::new(vec![ChatMessage::system(SYSTEM), ChatMessage::user(template)]);
        req.temperature = Some(0.2);
        req.max_tokens = Some(160);
        let answer = match self.provider.complete(req).await {
            Ok(a) => a.content.trim().to_owned(),
            Err(e) => {
                tracing::warn!(error = %e, "explanation model unavailable; keeping the template");
                return None;
            }
        };
        if answer.is_empty() || answer.len() > 1200 {
            return None;
        }
        if invents_numbers(template, &answer) {
            tracing::warn!("the model's explanation named numbers that are not in the data; keeping the template");
            return None;
        }
        Some(answer)
    }
}

/// Numbers in a text, normalised (`12.50` → `12.5`, `1,250` → `1250`).
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let joins =
            (*c == '.' || *c == ',') && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()) && !current.is_empty();
        if c.is_ascii_digit() || joins {
            current.push(if *c == ',' { '\u{0}' } else { *c });
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter()
        .map(|n| {
            // A comma between digits is a thousands separator ("1,250") or a German decimal ("12,5").
            let n = if n.contains('\u{0}') && n.split('\u{0}').skip(1).all(|g| g.len() == 3) {
                n.replace('\u{0}', "")
            } else {
                n.replace('\u{0}', ".")
            };
            if n.contains('.') {
                n.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                n
            }
        })
        .collect()
}

/// True when `candidate` names a number the template does not.
pub fn invents_numbers(template: &str, candidate: &str) -> bool {
    let allowed = numbers(template);
    numbers(candidate).iter().any(|n| !allowed.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_templates_numbers_pass() {
        let t = "bookings dropped to 3 at 2026-11-24 14:00 UTC, below 12–18.5 (expected about 15.2; 80% lower).";
        assert!(!invents_numbers(t, "Bookings fell to 3 at 14:00 on 2026-11-24, 80% below the usual 15.2."));
        assert!(invents_numbers(t, "Bookings fell to 4, far below normal."));
        assert!(invents_numbers(t, "Bookings fell by 12 compared to last week's 40."));
        assert!(!invents_numbers(t, "Bookings fell to 3.0 (expected 15,2)."));
        assert_eq!(numbers("1,250 and 12,5 and 3.50"), vec!["1250", "12.5", "3.5"]);
    }
}
