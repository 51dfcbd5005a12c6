//! Cohere v2 chat response → OpenAI `chat.completion`, billed on Cohere's billed units.

use serde::Deserialize;
use serde_json::Value;

use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::providers::adapter::{
    chat_completion, unreadable_reply, AssistantMessage, ChatReply, ReplyContext,
};

#[derive(Deserialize)]
struct ChatResponse {
    id: Option<String>,
    message: Message,
    finish_reason: Option<String>,
    usage: Option<CohereUsage>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    tool_calls: Vec<Value>,
}

/// Cohere's usage: what is billed, and the tokens processed (which include Cohere's own
/// preamble). Cost follows the billed units.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct CohereUsage {
    billed_units: Option<Units>,
    tokens: Option<Units>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct Units {
    #[serde(default)]
    input_tokens: f64,
    #[serde(default)]
    output_tokens: f64,
}

impl CohereUsage {
    pub fn to_usage(self) -> Usage {
        let units = self.billed_units.or(self.tokens).unwrap_or_default();
        Usage::new(units.input_tokens as u64, units.output_tokens as u64)
    }
}

/// OpenAI's `finish_reason` for a Cohere `finish_reason`.
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some("TOOL_CALL") => "tool_calls",
        _ => "stop",
    }
}

pub fn to_chat_completion(body: &[u8], context: &ReplyContext) -> Result<ChatReply, ApiError> {
    let response: ChatResponse =
        serde_json::from_slice(body).map_err(|error| unreadable_reply("cohere", &error))?;
    let text: String = response
        .message
        .content
        .iter()
        .filter_map(|block| block["text"].as_str())
        .collect();
    let reply = AssistantMessage {
        text,
        reasoning: String::new(),
        tool_calls: response.message.tool_calls,
    };
    chat_completion(
        response.id.as_deref().unwrap_or(&context.completion_id),
        &context.model,
        context.created,
        reply,
        finish_reason(response.finish_reason.as_deref()),
        response.usage.map(CohereUsage::to_usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_reply_is_billed_on_billed_units() {
        let fixture = include_str!("../../../tests/fixtures/cohere/chat_v2_response.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let reply = to_chat_completion(
            fixture.as_bytes(),
            &ReplyContext {
                completion_id: "chatcmpl-x".into(),
                model: "command-a-03-2025".into(),
                created: 1,
            },
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["id"], golden["id"]);
        assert_eq!(
            body["choices"][0]["message"]["content"],
            golden["message"]["content"][0]["text"]
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        let billed = &golden["usage"]["billed_units"];
        assert_eq!(
            reply.usage.unwrap(),
            Usage::new(
                billed["input_tokens"].as_u64().unwrap(),
                billed["output_tokens"].as_u64().unwrap()
            )
        );
        assert_eq!(finish_reason(Some("TOOL_CALL")), "tool_calls");
        assert_eq!(finish_reason(Some("MAX_TOKENS")), "length");
    }
}
