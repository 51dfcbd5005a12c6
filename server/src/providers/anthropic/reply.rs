//! Anthropic Message → OpenAI `chat.completion`: text blocks joined, `tool_use` blocks as tool
//! calls, thinking as `reasoning_content`, stop reasons and cache-aware usage mapped.

use serde::Deserialize;
use serde_json::Value;

use super::JSON_SCHEMA_TOOL;
use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::providers::adapter::{
    chat_completion, unreadable_reply, AssistantMessage, ChatReply, ReplyContext,
};

#[derive(Deserialize)]
struct Message {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    content: Vec<Value>,
    stop_reason: Option<String>,
    usage: Option<AnthropicUsage>,
}

/// Anthropic's usage: input excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// In OpenAI's terms: the prompt count includes cached input.
    pub fn to_usage(self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: self.input_tokens.unwrap_or(0) + cached + written,
            completion_tokens: self.output_tokens.unwrap_or(0),
            cached_tokens: cached,
            cache_write_tokens: written,
            reasoning_tokens: 0,
            ..Usage::default()
        }
    }

    /// Later counts (a stream's `message_delta`) replace earlier ones where present.
    pub fn update(&mut self, later: AnthropicUsage) {
        let keep = |current: &mut Option<u64>, newer: Option<u64>| {
            if newer.is_some() {
                *current = newer;
            }
        };
        keep(&mut self.input_tokens, later.input_tokens);
        keep(&mut self.output_tokens, later.output_tokens);
        keep(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        keep(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

pub fn to_chat_completion(body: &[u8], context: &ReplyContext) -> Result<ChatReply, ApiError> {
    let message: Message =
        serde_json::from_slice(body).map_err(|error| unreadable_reply("anthropic", &error))?;
    let mut reply = AssistantMessage::default();
    let mut json_reply = false;
    for block in &message.content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => reply
                .text
                .push_str(block["text"].as_str().unwrap_or_default()),
            Some("thinking") => reply
                .reasoning
                .push_str(block["thinking"].as_str().unwrap_or_default()),
            // A JSON-schema reply, given as the input of the tool it was made to call.
            Some("tool_use") if block["name"] == JSON_SCHEMA_TOOL => {
                json_reply = true;
                reply.text = block
                    .get("input")
                    .map_or_else(|| "{}".to_string(), Value::to_string);
            }
            Some("tool_use") => {
                reply.push_tool_call(&block["id"], &block["name"], block.get("input"))
            }
            _ => {}
        }
    }
    let finish = if json_reply {
        "stop"
    } else {
        finish_reason(message.stop_reason.as_deref())
    };
    chat_completion(
        message.id.as_deref().unwrap_or(&context.completion_id),
        message.model.as_deref().unwrap_or(&context.model),
        context.created,
        reply,
        finish,
        message.usage.map(AnthropicUsage::to_usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ReplyContext {
        ReplyContext {
            completion_id: "chatcmpl-x".into(),
            model: "claude".into(),
            created: 1_700_000_000,
        }
    }

    fn translate(fixture: &str) -> (Value, Value, Option<Usage>) {
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let reply = to_chat_completion(fixture.as_bytes(), &context()).unwrap();
        (
            golden,
            serde_json::from_slice(&reply.body).unwrap(),
            reply.usage,
        )
    }

    #[test]
    fn golden_text_reply_with_cache_usage() {
        let (golden, body, usage) = translate(include_str!(
            "../../../tests/fixtures/anthropic/response_text.json"
        ));
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["id"], golden["id"]);
        assert_eq!(body["model"], golden["model"]);
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            golden["content"][0]["text"]
        );
        let raw = &golden["usage"];
        let cached = raw["cache_read_input_tokens"].as_u64().unwrap();
        let written = raw["cache_creation_input_tokens"].as_u64().unwrap();
        assert!(
            cached > 0 && written > 0,
            "the fixture exercises cache usage"
        );
        let usage = usage.unwrap();
        assert_eq!(
            usage.prompt_tokens,
            raw["input_tokens"].as_u64().unwrap() + cached + written
        );
        assert_eq!(usage.cached_tokens, cached);
        assert_eq!(usage.cache_write_tokens, written);
        assert_eq!(
            usage.completion_tokens,
            raw["output_tokens"].as_u64().unwrap()
        );
        assert_eq!(
            body["usage"]["prompt_tokens_details"]["cached_tokens"],
            cached
        );
    }

    #[test]
    fn golden_tool_use_reply() {
        let (golden, body, _) = translate(include_str!(
            "../../../tests/fixtures/anthropic/response_tool_use.json"
        ));
        let tool_use = golden["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|block| block["type"] == "tool_use")
            .unwrap();
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(call["id"], tool_use["id"]);
        assert_eq!(call["function"]["name"], tool_use["name"]);
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, tool_use["input"]);
    }

    #[test]
    fn maps_stop_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(Some("refusal")), "content_filter");
    }

    #[test]
    fn a_broken_reply_is_a_bad_gateway() {
        let error = to_chat_completion(b"{\"content\": 5}", &context()).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_GATEWAY);
    }
}
