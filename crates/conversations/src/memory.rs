//! Short-term memory: what the answering brain sees of a conversation. The most recent turns that
//! fit a token budget, and a summary of everything older. When turns fall out of the window, the
//! pipeline folds them into the summary in the background (by the tenant's model when it has one,
//! otherwise by an extractive digest), so the brain never loses the thread and never gets a prompt
//! that grows without bound.

use crate::model::{Author, Message, MessageId};

/// Tokens of recent turns the brain receives.
pub const TURN_BUDGET_TOKENS: usize = 1_500;
/// Messages read to build the window (enough to fill the budget with short turns).
pub const WINDOW_MESSAGES: u32 = 40;
/// Longest summary kept, in characters.
pub const SUMMARY_CHARS: usize = 1_200;

/// One turn as the brain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTurn {
    pub author: Author,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Older turns, summarised.
    pub summary: Option<String>,
    /// Recent turns, oldest first.
    pub turns: Vec<MemoryTurn>,
}

/// A rough token count (about four characters a token for English and German) — close enough
/// to keep prompts bounded without shipping each model's tokenizer.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

/// The window over `recent` (oldest first, ending with the message to answer): turns newer than
/// `summary_upto`, newest first until the budget is spent. Also returns the newest message that
/// fell out of the window without being summarised yet, if any: the summary should advance to it.
pub fn window(
    recent: &[Message],
    summary: Option<&str>,
    summary_upto: Option<&MessageId>,
    budget: usize,
) -> (Memory, Option<MessageId>) {
    let fresh: Vec<&Message> = recent
        .iter()
        .filter(|m| summary_upto.is_none_or(|upto| m.id > *upto))
        .filter(|m| m.author != Author::System)
        .collect();
    let mut spent = 0;
    let mut keep = 0;
    for m in fresh.iter().rev() {
        let cost = estimate_tokens(&m.text);
        // The newest turn is always kept, even when it alone exceeds the budget.
        if keep > 0 && spent + cost > budget {
            break;
        }
        spent += cost;
        keep += 1;
    }
    let cut = fresh.len() - keep;
    let dropped = (cut > 0).then(|| fresh[cut - 1].id.clone());
    let turns = fresh[cut..].iter().map(|m| MemoryTurn { author: m.author, text: m.text.clone() }).collect();
    (Memory { summary: summary.map(str::to_owned), turns }, dropped)
}

/// An extractive digest of `older` turns appended to `previous`: who said what, each turn cut
/// short, the oldest lines dropped first when the digest grows beyond [`SUMMARY_CHARS`].
pub fn digest(previous: Option<&str>, older: &[Message]) -> String {
    let mut lines: Vec<String> = previous.map(|p| p.lines().map(str::to_owned).collect()).unwrap_or_default();
    for m in older.iter().filter(|m| m.author != Author::System) {
        let who = match m.author {
            Author::Customer => "Customer",
            Author::Agent => "Assistant",
            Author::Staff => "Staff",
            Author::System => continue,
        };
        let text: String = m.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let short: String = text.chars().take(160).collect();
        let ellipsis = if short.len() < text.len() { "…" } else { "" };
        lines.push(format!("{who}: {short}{ellipsis}"));
    }
    while lines.iter().map(|l| l.chars().count() + 1).sum::<usize>() > SUMMARY_CHARS && lines.len() > 1 {
        lines.remove(0);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationId, Delivery};

    fn msg(author: Author, text: &str) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: ConversationId::from_db("cv_x".into()),
            author,
            author_id: None,
            author_name: None,
            text: text.into(),
            content: vec![],
            attachments: vec![],
            client_message_id: None,
            reply_to: None,
            trace: None,
            provider_message_id: None,
            delivery: Delivery::Stored,
            created_at: 0,
        }
    }

    #[test]
    fn the_window_keeps_the_newest_turns_within_budget() {
        let list: Vec<Message> = (0..30)
            .map(|i| msg(if i % 2 == 0 { Author::Customer } else { Author::Agent }, &"word ".repeat(40)))
            .collect();
        let (memory, dropped) = window(&list, None, None, 200);
        assert!(memory.turns.len() < 30 && !memory.turns.is_empty());
        assert!(memory.turns.iter().map(|t| estimate_tokens(&t.text)).sum::<usize>() <= 200);
        assert_eq!(memory.turns.last().map(|t| t.text.clone()), list.last().map(|m| m.text.clone()));
        let first_kept = list.len() - memory.turns.len();
        assert_eq!(dropped, Some(list[first_kept - 1].id.clone()));
    }

    #[test]
    fn summarised_turns_are_not_repeated_and_a_huge_turn_is_still_kept() {
        let list: Vec<Message> = vec![
            msg(Author::Customer, "old"),
            msg(Author::Agent, "older answer"),
            msg(Author::Customer, &"x".repeat(50_000)),
        ];
        let (memory, dropped) = window(&list, Some("earlier"), Some(&list[1].id), 100);
        assert_eq!(memory.turns.len(), 1);
        assert_eq!(memory.summary.as_deref(), Some("earlier"));
        assert_eq!(dropped, None);
    }

    #[test]
    fn the_digest_is_bounded_and_keeps_the_latest() {
        let older: Vec<Message> =
            (0..100).map(|i| msg(Author::Customer, &format!("question {i} {}", "y".repeat(100)))).collect();
        let d = digest(Some("Customer: first"), &older);
        assert!(d.chars().count() <= SUMMARY_CHARS);
        assert!(d.contains("question 99"));
        assert!(!d.contains("Customer: first"));
    }
}
