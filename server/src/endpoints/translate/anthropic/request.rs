//! Anthropic Messages request → OpenAI chat request, so `/v1/messages` (Claude Code, the
//! Anthropic SDK) can reach any provider: system blocks become a system message, content blocks
//! become parts, `tool_use`/`tool_result` blocks become tool calls and tool messages.

use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::invalid_request as invalid;

/// The OpenAI `reasoning_effort` nearest a thinking budget.
fn reasoning_effort(budget: u64) -> &'static str {
    match budget {
        0..=1024 => "low",
        1025..=2048 => "medium",
        _ => "high",
    }
}

pub fn to_chat_request(mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut chat = Map::new();
    match request.remove("model") {
        Some(Value::String(model)) if !model.is_empty() => {
            chat.insert("model".into(), Value::String(model));
        }
        _ => {
            return Err(invalid(
                "model: Field required (a non-empty string).",
                "model",
            ))
        }
    }
    let Some(max_tokens) = request.remove("max_tokens").filter(Value::is_u64) else {
        return Err(invalid(
            "max_tokens: Field required (a positive integer).",
            "max_tokens",
        ));
    };
    chat.insert("max_tokens".into(), max_tokens);

    let mut messages = Vec::new();
    match request.remove("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => messages.push(json!({ "role": "system", "content": text })),
        Some(Value::Array(blocks)) => messages.push(json!({
            "role": "system",
            "content": blocks.into_iter().map(text_part).collect::<Result<Vec<_>, _>>()?,
        })),
        Some(_) => {
            return Err(invalid(
                "system: must be a string or text blocks.",
                "system",
            ))
        }
    }
    let Some(Value::Array(turns)) = request.remove("messages") else {
        return Err(invalid("messages: Field required (an array).", "messages"));
    };
    if turns.is_empty() {
        return Err(invalid(
            "messages: at least one message is required.",
            "messages",
        ));
    }
    for turn in turns {
        translate_turn(turn, &mut messages)?;
    }
    chat.insert("messages".into(), Value::Array(messages));

    for field in ["temperature", "top_p", "top_k", "stream"] {
        if let Some(value) = request.remove(field).filter(|value| !value.is_null()) {
            chat.insert(field.into(), value);
        }
    }
    if chat.get("stream") == Some(&Value::Bool(true)) {
        chat.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    if let Some(stops) = request
        .remove("stop_sequences")
        .filter(|value| !value.is_null())
    {
        chat.insert("stop".into(), stops);
    }
    if let Some(user) = request
        .get("metadata")
        .and_then(|metadata| metadata.get("user_id"))
        .and_then(Value::as_str)
    {
        chat.insert("user".into(), Value::String(user.to_string()));
    }
    if let Some(budget) = request
        .get("thinking")
        .filter(|thinking| thinking["type"] == "enabled")
        .and_then(|thinking| thinking["budget_tokens"].as_u64())
    {
        chat.insert("reasoning_effort".into(), json!(reasoning_effort(budget)));
    }
    if let Some(Value::Array(tools)) = request.remove("tools") {
        if !tools.is_empty() {
            chat.insert(
                "tools".into(),
                Value::Array(tools.into_iter().map(translate_tool).collect()),
            );
        }
    }
    if let Some(choice) = request
        .remove("tool_choice")
        .filter(|value| !value.is_null())
    {
        if choice["disable_parallel_tool_use"] == true {
            chat.insert("parallel_tool_calls".into(), Value::Bool(false));
        }
        let translated = match choice["type"].as_str() {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({ "type": "function", "function": { "name": choice["name"] } }),
            _ => return Err(invalid("tool_choice: unknown type.", "tool_choice")),
        };
        chat.insert("tool_choice".into(), translated);
    }
    Ok(chat)
}

/// One Anthropic turn as OpenAI messages: a user turn's `tool_result` blocks become `tool`
/// messages (first, answering the assistant's calls), its other blocks one user message; an
/// assistant turn's `tool_use` blocks become tool calls.
fn translate_turn(turn: Value, messages: &mut Vec<Value>) -> Result<(), ApiError> {
    let role = turn["role"].as_str().unwrap_or_default().to_string();
    let blocks = match turn.get("content") {
        Some(Value::String(text)) => vec![json!({ "type": "text", "text": text })],
        Some(Value::Array(blocks)) => blocks.clone(),
        _ => {
            return Err(invalid(
                "messages: each message needs `content`.",
                "messages",
            ))
        }
    };
    match role.as_str() {
        "user" => {
            let mut parts = Vec::new();
            for block in blocks {
                if block["type"] == "tool_result" {
                    messages.push(json!({
                        "role": "tool",
                        "tool_call_id": block["tool_use_id"],
                        "content": tool_result_text(&block["content"]),
                    }));
                } else {
                    parts.push(user_part(block)?);
                }
            }
            if !parts.is_empty() {
                messages.push(json!({ "role": "user", "content": parts }));
            }
        }
        "assistant" => {
            let mut text = String::new();
            let mut calls = Vec::new();
            for block in blocks {
                match block["type"].as_str() {
                    Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => calls.push(json!({
                        "id": block["id"], "type": "function",
                        "function": {
                            "name": block["name"],
                            "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                        },
                    })),
                    // Thinking blocks are the model's own; other providers cannot take them.
                    _ => {}
                }
            }
            let mut message = json!({
                "role": "assistant",
                "content": if text.is_empty() { Value::Null } else { Value::String(text) },
            });
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            messages.push(message);
        }
        _ => {
            return Err(invalid(
                "messages: role must be 'user' or 'assistant'.",
                "messages",
            ))
        }
    }
    Ok(())
}

fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn text_part(block: Value) -> Result<Value, ApiError> {
    let Some(text) = block["text"].as_str() else {
        return Err(invalid("system: blocks must be text blocks.", "system"));
    };
    let mut part = json!({ "type": "text", "text": text });
    if let Some(cache_control) = block.get("cache_control") {
        part["cache_control"] = cache_control.clone();
    }
    Ok(part)
}

fn user_part(block: Value) -> Result<Value, ApiError> {
    let mut part = match block["type"].as_str() {
        Some("text") => {
            json!({ "type": "text", "text": block["text"].as_str().unwrap_or_default() })
        }
        Some("image") => {
            json!({ "type": "image_url", "image_url": { "url": source_url(&block["source"])? } })
        }
        Some("document") => {
            json!({ "type": "file", "file": { "file_data": source_url(&block["source"])? } })
        }
        Some(other) => {
            return Err(invalid(
                format!("messages: `{other}` blocks are not supported here."),
                "messages",
            ))
        }
        None => return Err(invalid("messages: each block needs a `type`.", "messages")),
    };
    if let Some(cache_control) = block.get("cache_control") {
        part["cache_control"] = cache_control.clone();
    }
    Ok(part)
}

/// A media source as the URL OpenAI parts carry (`data:` for inline base64).
fn source_url(source: &Value) -> Result<String, ApiError> {
    match source["type"].as_str() {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            source["media_type"]
                .as_str()
                .unwrap_or("application/octet-stream"),
            source["data"].as_str().unwrap_or_default()
        )),
        Some("url") => Ok(source["url"].as_str().unwrap_or_default().to_string()),
        _ => Err(invalid("messages: unsupported media source.", "messages")),
    }
}

