//! The built-in assistant: one agent with the tenant's persona, tone, instructions and FAQ (and
//! the knowledge base's passages when one is plugged in). It answers through the tenant's model
//! when one is configured, streaming; without a model it answers from the FAQ and the knowledge
//! base by matching, and offers a human when it has nothing good to say — it never makes up an
//! answer.

use crate::agent::{Agent, AgentError, AgentReply, Deltas, TurnContext};
use crate::memory::MemoryTurn;
use crate::model::{AgentTrace, Author, Button, Content, FaqEntry, ToolUse};
use crate::text::{is_german, Terms};
use frontdesk_agent::{ChatEvent, ChatMessage, ChatRequest, ModelSettings, ToolSpec};
use frontdesk_kernel::TenantId;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// The tool through which the model hands the conversation to a human.
pub const HANDOFF_TOOL: &str = "hand_off_to_human";
/// Why the model handed off: it did not know the answer (a knowledge gap).
pub const REASON_UNKNOWN: &str = "unknown_answer";
/// How much of the FAQ's best match must overlap the question for the offline answer.
const FAQ_MIN_SCORE: f64 = 0.45;
/// Passages from the knowledge base given to the model (or used offline).
const PASSAGES: usize = 4;

/// A passage of the tenant's knowledge base, with what to cite.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub text: String,
    pub title: String,
    pub section: Option<String>,
    /// Path or URL of the source document.
    pub source: Option<String>,
    /// How likely the passage answers the question, in [0, 1].
    pub confidence: f64,
    /// The knowledge base judges that the passage answers the question (its calibrated
    /// confidence threshold): without a model, only such a passage is given as the answer.
    pub answers: bool,
}

/// The knowledge base as the assistant uses it (implemented by the binary over the knowledge
/// capability, so this crate does not depend on it).
pub trait KnowledgeSource: Send + Sync {
    fn search<'a>(&'a self, tenant: &'a TenantId, query: &'a str, limit: usize) -> BoxFuture<'a, Vec<Passage>>;
    /// Remembers a question the assistant could not answer (a suggested FAQ entry).
    fn record_gap<'a>(&'a self, tenant: &'a TenantId, question: &'a str, conversation: &'a str) -> BoxFuture<'a, ()>;
}

#[derive(Clone)]
pub struct Assistant {
    models: ModelSettings,
    knowledge: Option<Arc<dyn KnowledgeSource>>,
}

impl Assistant {
    pub fn new(models: ModelSettings) -> Self {
        Self { models, knowledge: None }
    }

    pub fn with_knowledge(mut self, knowledge: Arc<dyn KnowledgeSource>) -> Self {
        self.knowledge = Some(knowledge);
        self
    }

    async fn passages(&self, turn: &TurnContext) -> Vec<Passage> {
        match &self.knowledge {
            Some(k) => k.search(&turn.tenant, &turn.message, PASSAGES).await,
            None => Vec::new(),
        }
    }
}

impl Agent for Assistant {
    fn answer<'a>(&'a self, turn: &'a TurnContext, deltas: Deltas) -> BoxFuture<'a, Result<AgentReply, AgentError>> {
        Box::pin(async move {
            let model = self.models.provider(&turn.tenant).await.map_err(|e| AgentError::Unavailable(e.to_string()))?;
            let passages = self.passages(turn).await;
            let reply = match model {
                Some(model) => answer_with_model(&model, turn, &passages, deltas).await?,
                None => answer_offline(turn, &passages),
            };
            if reply.unanswered {
                if let Some(k) = &self.knowledge {
                    k.record_gap(&turn.tenant, &turn.message, turn.conversation_id.as_str()).await;
                }
            }
            Ok(reply)
        })
    }
}

fn lang_of(turn: &TurnContext) -> &'static str {
    if is_german(&turn.message) {
        return "de";
    }
    match turn.language.as_deref().unwrap_or(&turn.business.locale) {
        l if l.starts_with("de") => "de",
        _ => "en",
    }
}

