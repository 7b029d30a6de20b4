//! The streamed answer: server-sent events (`data: {...}` lines, `data: [DONE]`) and the chunks
//! they carry, assembled into [`ChatEvent`]s and the final [`ChatResponse`].
//!
//! Every `data:` line is one payload (OpenAI-compatible servers send one JSON object per line),
//! which also tolerates servers that omit the blank line between events. Comment lines (`: ping`)
//! and other fields (`event:`, `id:`, `retry:`) are skipped; CRLF works like LF.

use super::wire::{arguments_text, error_value_message, WireUsage};
use crate::model::{ChatEvent, ChatResponse, FinishReason, ToolCall, Usage};
use serde::Deserialize;

/// A line longer than this (no newline yet) is not a chat stream.
const MAX_LINE: usize = 4 << 20;
/// More parallel tool calls than this in one answer is not a chat stream either.
const MAX_TOOL_CALLS: usize = 128;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    Data(String),
    Done,
}

/// Splits the byte stream into lines, keeping a partial line (and a split UTF-8 character) for
/// the next read.
#[derive(Default)]
pub(crate) struct SseLines {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
}

impl SseLines {
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut Vec<Payload>) -> Result<(), String> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start.max(self.scanned)..].iter().position(|&b| b == b'\n') {
            let end = start.max(self.scanned) + pos;
            line(&self.buf[start..end], out)?;
            start = end + 1;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        if self.buf.len() > MAX_LINE {
            return Err("stream line too long".into());
        }
        Ok(())
    }

    /// The end of the body: a last line without its newline still counts.
    pub(crate) fn finish(&mut self, out: &mut Vec<Payload>) -> Result<(), String> {
        let rest = std::mem::take(&mut self.buf);
        self.scanned = 0;
        line(&rest, out)
    }
}

fn line(raw: &[u8], out: &mut Vec<Payload>) -> Result<(), String> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.is_empty() || raw[0] == b':' {
        return Ok(());
    }
    let text = std::str::from_utf8(raw).map_err(|_| "stream line is not UTF-8".to_owned())?;
    let (field, value) = match text.split_once(':') {
        Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
        None => (text, ""),
    };
    if field == "data" {
        out.push(if value.trim() == "[DONE]" { Payload::Done } else { Payload::Data(value.to_owned()) });
    }
    Ok(())
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: serde_json::Value,
}

/// Why a chunk was refused: the server reported an error in the stream, or sent nonsense.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    Server(String),
    Malformed(String),
}

/// Accumulates the chunks of one answer.
pub(crate) struct Assembler {
    content: String,
    calls: Vec<ToolCall>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    model: String,
}

impl Assembler {
    pub(crate) fn new(model: String) -> Self {
        Self { content: String::new(), calls: Vec::new(), finish: None, usage: None, model }
    }

