//! OpenAI `chat.completion` → Anthropic Message, for `/v1/messages` replies from any provider.

use serde_json::{json, Value};

use crate::core::usage::Usage;

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's usage: input excludes cache reads and writes.
pub fn anthropic_usage(usage: &Usage) -> Value {
    let fresh = usage
        .prompt_tokens
        .saturating_sub(usage.cached_tokens + usage.cache_write_tokens);
    json!({
        "input_tokens": fresh,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    })
}

/// An Anthropic message id for an OpenAI completion id.
pub fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else {
        format!("msg_{id}")
    }
}

/// Arguments of a tool call as the `input` object Anthropic clients expect.
pub fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(input)) => Value::Object(input),
        _ => json!({}),
    }
}

pub fn to_message(completion: &Value, usage: &Usage, model: &str) -> Value {
    let choice = &completion["choices"][0];
    let message = &choice["message"];
    let mut content = Vec::new();
    if let Some(text) = message["content"].as_str().filter(|text| !text.is_empty()) {
        content.push(json!({ "type": "text", "text": text }));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        content.push(json!({
            "type": "tool_use",
            "id": call["id"],
            "name": call["function"]["name"],
            "input": tool_input(call["function"]["arguments"].as_str().unwrap_or("{}")),
        }));
    }
    json!({
        "id": message_id(completion["id"].as_str().unwrap_or("gatehouse")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": anthropic_usage(usage),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_become_messages() {
        let completion = json!({
            "id": "chatcmpl-1",
            "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.",
                "tool_calls": [{ "id": "call_1", "type": "function",
                    "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }] } }],
        });
        let usage = Usage {
            prompt_tokens: 110,
            completion_tokens: 7,
            cached_tokens: 100,
            ..Usage::default()
        };
        let message = to_message(&completion, &usage, "claude");
        assert_eq!(message["id"], "msg_chatcmpl-1");
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(
            message["content"][0],
            json!({ "type": "text", "text": "Checking." })
        );
        assert_eq!(message["content"][1]["input"], json!({ "city": "Paris" }));
        assert_eq!(message["usage"]["input_tokens"], 10);
        assert_eq!(message["usage"]["cache_read_input_tokens"], 100);
        assert_eq!(message["usage"]["output_tokens"], 7);
        assert_eq!(stop_reason(Some("length")), "max_tokens");
        assert_eq!(stop_reason(Some("stop")), "end_turn");
    }
}
