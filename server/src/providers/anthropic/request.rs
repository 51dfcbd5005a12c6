//! OpenAI chat request → Anthropic Messages request. Only fields Anthropic knows are sent (it
//! refuses unknown ones); OpenAI-only sampling fields are dropped, as LiteLLM does.

use serde_json::{json, Map, Value};

use super::{DEFAULT_MAX_TOKENS, JSON_SCHEMA_TOOL};
use crate::core::error::ApiError;
use crate::providers::adapter::{invalid_request as invalid, parse_data_url, ChatBody};
use crate::providers::chat_request::{
    content_parts, push_turn, stop_sequences, turns, ToolCall, Turn,
};

/// Thinking budgets for OpenAI's `reasoning_effort` (LiteLLM's mapping).
fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}

pub fn to_messages_request(mut request: ChatBody, stream: bool) -> Result<Value, ApiError> {
    let mut body = Map::new();
    body.insert(
        "model".into(),
        request.remove("model").unwrap_or(Value::Null),
    );

    let (system, messages) = translate_messages(&mut request)?;
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    body.insert("messages".into(), Value::Array(messages));

    let json_schema = json_schema_tool(&mut request)?;
    if let Some(n) = request.get("n").and_then(Value::as_u64) {
        if n > 1 {
            return Err(invalid(
                "Anthropic models return one choice; `n` must be 1.",
                "n",
            ));
        }
    }
    let explicit_max = request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .and_then(Value::as_u64);
    let mut thinking = request.remove("thinking");
    if thinking.is_none() {
        if let Some(effort) = request.get("reasoning_effort").and_then(Value::as_str) {
            thinking = thinking_budget(effort)
                .map(|budget| json!({ "type": "enabled", "budget_tokens": budget }));
        }
    }
    let budget = thinking
        .as_ref()
        .and_then(|thinking| thinking.get("budget_tokens"))
        .and_then(Value::as_u64);
    let max_tokens = match (explicit_max, budget) {
        (Some(max), _) => max,
        // Thinking tokens count toward max_tokens, which must exceed the budget.
        (None, Some(budget)) => budget + DEFAULT_MAX_TOKENS,
        (None, None) => DEFAULT_MAX_TOKENS,
    };
    body.insert("max_tokens".into(), max_tokens.into());
    if let Some(thinking) = thinking {
        body.insert("thinking".into(), thinking);
    }

    for field in ["temperature", "top_p", "top_k", "metadata", "service_tier"] {
        if let Some(value) = request.remove(field).filter(|value| !value.is_null()) {
            body.insert(field.into(), value);
        }
    }
    if let Some(stops) = stop_sequences(&mut request) {
        body.insert("stop_sequences".into(), stops);
    }
    if let Some(Value::String(user)) = request.remove("user") {
        let metadata = body.entry("metadata").or_insert_with(|| json!({}));
        if let Value::Object(metadata) = metadata {
            metadata.insert("user_id".into(), Value::String(user));
        }
    }
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }

    if let Some(tools) = request.remove("tools").filter(|tools| !tools.is_null()) {
        let Value::Array(tools) = tools else {
            return Err(invalid("`tools` must be an array.", "tools"));
        };
        if !tools.is_empty() {
            let translated = tools
                .into_iter()
                .map(translate_tool)
                .collect::<Result<Vec<_>, _>>()?;
            body.insert("tools".into(), Value::Array(translated));
        }
    }
    let parallel = request.get("parallel_tool_calls").and_then(Value::as_bool);
    let mut tool_choice = match request.remove("tool_choice") {
        None | Some(Value::Null) => None,
        Some(choice) => Some(translate_tool_choice(&choice)?),
    };
    if parallel == Some(false) && body.contains_key("tools") {
        let choice = tool_choice.get_or_insert_with(|| json!({ "type": "auto" }));
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    if let Some(choice) = tool_choice {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(tool) = json_schema {
        // Anthropic refuses a forced tool while thinking; then the model is asked, not forced.
        let choice = if body.contains_key("thinking") {
            json!({ "type": "auto" })
        } else {
            json!({ "type": "tool", "name": JSON_SCHEMA_TOOL })
        };
        body.insert("tools".into(), json!([tool]));
        body.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(body))
}

/// `response_format: json_schema` as the tool Anthropic is made to call (LiteLLM's approach):
/// its input is the JSON reply, which the reply and stream translators turn back into content.
fn json_schema_tool(request: &mut ChatBody) -> Result<Option<Value>, ApiError> {
    let is_schema = request
        .get("response_format")
        .and_then(|format| format.get("type"))
        .and_then(Value::as_str)
        == Some("json_schema");
    if !is_schema {
        return Ok(None);
    }
    let has_tools = request
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| !tools.is_empty());
    if has_tools {
        return Err(invalid(
            "Anthropic deployments answer `response_format: json_schema` through a tool, so it cannot be combined with `tools`.",
            "response_format",
        ));
    }
    let format = request.remove("response_format").unwrap_or_default();
    let schema = &format["json_schema"]["schema"];
    if schema["type"] != "object" {
        return Err(invalid(
            "For Anthropic deployments the JSON schema's root must be `{\"type\": \"object\"}`.",
            "response_format",
        ));
    }
    let description = format["json_schema"]["description"]
        .as_str()
        .unwrap_or("Respond with a JSON object that matches this schema.");
    Ok(Some(json!({
        "name": JSON_SCHEMA_TOOL,
        "description": description,
        "input_schema": schema,
    })))
}