    /// One `data:` payload; the events it carries are appended to `out`.
    pub(crate) fn chunk(&mut self, data: &str, out: &mut Vec<ChatEvent>) -> Result<(), ChunkError> {
        let chunk: Chunk =
            serde_json::from_str(data).map_err(|e| ChunkError::Malformed(format!("stream chunk: {e}")))?;
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            return Err(ChunkError::Server(error_value_message(&error).unwrap_or_else(|| "error".into())));
        }
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            self.model = model;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into_usage());
        }
        let Some(choice) = chunk.choices.and_then(|c| c.into_iter().next()) else { return Ok(()) };
        if let Some(delta) = choice.delta {
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.content.push_str(&text);
                out.push(ChatEvent::Delta(text));
            }
            for (pos, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                out.push(self.tool_fragment(pos, call)?);
            }
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
            self.finish = Some(FinishReason::parse(&reason));
        }
        Ok(())
    }

    fn tool_fragment(&mut self, pos: usize, call: DeltaToolCall) -> Result<ChatEvent, ChunkError> {
        let index = call.index.unwrap_or(pos);
        if index >= MAX_TOOL_CALLS {
            return Err(ChunkError::Malformed(format!("tool call index {index}")));
        }
        if self.calls.len() <= index {
            self.calls.resize(index + 1, ToolCall { id: String::new(), name: String::new(), arguments: String::new() });
        }
        let slot = &mut self.calls[index];
        let id = call.id.filter(|id| !id.is_empty());
        let (name, arguments) = match call.function {
            Some(f) => (f.name.filter(|n| !n.is_empty()), arguments_text(f.arguments)),
            None => (None, String::new()),
        };
        if let Some(id) = &id {
            slot.id.clone_from(id);
        }
        if let Some(name) = &name {
            if slot.name.is_empty() {
                slot.name.clone_from(name);
            }
        }
        slot.arguments.push_str(&arguments);
        Ok(ChatEvent::ToolCallDelta { index, id, name, arguments_delta: arguments })
    }

    /// True once a choice said why it stopped (a stream may then end without `[DONE]`).
    pub(crate) fn saw_finish(&self) -> bool {
        self.finish.is_some()
    }

    pub(crate) fn finish(&mut self, provider_latency_ms: u64) -> ChatResponse {
        let tool_calls: Vec<ToolCall> = std::mem::take(&mut self.calls)
            .into_iter()
            .enumerate()
            .filter(|(_, c)| !c.name.is_empty())
            .map(|(i, c)| ToolCall { id: if c.id.is_empty() { format!("call_{i}") } else { c.id }, ..c })
            .collect();
        let default_reason = if tool_calls.is_empty() { FinishReason::Stop } else { FinishReason::ToolCalls };
        ChatResponse {
            content: std::mem::take(&mut self.content),
            tool_calls,
            finish_reason: self.finish.unwrap_or(default_reason),
            usage: self.usage.unwrap_or_default(),
            model: self.model.clone(),
            provider_latency_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/openai-stream.txt");

    /// Feeds `text` in pieces of `step` bytes (splitting lines and UTF-8 characters) and returns
    /// the events and the final answer.
    fn run(text: &str, step: usize) -> (Vec<ChatEvent>, ChatResponse) {
        let mut lines = SseLines::default();
        let mut asm = Assembler::new("asked-for".into());
        let (mut payloads, mut events) = (Vec::new(), Vec::new());
        for piece in text.as_bytes().chunks(step) {
            lines.push(piece, &mut payloads).unwrap();
        }
        lines.finish(&mut payloads).unwrap();
        assert_eq!(payloads.last(), Some(&Payload::Done));
        for p in payloads {
            if let Payload::Data(d) = p {
                asm.chunk(&d, &mut events).unwrap();
            }
        }
        (events, asm.finish(7))
    }

    #[test]
    fn captured_openai_stream() {
        for step in [1, 3, 64, FIXTURE.len()] {
            for text in [FIXTURE.to_owned(), FIXTURE.replace('\n', "\r\n")] {
                let (events, answer) = run(&text, step);
                let deltas: String = events
                    .iter()
                    .filter_map(|e| if let ChatEvent::Delta(t) = e { Some(t.as_str()) } else { None })
                    .collect();
                assert_eq!(deltas, "Your class is at 9:00 – see you!");
                assert_eq!(answer.content, deltas);
                assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
                assert_eq!(answer.finish_reason, FinishReason::ToolCalls);
                assert_eq!(answer.usage, Usage { prompt_tokens: 42, completion_tokens: 17, total_tokens: 59 });
                assert_eq!(answer.tool_calls.len(), 1);
                assert_eq!(answer.tool_calls[0].id, "call_Ab12");
                assert_eq!(answer.tool_calls[0].name, "book_class");
                let args: serde_json::Value = serde_json::from_str(&answer.tool_calls[0].arguments).unwrap();
                assert_eq!(args, serde_json::json!({"class": "yoga"}));
                assert_eq!(answer.provider_latency_ms, 7);
                // The empty role-only first delta yields no event.
                assert!(matches!(events[0], ChatEvent::Delta(ref t) if t == "Your class "));
            }
        }
    }

    #[test]
    fn lines_comments_and_errors() {
        let mut lines = SseLines::default();
        let mut out = Vec::new();
        lines.push(b": keep-alive\r\n\r\nevent: message\nid: 4\ndata:{\"a\":1}\ndata: [DONE]", &mut out).unwrap();
        assert_eq!(out, vec![Payload::Data("{\"a\":1}".into())]);
        lines.finish(&mut out).unwrap();
        assert_eq!(out[1], Payload::Done);

        let mut asm = Assembler::new("m".into());
        let mut events = Vec::new();
        let err = asm.chunk(r#"{"error":{"message":"overloaded","type":"server_error"}}"#, &mut events);
        assert_eq!(err, Err(ChunkError::Server("overloaded (server_error)".into())));
        assert!(matches!(asm.chunk("{nope", &mut events), Err(ChunkError::Malformed(_))));
        let huge = vec![b'x'; MAX_LINE + 1];
        assert!(SseLines::default().push(&huge, &mut out).is_err());
    }
}
