//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`: text parts joined, thought parts
//! as `reasoning_content`, `functionCall` parts as tool calls (thought signatures kept in their
//! ids), finish reasons and usage (thoughts billed as output) mapped.

use serde::Deserialize;
use serde_json::{json, Value};

use super::THOUGHT_SIGNATURE_SEPARATOR;
use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::providers::adapter::{
    chat_completion, unreadable_reply, AssistantMessage, ChatReply, ReplyContext,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    pub prompt_feedback: Option<Value>,
    /// Set instead of the rest when a stream fails midway.
    pub error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub content: Option<Content>,
    pub finish_reason: Option<String>,
}

#[derive(Deserialize)]
pub struct Content {
    #[serde(default)]
    pub parts: Vec<Value>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
}

impl UsageMetadata {
    /// In OpenAI's terms: prompt includes cached content; completion includes thoughts.
    pub fn to_usage(self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_token_count,
            completion_tokens: self.candidates_token_count + self.thoughts_token_count,
            cached_tokens: self.cached_content_token_count,
            cache_write_tokens: 0,
            reasoning_tokens: self.thoughts_token_count,
            ..Usage::default()
        }
    }
}

/// What one candidate's parts say, in OpenAI's terms.
#[derive(Default)]
pub struct Parts {
    pub text: String,
    pub reasoning: String,
    /// `(id, name, arguments JSON)`.
    pub calls: Vec<(String, String, String)>,
}

/// Reads a candidate's parts; tool-call ids count on from `first_call`.
pub fn read_parts(parts: &[Value], first_call: usize) -> Parts {
    let mut read = Parts::default();
    for part in parts {
        if let Some(call) = part.get("functionCall") {
            let index = first_call + read.calls.len();
            let id = match part["thoughtSignature"].as_str() {
                Some(signature) => format!("call_{index}{THOUGHT_SIGNATURE_SEPARATOR}{signature}"),
                None => format!("call_{index}"),
            };
            read.calls.push((
                id,
                call["name"].as_str().unwrap_or_default().to_string(),
                call.get("args")
                    .map_or_else(|| "{}".to_string(), Value::to_string),
            ));
        } else if let Some(text) = part["text"].as_str() {
            if part["thought"] == true {
                read.reasoning.push_str(text);
            } else {
                read.text.push_str(text);
            }
        }
    }
    read
}

/// OpenAI's `finish_reason` for a Gemini `finishReason`.
pub fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        _ if called_tools => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ => "stop",
    }
}

pub fn tool_calls_json(calls: &[(String, String, String)], with_index: bool) -> Value {
    Value::Array(
        calls
            .iter()
            .enumerate()
            .map(|(index, (id, name, arguments))| {
                let mut call = json!({
                    "id": id, "type": "function",
                    "function": { "name": name, "arguments": arguments },
                });
                if with_index {
                    call["index"] = json!(index);
                }
                call
            })
            .collect(),
    )
}

pub fn to_chat_completion(body: &[u8], context: &ReplyContext) -> Result<ChatReply, ApiError> {
    let response: GenerateResponse =
        serde_json::from_slice(body).map_err(|error| unreadable_reply("gemini", &error))?;
    let candidate = response.candidates.first();
    let parts = candidate
        .and_then(|candidate| candidate.content.as_ref())
        .map(|content| read_parts(&content.parts, 0))
        .unwrap_or_default();
    let finish = match candidate.and_then(|candidate| candidate.finish_reason.as_deref()) {
        Some(reason) => finish_reason(reason, !parts.calls.is_empty()),
        // No candidate at all: the prompt itself was blocked.
        None if response.prompt_feedback.is_some() => "content_filter",
        None => "stop",
    };
    let tool_calls = match tool_calls_json(&parts.calls, false) {
        Value::Array(calls) => calls,
        _ => Vec::new(),
    };
    let reply = AssistantMessage {
        text: parts.text,
        reasoning: parts.reasoning,
        tool_calls,
    };
    chat_completion(
        response
            .response_id
            .as_deref()
            .unwrap_or(&context.completion_id),
        response.model_version.as_deref().unwrap_or(&context.model),
        context.created,
        reply,
        finish,
        response.usage_metadata.map(UsageMetadata::to_usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ReplyContext {
        ReplyContext {
            completion_id: "chatcmpl-x".into(),
            model: "gemini".into(),
            created: 1,
        }
    }

    #[test]
    fn golden_text_reply_bills_thoughts_as_output_and_reads_cached_input() {
        let fixture = include_str!("../../../tests/fixtures/gemini/response_text.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let reply = to_chat_completion(fixture.as_bytes(), &context()).unwrap();
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body["choices"][0]["message"]["content"],
            golden["candidates"][0]["content"]["parts"][0]["text"]
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(body["model"], golden["modelVersion"]);
        let meta = &golden["usageMetadata"];
        let usage = reply.usage.unwrap();
        assert_eq!(
            usage.prompt_tokens,
            meta["promptTokenCount"].as_u64().unwrap()
        );
        assert_eq!(
            usage.cached_tokens,
            meta["cachedContentTokenCount"].as_u64().unwrap()
        );
        assert_eq!(
            usage.completion_tokens,
            meta["candidatesTokenCount"].as_u64().unwrap()
                + meta["thoughtsTokenCount"].as_u64().unwrap()
        );
        assert_eq!(
            usage.prompt_tokens.saturating_add(usage.completion_tokens),
            meta["totalTokenCount"].as_u64().unwrap()
        );
        assert_eq!(
            usage.reasoning_tokens,
            meta["thoughtsTokenCount"].as_u64().unwrap()
        );
    }

    #[test]
    fn golden_function_call_keeps_its_thought_signature() {
        let fixture = include_str!("../../../tests/fixtures/gemini/response_function_call.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let reply = to_chat_completion(fixture.as_bytes(), &context()).unwrap();
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        let part = &golden["candidates"][0]["content"]["parts"][0];
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(call["function"]["name"], part["functionCall"]["name"]);
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, part["functionCall"]["args"]);
        let signature = call["id"]
            .as_str()
            .unwrap()
            .split_once(THOUGHT_SIGNATURE_SEPARATOR)
            .unwrap()
            .1;
        assert_eq!(signature, part["thoughtSignature"]);
    }

    #[test]
    fn maps_finish_reasons() {
        assert_eq!(finish_reason("STOP", false), "stop");
        assert_eq!(finish_reason("MAX_TOKENS", false), "length");
        assert_eq!(finish_reason("SAFETY", false), "content_filter");
        assert_eq!(finish_reason("STOP", true), "tool_calls");
        let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#;
        let body: Value =
            serde_json::from_slice(&to_chat_completion(blocked, &context()).unwrap().body).unwrap();
        assert_eq!(body["choices"][0]["finish_reason"], "content_filter");
    }
}