/// Splits out system messages and turns the rest into alternating user/assistant turns of
/// content blocks (tool results travel in user turns).
fn translate_messages(request: &mut ChatBody) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for turn in turns(request, "Anthropic")? {
        let (role, blocks) = match turn {
            Turn::System(content) => {
                system.extend(content_blocks(content, false)?);
                continue;
            }
            Turn::User(content) => ("user", content_blocks(content, true)?),
            Turn::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = content_blocks(content, false)?;
                blocks.extend(tool_calls.into_iter().map(tool_use));
                ("assistant", blocks)
            }
            Turn::Tool {
                call_id, content, ..
            } => {
                let content = match content {
                    Some(Value::String(text)) => Value::String(text),
                    other => Value::Array(content_blocks(other, true)?),
                };
                let result =
                    json!({ "type": "tool_result", "tool_use_id": call_id, "content": content });
                ("user", vec![result])
            }
        };
        push_turn(&mut messages, role, "content", blocks);
    }
    Ok((system, messages))
}

fn tool_use(call: ToolCall) -> Value {
    json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments })
}

/// A message's `content` as Anthropic blocks. Images only where Anthropic accepts them (user
/// turns and tool results).
fn content_blocks(content: Option<Value>, images: bool) -> Result<Vec<Value>, ApiError> {
    content_parts(content)?
        .into_iter()
        .map(|part| translate_part(part, images))
        .collect()
}

fn translate_part(part: Value, images: bool) -> Result<Value, ApiError> {
    let Value::Object(mut part) = part else {
        return Err(invalid("Each content part must be an object.", "messages"));
    };
    let cache_control = part.remove("cache_control");
    let mut block = match part.get("type").and_then(Value::as_str) {
        Some("text") => match part.remove("text") {
            Some(Value::String(text)) => json!({ "type": "text", "text": text }),
            _ => return Err(invalid("A text part needs a `text` string.", "messages")),
        },
        Some("image_url") if images => {
            let url = part
                .get("image_url")
                .and_then(|image| image.get("url").or(Some(image)))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("An image part needs `image_url.url`.", "messages"))?;
            json!({ "type": "image", "source": media_source(url)? })
        }
        Some("file") if images => {
            let data = part
                .get("file")
                .and_then(|file| file.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("A file part needs `file.file_data`.", "messages"))?;
            json!({ "type": "document", "source": media_source(data)? })
        }
        Some(other) => {
            return Err(invalid(
                format!("Anthropic models do not accept `{other}` content parts here."),
                "messages",
            ))
        }
        None => return Err(invalid("Each content part needs a `type`.", "messages")),
    };
    if let Some(cache_control) = cache_control.filter(|value| !value.is_null()) {
        block["cache_control"] = cache_control;
    }
    Ok(block)
}

/// An image or document source: inline base64 from a `data:` URL, otherwise a URL source.
fn media_source(url: &str) -> Result<Value, ApiError> {
    if !url.starts_with("data:") {
        return Ok(json!({ "type": "url", "url": url }));
    }
    match parse_data_url(url) {
        Some((media_type, data)) => Ok(json!({
            "type": "base64", "media_type": media_type, "data": data
        })),
        None => Err(invalid(
            "An inline image must be a `data:<media type>;base64,<data>` URL.",
            "messages",
        )),
    }
}

fn translate_tool(tool: Value) -> Result<Value, ApiError> {
    let Value::Object(mut tool) = tool else {
        return Err(invalid("Each tool must be an object.", "tools"));
    };
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        // Anthropic's own tool types (web search, computer use, …) pass through.
        return Ok(Value::Object(tool));
    }
    let Some(Value::Object(mut function)) = tool.remove("function") else {
        return Err(invalid(
            "A function tool needs a `function` object.",
            "tools",
        ));
    };
    let Some(name) = function.remove("name").filter(Value::is_string) else {
        return Err(invalid("A function tool needs `function.name`.", "tools"));
    };
    let mut translated = json!({
        "name": name,
        "input_schema": function
            .remove("parameters")
            .filter(|schema| !schema.is_null())
            .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
    });
    if let Some(description) = function.remove("description").filter(Value::is_string) {
        translated["description"] = description;
    }
    if let Some(cache_control) = tool.remove("cache_control") {
        translated["cache_control"] = cache_control;
    }
    Ok(translated)
}