/// The system prompt: who the assistant is, the tenant's rules, facts and hours.
pub fn system_prompt(turn: &TurnContext, passages: &[Passage]) -> String {
    let s = &turn.settings;
    let business = &turn.business.name;
    let mut p = String::new();
    if s.persona.trim().is_empty() {
        p.push_str(&format!("You are the front desk assistant of {business}."));
    } else {
        p.push_str(s.persona.trim());
    }
    p.push_str(&format!(
        " Tone: {}. Answer the customer briefly, in the customer's language. Use only the facts below and the \
         conversation; when you do not know, say so and offer to connect them with the team. Never invent prices, \
         times, availability or policies. Call {HANDOFF_TOOL} when the customer asks for a person, when the matter \
         needs staff (complaints, health concerns, payment problems), or with reason \"{REASON_UNKNOWN}\" when the \
         facts do not answer the question.",
        if s.tone.trim().is_empty() { "friendly" } else { s.tone.trim() }
    ));
    if !s.instructions.trim().is_empty() {
        p.push_str(&format!("\n\nInstructions from {business}:\n{}", s.instructions.trim()));
    }
    if !s.faq.is_empty() {
        p.push_str("\n\nFAQ:");
        for f in &s.faq {
            p.push_str(&format!("\nQ: {}\nA: {}", f.question.trim(), f.answer.trim()));
        }
    }
    if !passages.is_empty() {
        p.push_str("\n\nFrom the knowledge base:");
        for (i, x) in passages.iter().enumerate() {
            p.push_str(&format!("\n[{}] {}: {}", i + 1, x.title, x.text.trim()));
        }
    }
    if let Some(h) = &turn.hours_notice {
        p.push_str(&format!("\n\nOpening hours: {h}"));
    }
    p
}

fn chat_messages(turn: &TurnContext, passages: &[Passage]) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::system(system_prompt(turn, passages))];
    if let Some(summary) = &turn.memory.summary {
        messages.push(ChatMessage::system(format!("Summary of the earlier conversation:\n{summary}")));
    }
    for MemoryTurn { author, text } in &turn.memory.turns {
        match author {
            Author::Customer => messages.push(ChatMessage::user(text.clone())),
            Author::Agent => messages.push(ChatMessage::assistant(text.clone())),
            Author::Staff => messages.push(ChatMessage::assistant(format!("(a team member wrote) {text}"))),
            Author::System => {}
        }
    }
    messages
}

fn handoff_tool() -> ToolSpec {
    ToolSpec {
        name: HANDOFF_TOOL.into(),
        description: "Hand the conversation to a human team member of the business.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "reason": {
                    "type": "string",
                    "enum": ["customer_request", "needs_staff", "complaint", REASON_UNKNOWN],
                    "description": "Why a human should take over."
                }
            },
            "required": ["reason"]
        }),
    }
}

async fn answer_with_model(
    model: &frontdesk_agent::Metered,
    turn: &TurnContext,
    passages: &[Passage],
    deltas: Deltas,
) -> Result<AgentReply, AgentError> {
    let started = Instant::now();
    let mut request = ChatRequest::new(chat_messages(turn, passages));
    if turn.settings.handoff_enabled {
        request.tools = vec![handoff_tool()];
    }
    request.max_tokens = Some(600);
    let mut events = model.stream(&turn.tenant, "chat", request).await?;
    let mut done = None;
    while let Some(event) = events.next().await {
        match event? {
            ChatEvent::Delta(text) => {
                let _ = deltas.send(text);
            }
            ChatEvent::ToolCallDelta { .. } => {}
            ChatEvent::Done(response) => done = Some(response),
        }
    }
    let response = done.ok_or_else(|| AgentError::Unavailable("the answer stream ended early".into()))?;
    let mut tools = Vec::new();
    let mut handoff = None;
    for call in &response.tool_calls {
        if call.name == HANDOFF_TOOL {
            let reason = serde_json::from_str::<serde_json::Value>(&call.arguments)
                .ok()
                .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "needs_staff".into());
            tools.push(ToolUse { name: HANDOFF_TOOL.into(), summary: Some(reason.clone()) });
            handoff = Some(reason);
        } else {
            tools.push(ToolUse { name: call.name.clone(), summary: Some("unknown tool; ignored".into()) });
        }
    }
    if response.content.trim().is_empty() && handoff.is_none() {
        return Err(AgentError::Unavailable("the model gave an empty answer".into()));
    }
    let unanswered = handoff.as_deref() == Some(REASON_UNKNOWN);
    Ok(AgentReply {
        text: response.content.trim().to_owned(),
        content: Vec::new(),
        trace: AgentTrace {
            specialist: Some("assistant".into()),
            tools,
            model: Some(response.model.clone()),
            tokens_in: Some(i64::from(response.usage.prompt_tokens)),
            tokens_out: Some(i64::from(response.usage.completion_tokens)),
            latency_ms: Some(started.elapsed().as_millis() as i64),
        },
        handoff,
        unanswered,
    })
}

