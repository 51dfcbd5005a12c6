//! OpenAI `chat.completion` → Responses API `response` object, for `/v1/responses` replies from
//! providers without that API: text becomes a `message` item with `output_text`, tool calls
//! become `function_call` items, and usage takes the Responses names.

use serde_json::{json, Value};

use crate::core::usage::Usage;
use crate::providers::adapter::ReplyContext;

/// The `resp_…` id of a translated response.
pub fn response_id(context: &ReplyContext) -> String {
    let id = context
        .completion_id
        .strip_prefix("chatcmpl-")
        .unwrap_or(&context.completion_id);
    format!("resp_{}", id.replace('-', ""))
}

/// Usage with the Responses API's names.
pub fn responses_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": { "cached_tokens": usage.cached_tokens },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": { "reasoning_tokens": usage.reasoning_tokens },
        "total_tokens": usage.prompt_tokens.saturating_add(usage.completion_tokens),
    })
}

/// A `message` output item holding `text`.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id, "type": "message", "status": status, "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [], "logprobs": [] }],
    })
}

/// A `function_call` output item.
pub fn function_call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({
        "id": id, "type": "function_call", "status": status,
        "call_id": call_id, "name": name, "arguments": arguments,
    })
}

/// The `response` object around `output`; `finish_reason` decides completed or incomplete.
pub fn response_object(
    context: &ReplyContext,
    model: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
    finish_reason: Option<&str>,
) -> Value {
    let (status, incomplete_details) = match finish_reason {
        Some("length") => ("incomplete", json!({ "reason": "max_output_tokens" })),
        Some("content_filter") => ("incomplete", json!({ "reason": "content_filter" })),
        Some(_) => ("completed", Value::Null),
        None => ("in_progress", Value::Null),
    };
    json!({
        "id": response_id(context),
        "object": "response",
        "created_at": context.created,
        "status": status,
        "error": null,
        "incomplete_details": incomplete_details,
        "instructions": null,
        "max_output_tokens": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": { "effort": null, "summary": null },
        "store": false,
        "temperature": null,
        "text": { "format": { "type": "text" } },
        "tool_choice": "auto",
        "tools": [],
        "top_p": null,
        "truncation": "disabled",
        "usage": usage.map(responses_usage),
        "metadata": {},
    })
}

/// A whole chat completion as a `response` object.
pub fn to_response(
    completion: &Value,
    usage: &Usage,
    model: &str,
    context: &ReplyContext,
) -> Value {
    let choice = &completion["choices"][0];
    let message = &choice["message"];
    let response_id = response_id(context);
    let mut output = Vec::new();
    if let Some(text) = message["content"].as_str().filter(|text| !text.is_empty()) {
        output.push(message_item(
            &format!("msg_{response_id}"),
            text,
            "completed",
        ));
    }
    for (index, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        output.push(function_call_item(
            &format!("fc_{response_id}_{index}"),
            call["id"].as_str().unwrap_or_default(),
            call["function"]["name"].as_str().unwrap_or_default(),
            call["function"]["arguments"].as_str().unwrap_or("{}"),
            "completed",
        ));
    }
    let finish_reason = choice["finish_reason"].as_str().unwrap_or("stop");
    response_object(context, model, output, Some(usage), Some(finish_reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ReplyContext {
        ReplyContext {
            completion_id: "chatcmpl-1b2c-3d".into(),
            model: "claude-sonnet-4-5".into(),
            created: 1_700_000_000,
        }
    }

    #[test]
    fn golden_tool_call_completion_becomes_a_response() {
        let completion = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
            "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.",
                "tool_calls": [{ "id": "toolu_01", "type": "function",
                    "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }],
            }}],
        });
        let usage = Usage {
            cached_tokens: 4,
            reasoning_tokens: 2,
            ..Usage::new(20, 9)
        };
        let response = to_response(&completion, &usage, "smart", &context());
        assert_eq!(response["id"], "resp_1b2c3d");
        assert_eq!(response["object"], "response");
        assert_eq!(response["status"], "completed");
        assert_eq!(response["model"], "smart");
        assert_eq!(response["output"][0]["type"], "message");
        assert_eq!(response["output"][0]["content"][0]["text"], "Checking.");
        assert_eq!(response["output"][1]["type"], "function_call");
        assert_eq!(response["output"][1]["call_id"], "toolu_01");
        assert_eq!(response["output"][1]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(response["usage"]["input_tokens"], 20);
        assert_eq!(
            response["usage"]["input_tokens_details"]["cached_tokens"],
            4
        );
        assert_eq!(
            response["usage"]["output_tokens_details"]["reasoning_tokens"],
            2
        );
        assert_eq!(response["usage"]["total_tokens"], 29);

        let truncated =
            json!({ "choices": [{ "finish_reason": "length", "message": { "content": "abc" } }] });
        let response = to_response(&truncated, &usage, "smart", &context());
        assert_eq!(response["status"], "incomplete");
        assert_eq!(
            response["incomplete_details"]["reason"],
            "max_output_tokens"
        );
    }
}
