//! The chat-completions wire format: our request as the JSON body, the JSON answer as ours.
//!
//! Parsing is lenient where servers differ (OpenAI, vLLM, Ollama, llama.cpp): `null` where a list
//! is expected, arguments sent as an object instead of text, a missing `total_tokens`, an error
//! `code` that is a number.

use crate::model::{ChatMessage, ChatRequest, ChatResponse, FinishReason, ResponseFormat, Role, ToolChoice, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    /// `null` for an assistant turn that only called tools.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

fn message(m: &ChatMessage) -> Message<'_> {
    let only_calls = m.role == Role::Assistant && m.content.is_empty() && !m.tool_calls.is_empty();
    Message {
        role: m.role.as_str(),
        content: (!only_calls).then_some(m.content.as_str()),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect(),
        tool_call_id: m.tool_call_id.as_deref(),
        name: m.name.as_deref(),
    }
}

/// The JSON body of `POST /chat/completions`.
pub(crate) fn request_body(req: &ChatRequest, model: &str, stream: bool) -> Vec<u8> {
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}})
        })
        .collect();
    let tool_choice = (!tools.is_empty()).then(|| match &req.tool_choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
    });
    let response_format = match &req.response_format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(json!({"type": "json_object"})),
        ResponseFormat::JsonSchema { name, schema } => {
            Some(json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": true}}))
        }
    };
    let body = Body {
        model,
        messages: req.messages.iter().map(message).collect(),
        tools,
        tool_choice,
        response_format,
        temperature: req.temperature,
        max_tokens: req.max_tokens,
        stop: &req.stop,
        stream,
        stream_options: stream.then(|| json!({"include_usage": true})),
    };
    // Serializing strings, numbers and JSON values cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
    #[serde(default)]
    total_tokens: Option<u32>,
}

impl WireUsage {
    pub(crate) fn into_usage(self) -> Usage {
        let prompt = self.prompt_tokens.unwrap_or(0);
        let completion = self.completion_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: self.total_tokens.unwrap_or(prompt.saturating_add(completion)),
        }
    }
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<AnswerToolCall>>,
}

#[derive(Deserialize)]
struct AnswerToolCall {
    #[serde(default)]
    id: Option<String>,
    function: AnswerFunction,
}

#[derive(Deserialize)]
struct AnswerFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

/// Arguments as JSON text, whether the server sent text or (Ollama, some builds) an object.
pub(crate) fn arguments_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Parses a non-streamed answer. `fallback_model` names the answer when the server does not.
pub(crate) fn parse_completion(body: &[u8], fallback_model: &str) -> Result<ChatResponse, String> {
    let completion: Completion = serde_json::from_slice(body).map_err(|e| format!("completion body: {e}"))?;
    let Some(choice) = completion.choices.and_then(|c| c.into_iter().next()) else {
        return Err("completion has no choices".into());
    };
    let tool_calls: Vec<_> = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| crate::model::ToolCall {
            id: c.id.unwrap_or_else(|| format!("call_{i}")),
            name: c.function.name,
            arguments: arguments_text(c.function.arguments),
        })
        .collect();
    let finish_reason = match choice.finish_reason.as_deref() {
        Some(r) => FinishReason::parse(r),
        None if !tool_calls.is_empty() => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    };
    Ok(ChatResponse {
        content: choice.message.content.unwrap_or_default(),
        tool_calls,
        finish_reason,
        usage: completion.usage.map(WireUsage::into_usage).unwrap_or_default(),
        model: completion.model.filter(|m| !m.is_empty()).unwrap_or_else(|| fallback_model.to_owned()),
        provider_latency_ms: 0,
    })
}

/// The message of an error payload: `{"error":{"message","type","code"}}` or `{"error":"text"}`.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    error_value_message(v.get("error")?)
}

pub(crate) fn error_value_message(error: &Value) -> Option<String> {
    match error {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let message = o.get("message").and_then(Value::as_str).unwrap_or("error");
            let code = o.get("code").or_else(|| o.get("type")).filter(|c| !c.is_null());
            Some(match code {
                Some(Value::String(c)) => format!("{message} ({c})"),
                Some(c) => format!("{message} ({c})"),
                None => message.to_owned(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ToolCall, ToolSpec};

    #[test]
    fn request_body_follows_the_spec() {
        let mut req = ChatRequest::new(vec![
            ChatMessage::system("be brief"),
            ChatMessage::assistant_calls(
                "",
                vec![ToolCall { id: "call_1".into(), name: "book".into(), arguments: "{\"at\":\"9\"}".into() }],
            ),
            ChatMessage::tool_result("call_1", "{\"ok\":true}"),
        ]);
        req.tools.push(ToolSpec { name: "book".into(), description: "Books".into(), parameters: json!({}) });
        req.tool_choice = ToolChoice::Named("book".into());
        req.response_format = ResponseFormat::JsonObject;
        let body: Value = serde_json::from_slice(&request_body(&req, "m", true)).unwrap();
        assert_eq!(body["model"], "m");
        assert_eq!(body["messages"][1]["content"], Value::Null);
        assert_eq!(body["messages"][1]["tool_calls"][0]["function"]["arguments"], "{\"at\":\"9\"}");
        assert_eq!(body["messages"][2], json!({"role": "tool", "content": "{\"ok\":true}", "tool_call_id": "call_1"}));
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "book"}}));
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert!(body.get("stop").is_none() && body.get("temperature").is_none());
        // Without tools there is no tool_choice (servers reject it).
        let plain: Value = serde_json::from_slice(&request_body(&ChatRequest::default(), "m", false)).unwrap();
        assert!(plain.get("tool_choice").is_none() && plain.get("stream").is_none());
    }

    #[test]
    fn lenient_parsing() {
        let body = br#"{"choices":[{"message":{"content":null,"tool_calls":[
            {"function":{"name":"f","arguments":{"a":1}}}]}}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let r = parse_completion(body, "local").unwrap();
        assert_eq!(r.model, "local");
        assert_eq!(r.tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.usage.total_tokens, 5);
        assert!(parse_completion(b"{\"choices\":[]}", "m").is_err());
        assert_eq!(error_message(br#"{"error":{"message":"bad","code":400}}"#).unwrap(), "bad (400)");
        assert_eq!(error_message(br#"{"error":"model not found"}"#).unwrap(), "model not found");
    }
}
