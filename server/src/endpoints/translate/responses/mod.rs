//! `/v1/responses` for providers without OpenAI's Responses API: the request is translated to a
//! chat request (instructions, input items, function tools, text format, reasoning effort), and
//! the reply and stream back to a `response` object and its typed events. OpenAI and Azure
//! deployments get the request as it is (`proxy::native`).

pub mod reply;
pub mod stream;

use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::endpoints::request::ChatRequest;
use crate::providers::adapter::invalid_request as invalid;

/// Responses fields with no chat equivalent that change nothing for a stateless call.
const IGNORED_FIELDS: &[&str] = &[
    "store",
    "metadata",
    "truncation",
    "include",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "top_logprobs",
    "stream_options",
];

/// Chat fields a Responses request carries under the same name.
const SAME_NAME_FIELDS: &[&str] = &[
    "model",
    "stream",
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "user",
];

/// A Responses API request as the equivalent chat request.
pub fn to_chat_request(mut request: Map<String, Value>) -> Result<ChatRequest, ApiError> {
    let mut chat = Map::new();
    for field in SAME_NAME_FIELDS {
        if let Some(value) = request.remove(*field).filter(|value| !value.is_null()) {
            chat.insert((*field).into(), value);
        }
    }
    if chat.get("stream") == Some(&Value::Bool(true)) {
        chat.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    if let Some(previous) = request
        .remove("previous_response_id")
        .filter(|v| !v.is_null())
    {
        return Err(invalid(
            format!("previous_response_id ({previous}) needs stored responses, which only OpenAI and Azure deployments keep; send the whole conversation in `input` instead."),
            "previous_response_id",
        ));
    }
    if request.remove("background") == Some(Value::Bool(true)) {
        return Err(invalid(
            "background responses are served by OpenAI and Azure deployments only.",
            "background",
        ));
    }

    let mut messages = Vec::new();
    match request.remove("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => messages.push(json!({ "role": "system", "content": text })),
        Some(_) => return Err(invalid("`instructions` must be a string.", "instructions")),
    }
    match request.remove("input") {
        Some(Value::String(text)) => messages.push(json!({ "role": "user", "content": text })),
        Some(Value::Array(items)) => {
            for item in items {
                push_item(item, &mut messages)?;
            }
        }
        _ => {
            return Err(invalid(
                "`input` must be a string or an array of items.",
                "input",
            ))
        }
    }
    chat.insert("messages".into(), Value::Array(messages));

    if let Some(max) = request.remove("max_output_tokens").filter(|v| !v.is_null()) {
        if max.as_u64().is_none_or(|max| max == 0) {
            return Err(invalid(
                "`max_output_tokens` must be a positive integer.",
                "max_output_tokens",
            ));
        }
        chat.insert("max_tokens".into(), max);
    }
    match request.remove("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) if tools.is_empty() => {}
        Some(Value::Array(tools)) => {
            let tools = tools
                .into_iter()
                .map(chat_tool)
                .collect::<Result<Vec<_>, _>>()?;
            chat.insert("tools".into(), Value::Array(tools));
        }
        Some(_) => return Err(invalid("`tools` must be an array.", "tools")),
    }
    if let Some(choice) = request.remove("tool_choice").filter(|v| !v.is_null()) {
        chat.insert("tool_choice".into(), chat_tool_choice(choice)?);
    }
    if let Some(format) = request
        .remove("text")
        .and_then(|mut text| text.get_mut("format").map(Value::take))
        .filter(|format| !format.is_null())
    {
        if !format.is_object() {
            return Err(invalid("`text.format` must be an object.", "text"));
        }
        if let Some(response_format) = chat_response_format(format)? {
            chat.insert("response_format".into(), response_format);
        }
    }
    if let Some(effort) = request
        .remove("reasoning")
        .and_then(|reasoning| reasoning.get("effort").cloned())
        .filter(|effort| !effort.is_null())
    {
        chat.insert("reasoning_effort".into(), effort);
    }
    for field in IGNORED_FIELDS {
        request.remove(*field);
    }
    if let Some(field) = request.keys().next() {
        return Err(ApiError::BadRequest {
            message: format!(
                "`{field}` is not supported for this model: it is translated to chat, which has no equivalent."
            ),
            param: None,
        });
    }
    ChatRequest::from_object(chat)
}

/// One input item as chat messages: a message, a function call (merged into the preceding
/// assistant message) or a function call's output.
fn push_item(item: Value, messages: &mut Vec<Value>) -> Result<(), ApiError> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = match item["role"].as_str() {
                Some("developer") => "system",
                Some(role @ ("user" | "system" | "assistant")) => role,
                _ => {
                    return Err(invalid(
                        "input: a message's role must be user, assistant, system or developer.",
                        "input",
                    ))
                }
            };
            let content = match &item["content"] {
                Value::String(text) => Value::String(text.clone()),
                Value::Array(parts) if role == "assistant" => Value::String(
                    parts
                        .iter()
                        .filter_map(|part| part["text"].as_str())
                        .collect(),
                ),
                Value::Array(parts) => Value::Array(
                    parts
                        .iter()
                        .map(content_part)
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => return Err(invalid("input: each message needs `content`.", "input")),
            };
            messages.push(json!({ "role": role, "content": content }));
        }
        "function_call" => {
            let call = json!({
                "id": item["call_id"],
                "type": "function",
                "function": { "name": item["name"], "arguments": item["arguments"] },
            });
            if !call["id"].is_string() || !call["function"]["name"].is_string() {
                return Err(invalid(
                    "input: a function_call needs `call_id` and `name`.",
                    "input",
                ));
            }
            match messages.last_mut() {
                Some(last) if last["role"] == "assistant" => {
                    match last["tool_calls"].as_array_mut() {
                        Some(calls) => calls.push(call),
                        None => last["tool_calls"] = json!([call]),
                    }
                }
                _ => messages.push(json!({
                    "role": "assistant", "content": null, "tool_calls": [call],
                })),
            }
        }
        "function_call_output" => {
            let output = match &item["output"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            messages.push(json!({
                "role": "tool", "tool_call_id": item["call_id"], "content": output,
            }));
        }
        // Reasoning items are the model's own; another provider cannot take them.
        "reasoning" => {}
        other => {
            return Err(invalid(
                format!(
                "input: items of type `{other}` are served by OpenAI and Azure deployments only."
            ),
                "input",
            ))
        }
    }
    Ok(())
}