fn translate_tool_choice(choice: &Value) -> Result<Value, ApiError> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(json!({ "type": "auto" })),
            "required" => Ok(json!({ "type": "any" })),
            "none" => Ok(json!({ "type": "none" })),
            other => Err(invalid(
                format!("Unknown `tool_choice` `{other}`."),
                "tool_choice",
            )),
        },
        Value::Object(object) => {
            let name = object
                .get("function")
                .and_then(|function| function.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("`tool_choice.function.name` is missing.", "tool_choice"))?;
            Ok(json!({ "type": "tool", "name": name }))
        }
        _ => Err(invalid(
            "`tool_choice` must be a string or an object.",
            "tool_choice",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(request: Value, stream: bool) -> Value {
        let Value::Object(map) = request else {
            unreachable!()
        };
        to_messages_request(map, stream).unwrap()
    }

    #[test]
    fn hoists_system_and_defaults_max_tokens() {
        let body = translate(
            json!({
                "model": "claude-sonnet-4-5", "temperature": 0.2, "presence_penalty": 1,
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "user", "content": [{"type": "text", "text": "there"}]}
                ],
                "stop": "END", "user": "alice", "seed": 3
            }),
            true,
        );
        assert_eq!(
            body["system"],
            json!([{"type": "text", "text": "Be brief."}])
        );
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(body["stream"], true);
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(body["metadata"]["user_id"], "alice");
        // Consecutive user messages merge into one turn; OpenAI-only fields are dropped.
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["messages"][0]["content"][1]["text"], "there");
        assert!(body.get("presence_penalty").is_none() && body.get("seed").is_none());
    }

    #[test]
    fn translates_tools_calls_results_and_images() {
        let body = translate(
            json!({
                "model": "claude", "max_tokens": 300, "parallel_tool_calls": false,
                "tools": [{"type": "function", "function": {
                    "name": "get_weather", "description": "Weather now",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
                "tool_choice": "required",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is this, and the weather?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}
                    ]},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_1",
                        "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                    {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}
                ]
            }),
            false,
        );
        assert_eq!(body["max_tokens"], 300);
        assert_eq!(body["tools"][0]["name"], "get_weather");
        assert_eq!(
            body["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        let turns = body["messages"].as_array().unwrap();
        assert_eq!(
            turns[0]["content"][1]["source"],
            json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0K"})
        );
        assert_eq!(turns[0]["content"][2]["source"]["type"], "url");
        assert_eq!(
            turns[1]["content"][0],
            json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}})
        );
        assert_eq!(turns[2]["role"], "user");
        assert_eq!(
            turns[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"})
        );
        assert!(body.get("stream").is_none());
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_budget() {
        let body = translate(
            json!({"model": "claude", "reasoning_effort": "high",
                   "messages": [{"role": "user", "content": "Think"}]}),
            false,
        );
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 4096})
        );
        assert!(body["max_tokens"].as_u64().unwrap() > 4096);
    }

    #[test]
    fn refuses_what_anthropic_cannot_take() {
        let refuse = |request: Value| {
            let Value::Object(map) = request else {
                unreachable!()
            };
            match to_messages_request(map, false) {
                Err(ApiError::BadRequest { param, .. }) => param,
                other => panic!("{other:?}"),
            }
        };
        let hi = json!([{"role": "user", "content": "hi"}]);
        assert_eq!(
            refuse(json!({"model": "c", "messages": hi, "n": 2})),
            Some("n")
        );
        assert_eq!(
            refuse(
                json!({"model": "c", "messages": [{"role": "user", "content":
                [{"type": "image_url", "image_url": {"url": "data:nonsense"}}]}]})
            ),
            Some("messages")
        );
        assert_eq!(
            refuse(
                json!({"model": "c", "messages": [{"role": "assistant", "content": "x",
                "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{oops"}}]}]})
            ),
            Some("messages")
        );
        assert_eq!(
            refuse(json!({"model": "c", "messages": hi, "tool_choice": 7})),
            Some("tool_choice")
        );
    }

    #[test]
    fn golden_request_matches_the_published_shape() {
        let golden: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/anthropic/request_tools_image.json"
        ))
        .unwrap();
        // Our translation of the equivalent OpenAI request has the same structure.
        let tool = &golden["tools"][0];
        let body = translate(
            json!({
                "model": golden["model"], "max_tokens": golden["max_tokens"],
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]}],
                "tools": [{"type": "function", "function": {"name": tool["name"],
                    "description": tool["description"], "parameters": tool["input_schema"]}}],
                "tool_choice": "auto"
            }),
            false,
        );
        assert_eq!(body["tools"][0], *tool);
        assert_eq!(body["tool_choice"], golden["tool_choice"]);
        let golden_image = golden["messages"][0]["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|block| block["type"] == "image")
            .unwrap();
        let ours = &body["messages"][0]["content"][1];
        let keys = |value: &Value| {
            let mut keys: Vec<String> = value["source"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(ours), keys(golden_image));
        assert_eq!(ours["type"], golden_image["type"]);
    }
}