/// The FAQ entry that answers `question`, with its score in [0, 1].
pub fn best_faq<'a>(faq: &'a [FaqEntry], question: &str) -> Option<(&'a FaqEntry, f64)> {
    let q = Terms::of(question);
    if q.is_empty() {
        return None;
    }
    faq.iter().map(|f| (f, q.overlap(&Terms::of(&f.question)))).max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Without a model: the FAQ, then the knowledge base, then an offer to reach a human.
pub fn answer_offline(turn: &TurnContext, passages: &[Passage]) -> AgentReply {
    let lang = lang_of(turn);
    let started = Instant::now();
    let trace = |tool: &str, summary: Option<String>| AgentTrace {
        specialist: Some("assistant".into()),
        tools: vec![ToolUse { name: tool.into(), summary }],
        model: None,
        tokens_in: None,
        tokens_out: None,
        latency_ms: Some(started.elapsed().as_millis() as i64),
    };
    if crate::text::is_greeting(&turn.message) {
        let text = if !turn.settings.greeting.trim().is_empty() {
            turn.settings.greeting.trim().to_owned()
        } else if lang == "de" {
            format!("Hallo! Willkommen bei {}. Wie kann ich helfen?", turn.business.name)
        } else {
            format!("Hello! Welcome to {}. How can I help?", turn.business.name)
        };
        return AgentReply { text, trace: trace("greeting", None), ..Default::default() };
    }
    if let Some((entry, score)) = best_faq(&turn.settings.faq, &turn.message) {
        if score >= FAQ_MIN_SCORE {
            return AgentReply {
                text: entry.answer.trim().to_owned(),
                trace: trace("faq", Some(entry.question.clone())),
                ..Default::default()
            };
        }
    }
    if let Some(p) = passages.iter().find(|p| p.answers) {
        let cite = match (&p.section, lang) {
            (Some(s), "de") => format!("\n\n(Quelle: {} – {s})", p.title),
            (Some(s), _) => format!("\n\n(Source: {} – {s})", p.title),
            (None, "de") => format!("\n\n(Quelle: {})", p.title),
            (None, _) => format!("\n\n(Source: {})", p.title),
        };
        return AgentReply {
            text: format!("{}{cite}", p.text.trim()),
            trace: trace("knowledge_search", Some(p.title.clone())),
            ..Default::default()
        };
    }
    let (text, yes, value) = if lang == "de" {
        (
            "Dazu habe ich leider keine sichere Antwort. Soll ich Sie mit dem Team verbinden?",
            "Ja, bitte",
            "Ich möchte mit einem Mitarbeiter sprechen",
        )
    } else {
        (
            "I'm not sure about that. Would you like me to connect you with the team?",
            "Yes, please",
            "I'd like to talk to a person",
        )
    };
    let content = if turn.settings.handoff_enabled {
        vec![Content::Buttons { buttons: vec![Button { label: yes.into(), value: value.into() }] }]
    } else {
        Vec::new()
    };
    AgentReply { text: text.into(), content, trace: trace("no_answer", None), unanswered: true, ..Default::default() }
}