/// An `input_text` / `input_image` part as a chat content part.
fn content_part(part: &Value) -> Result<Value, ApiError> {
    match part["type"].as_str() {
        Some("input_text" | "output_text" | "text") => {
            Ok(json!({ "type": "text", "text": part["text"] }))
        }
        Some("input_image") => {
            let Some(url) = part["image_url"].as_str() else {
                return Err(invalid(
                    "input: input_image needs an `image_url` (a URL or data URL); file ids are served by OpenAI deployments only.",
                    "input",
                ));
            };
            let mut image = json!({ "url": url });
            if let Some(detail) = part["detail"].as_str() {
                image["detail"] = json!(detail);
            }
            Ok(json!({ "type": "image_url", "image_url": image }))
        }
        _ => Err(invalid(
            "input: content parts must be input_text or input_image for this model.",
            "input",
        )),
    }
}

/// A Responses function tool (`{type, name, description, parameters, strict}`) as a chat tool.
fn chat_tool(tool: Value) -> Result<Value, ApiError> {
    if tool["type"] != "function" {
        return Err(invalid(
            format!(
                "tools: `{}` tools are served by OpenAI deployments only; this model takes function tools.",
                tool["type"].as_str().unwrap_or("unknown")
            ),
            "tools",
        ));
    }
    let mut function = Map::new();
    for field in ["name", "description", "parameters", "strict"] {
        if let Some(value) = tool.get(field).filter(|value| !value.is_null()) {
            function.insert(field.into(), value.clone());
        }
    }
    Ok(json!({ "type": "function", "function": function }))
}

fn chat_tool_choice(choice: Value) -> Result<Value, ApiError> {
    match &choice {
        Value::String(mode) if ["auto", "none", "required"].contains(&mode.as_str()) => Ok(choice),
        Value::Object(object) if object.get("type") == Some(&json!("function")) => Ok(json!({
            "type": "function", "function": { "name": object.get("name") },
        })),
        _ => Err(invalid(
            "tool_choice must be auto, none, required or a function.",
            "tool_choice",
        )),
    }
}

