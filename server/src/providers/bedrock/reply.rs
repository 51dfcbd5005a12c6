//! Bedrock Converse response → OpenAI `chat.completion`: text blocks joined, `toolUse` blocks as
//! tool calls, reasoning as `reasoning_content`, stop reasons and cache-aware usage mapped.

use serde::Deserialize;
use serde_json::Value;

use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::providers::adapter::{
    chat_completion, unreadable_reply, AssistantMessage, ChatReply, ReplyContext,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse {
    output: Output,
    stop_reason: Option<String>,
    usage: Option<TokenUsage>,
}

#[derive(Deserialize)]
struct Output {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Value>,
}

/// Bedrock's token counts: `inputTokens` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

impl TokenUsage {
    pub fn to_usage(self) -> Usage {
        Usage {
            prompt_tokens: self.input_tokens
                + self.cache_read_input_tokens
                + self.cache_write_input_tokens,
            completion_tokens: self.output_tokens,
            cached_tokens: self.cache_read_input_tokens,
            cache_write_tokens: self.cache_write_input_tokens,
            reasoning_tokens: 0,
            ..Usage::default()
        }
    }
}

/// OpenAI's `finish_reason` for a Converse `stopReason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("guardrail_intervened") | Some("content_filtered") => "content_filter",
        _ => "stop",
    }
}

pub fn to_chat_completion(body: &[u8], context: &ReplyContext) -> Result<ChatReply, ApiError> {
    let response: ConverseResponse =
        serde_json::from_slice(body).map_err(|error| unreadable_reply("bedrock", &error))?;
    let mut reply = AssistantMessage::default();
    for block in &response.output.message.content {
        if let Some(piece) = block["text"].as_str() {
            reply.text.push_str(piece);
        } else if let Some(tool_use) = block.get("toolUse") {
            reply.push_tool_call(
                &tool_use["toolUseId"],
                &tool_use["name"],
                tool_use.get("input"),
            );
        } else if let Some(piece) = block["reasoningContent"]["reasoningText"]["text"].as_str() {
            reply.reasoning.push_str(piece);
        }
    }
    chat_completion(
        &context.completion_id,
        &context.model,
        context.created,
        reply,
        finish_reason(response.stop_reason.as_deref()),
        response.usage.map(TokenUsage::to_usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ReplyContext {
        ReplyContext {
            completion_id: "chatcmpl-x".into(),
            model: "anthropic.claude".into(),
            created: 1,
        }
    }

    fn translate(fixture: &str) -> (Value, Value, Usage) {
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let reply = to_chat_completion(fixture.as_bytes(), &context()).unwrap();
        (
            golden,
            serde_json::from_slice(&reply.body).unwrap(),
            reply.usage.unwrap(),
        )
    }

    #[test]
    fn golden_text_reply_counts_cache_reads_and_writes_as_prompt() {
        let (golden, body, usage) = translate(include_str!(
            "../../../tests/fixtures/bedrock/converse_response_text.json"
        ));
        assert_eq!(
            body["choices"][0]["message"]["content"],
            golden["output"]["message"]["content"][0]["text"]
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        let raw = &golden["usage"];
        assert_eq!(
            usage.prompt_tokens.saturating_add(usage.completion_tokens),
            raw["totalTokens"].as_u64().unwrap()
        );
        assert_eq!(
            usage.cached_tokens,
            raw["cacheReadInputTokens"].as_u64().unwrap()
        );
        assert_eq!(
            usage.cache_write_tokens,
            raw["cacheWriteInputTokens"].as_u64().unwrap()
        );
        assert_eq!(
            usage.completion_tokens,
            raw["outputTokens"].as_u64().unwrap()
        );
    }

    #[test]
    fn golden_tool_use_reply() {
        let (golden, body, _) = translate(include_str!(
            "../../../tests/fixtures/bedrock/converse_response_tool_use.json"
        ));
        let tool_use = &golden["output"]["message"]["content"][1]["toolUse"];
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(call["id"], tool_use["toolUseId"]);
        assert_eq!(call["function"]["name"], tool_use["name"]);
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, tool_use["input"]);
        assert_eq!(
            body["choices"][0]["message"]["content"],
            golden["output"]["message"]["content"][0]["text"]
        );
    }

    #[test]
    fn maps_stop_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(
            finish_reason(Some("guardrail_intervened")),
            "content_filter"
        );
    }
}