fn translate_tool(tool: Value) -> Value {
    match tool.get("input_schema") {
        Some(schema) => {
            let mut function = json!({ "name": tool["name"], "parameters": schema });
            if let Some(description) = tool.get("description") {
                function["description"] = description.clone();
            }
            json!({ "type": "function", "function": function })
        }
        // Anthropic's server tools (web search, …) pass through for Anthropic upstreams.
        None => tool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(request: Value) -> Value {
        let Value::Object(map) = request else {
            unreachable!()
        };
        Value::Object(to_chat_request(map).unwrap())
    }

    #[test]
    fn golden_request_becomes_an_openai_request() {
        let golden: Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/anthropic/request_tools_image.json"
        ))
        .unwrap();
        let chat = translate(golden.clone());
        assert_eq!(chat["model"], golden["model"]);
        assert_eq!(chat["max_tokens"], golden["max_tokens"]);
        assert_eq!(
            chat["messages"][0],
            json!({ "role": "system", "content": golden["system"] })
        );
        let parts = &chat["messages"][1]["content"];
        let image = &golden["messages"][0]["content"][0]["source"];
        assert_eq!(
            parts[0]["image_url"]["url"],
            format!(
                "data:{};base64,{}",
                image["media_type"].as_str().unwrap(),
                image["data"].as_str().unwrap()
            )
        );
        assert_eq!(
            parts[1]["text"],
            golden["messages"][0]["content"][1]["text"]
        );
        assert_eq!(
            chat["tools"][0]["function"]["name"],
            golden["tools"][0]["name"]
        );
        assert_eq!(
            chat["tools"][0]["function"]["parameters"],
            golden["tools"][0]["input_schema"]
        );
    }

    #[test]
    fn tool_use_and_results_become_calls_and_tool_messages() {
        let chat = translate(json!({
            "model": "m", "max_tokens": 100, "stream": true, "stop_sequences": ["END"],
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "metadata": {"user_id": "u-1"},
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                    {"type": "text", "text": "And tomorrow?"}]}
            ]
        }));
        let messages = chat["messages"].as_array().unwrap();
        assert_eq!(messages[1]["content"], "Checking.");
        assert_eq!(
            messages[1]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(
            messages[2],
            json!({"role": "tool", "tool_call_id": "toolu_1", "content": "18C"})
        );
        assert_eq!(messages[3]["content"][0]["text"], "And tomorrow?");
        assert_eq!(chat["tool_choice"], "required");
        assert_eq!(chat["parallel_tool_calls"], false);
        assert_eq!(chat["stop"], json!(["END"]));
        assert_eq!(chat["user"], "u-1");
        assert_eq!(chat["reasoning_effort"], "medium");
        assert_eq!(chat["stream_options"]["include_usage"], true);
    }

    #[test]
    fn refuses_requests_anthropic_would_refuse() {
        for (request, param) in [
            (
                json!({"max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}),
                "model",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "max_tokens": 1, "messages": []}),
                "messages",
            ),
            (
                json!({"model": "m", "max_tokens": 1, "messages": [{"role": "system", "content": "x"}]}),
                "messages",
            ),
        ] {
            let Value::Object(map) = request else {
                unreachable!()
            };
            match to_chat_request(map) {
                Err(ApiError::BadRequest {
                    param: Some(found), ..
                }) => assert_eq!(found, param),
                other => panic!("{other:?}"),
            }
        }
    }
}