/// `text.format` as chat's `response_format` (`None` for plain text).
fn chat_response_format(format: Value) -> Result<Option<Value>, ApiError> {
    match format["type"].as_str() {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(json!({ "type": "json_object" }))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for field in ["name", "schema", "strict", "description"] {
                if let Some(value) = format.get(field).filter(|value| !value.is_null()) {
                    schema.insert(field.into(), value.clone());
                }
            }
            Ok(Some(
                json!({ "type": "json_schema", "json_schema": schema }),
            ))
        }
        Some(other) => Err(invalid(
            format!("text.format type `{other}` is not supported."),
            "text",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(request: Value) -> Result<ChatRequest, ApiError> {
        let Value::Object(object) = request else {
            panic!("not an object")
        };
        to_chat_request(object)
    }

    fn body(request: ChatRequest) -> Value {
        let deployment = crate::config::Config::parse(
            "model_list:\n- {model_name: m, litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: k}}\n",
            "test",
            &|_| None,
        )
        .unwrap()
        .deployments
        .remove(0);
        Value::Object(crate::endpoints::request::for_deployment(
            request.into_body(),
            &deployment,
        ))
    }

    #[test]
    fn translates_instructions_items_tools_and_format() {
        let chat = translate(json!({
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                { "role": "user", "content": [
                    { "type": "input_text", "text": "Weather in Paris?" },
                    { "type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low" },
                ]},
                { "type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" },
                { "type": "function_call_output", "call_id": "call_1", "output": "18C" },
            ],
            "tools": [{ "type": "function", "name": "get_weather", "description": "d",
                        "parameters": { "type": "object" }, "strict": true }],
            "tool_choice": { "type": "function", "name": "get_weather" },
            "text": { "format": { "type": "json_schema", "name": "w", "schema": { "type": "object" }, "strict": true } },
            "reasoning": { "effort": "low" },
            "max_output_tokens": 300,
            "store": false,
            "stream": true,
        }))
        .unwrap();
        let needs = chat.needs();
        assert!(needs.tools && needs.vision && needs.json_schema && needs.streaming);
        let body = body(chat);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(
            messages[0],
            json!({ "role": "system", "content": "Be brief." })
        );
        assert_eq!(messages[1]["content"][1]["image_url"]["detail"], "low");
        assert_eq!(messages[2]["tool_calls"][0]["id"], "call_1");
        assert_eq!(
            messages[2]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        assert_eq!(
            messages[3],
            json!({ "role": "tool", "tool_call_id": "call_1", "content": "18C" })
        );
        assert_eq!(body["tools"][0]["function"]["strict"], true);
        assert_eq!(body["tool_choice"]["function"]["name"], "get_weather");
        assert_eq!(body["response_format"]["json_schema"]["name"], "w");
        assert_eq!(body["reasoning_effort"], "low");
        assert_eq!(body["max_tokens"], 300);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("store").is_none());
    }

    #[test]
    fn refuses_what_only_stored_or_hosted_responses_can_do() {
        let param = |request: Value| match translate(request) {
            Err(ApiError::BadRequest { param, .. }) => param,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted"),
        };
        assert_eq!(
            param(json!({ "model": "m", "input": "hi", "previous_response_id": "resp_1" })),
            Some("previous_response_id")
        );
        assert_eq!(
            param(json!({ "model": "m", "input": "hi", "tools": [{ "type": "web_search" }] })),
            Some("tools")
        );
        assert_eq!(
            param(json!({ "model": "m", "input": [{ "type": "item_reference", "id": "x" }] })),
            Some("input")
        );
        assert_eq!(
            param(json!({ "model": "m", "input": "hi", "prompt": { "id": "p" } })),
            None
        );
        assert_eq!(param(json!({ "model": "m" })), Some("input"));
        assert_eq!(
            param(json!({ "model": "m", "input": "x", "tools": "t" })),
            Some("tools")
        );
        assert_eq!(
            param(json!({ "model": "m", "input": "x", "max_output_tokens": "9" })),
            Some("max_output_tokens")
        );
        assert_eq!(
            param(json!({ "model": "m", "input": "x", "text": { "format": "x" } })),
            Some("text")
        );
    }
}
