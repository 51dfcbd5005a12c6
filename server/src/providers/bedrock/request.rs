//! OpenAI chat request → Bedrock Converse request: system messages as `system` blocks, turns as
//! `user`/`assistant` messages of content blocks (text, image bytes, `toolUse`, `toolResult`),
//! sampling options as `inferenceConfig`, tools as `toolConfig`.

use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::{invalid_request as invalid, parse_data_url, ChatBody};
use crate::providers::chat_request::{
    content_parts, push_turn, stop_sequences, text_of, turns, Turn,
};

pub fn to_converse(mut request: ChatBody) -> Result<Value, ApiError> {
    let mut body = Map::new();
    let (system, messages) = translate_messages(&mut request)?;
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    body.insert("messages".into(), Value::Array(messages));

    let mut inference = Map::new();
    if let Some(max) = request
        .remove("max_completion_tokens")
        .or_else(|| request.remove("max_tokens"))
        .filter(|value| !value.is_null())
    {
        inference.insert("maxTokens".into(), max);
    }
    for (openai, bedrock) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(value) = request.remove(openai).filter(|value| !value.is_null()) {
            inference.insert(bedrock.into(), value);
        }
    }
    if let Some(stops) = stop_sequences(&mut request) {
        inference.insert("stopSequences".into(), stops);
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(top_k) = request.remove("top_k").filter(|value| !value.is_null()) {
        body.insert(
            "additionalModelRequestFields".into(),
            json!({ "top_k": top_k }),
        );
    }

    let choice = request
        .remove("tool_choice")
        .filter(|value| !value.is_null());
    let tools = match request.remove("tools") {
        Some(Value::Array(tools)) if !tools.is_empty() => tools,
        _ => Vec::new(),
    };
    // Converse has no "none": a request that forbids tools simply offers none.
    if !tools.is_empty() && choice.as_ref().and_then(Value::as_str) != Some("none") {
        let specs = tools
            .into_iter()
            .map(tool_spec)
            .collect::<Result<Vec<_>, _>>()?;
        let mut config = json!({ "tools": specs });
        if let Some(choice) = choice {
            config["toolChoice"] = tool_choice(&choice)?;
        }
        body.insert("toolConfig".into(), config);
    }
    Ok(Value::Object(body))
}

fn translate_messages(request: &mut ChatBody) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for turn in turns(request, "Bedrock")? {
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
                blocks.extend(tool_calls.into_iter().map(|call| {
                    json!({ "toolUse": { "toolUseId": call.id, "name": call.name, "input": call.arguments } })
                }));
                ("assistant", blocks)
            }
            Turn::Tool {
                call_id, content, ..
            } => {
                let result = json!({ "toolResult": {
                    "toolUseId": call_id, "content": [{ "text": text_of(content) }] } });
                ("user", vec![result])
            }
        };
        push_turn(&mut messages, role, "content", blocks);
    }
    Ok((system, messages))
}

fn content_blocks(content: Option<Value>, images: bool) -> Result<Vec<Value>, ApiError> {
    content_parts(content)?
        .into_iter()
        .map(|part| content_block(part, images))
        .collect()
}

fn content_block(part: Value, images: bool) -> Result<Value, ApiError> {
    match part["type"].as_str() {
        Some("text") => Ok(json!({ "text": part["text"].as_str().unwrap_or_default() })),
        Some("image_url") if images => {
            let url = part["image_url"]["url"]
                .as_str()
                .or_else(|| part["image_url"].as_str())
                .unwrap_or_default();
            let (media_type, data) = parse_data_url(url).ok_or_else(|| {
                invalid(
                    "Bedrock models take images inline: send a `data:image/...;base64,` URL.",
                    "messages",
                )
            })?;
            let format = match media_type {
                "image/png" => "png",
                "image/jpeg" | "image/jpg" => "jpeg",
                "image/gif" => "gif",
                "image/webp" => "webp",
                other => {
                    return Err(invalid(
                        format!("Bedrock models do not accept `{other}` images."),
                        "messages",
                    ))
                }
            };
            Ok(json!({ "image": { "format": format, "source": { "bytes": data } } }))
        }
        Some(other) => Err(invalid(
            format!("Bedrock models do not accept `{other}` content parts here."),
            "messages",
        )),
        None => Err(invalid("Each content part needs a `type`.", "messages")),
    }
}

fn tool_spec(tool: Value) -> Result<Value, ApiError> {
    let function = tool
        .get("function")
        .filter(|_| tool["type"] == "function")
        .ok_or_else(|| invalid("Bedrock models accept only function tools.", "tools"))?;
    let name = function["name"]
        .as_str()
        .ok_or_else(|| invalid("A function tool needs `function.name`.", "tools"))?;
    let schema = function
        .get("parameters")
        .filter(|value| !value.is_null())
        .cloned()
        .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
    let mut spec = json!({ "name": name, "inputSchema": { "json": schema } });
    if let Some(description) = function["description"].as_str() {
        spec["description"] = json!(description);
    }
    Ok(json!({ "toolSpec": spec }))
}

fn tool_choice(choice: &Value) -> Result<Value, ApiError> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(json!({ "auto": {} })),
            "required" => Ok(json!({ "any": {} })),
            other => Err(invalid(
                format!("Unknown `tool_choice` `{other}`."),
                "tool_choice",
            )),
        },
        Value::Object(_) => {
            let name = choice["function"]["name"]
                .as_str()
                .ok_or_else(|| invalid("`tool_choice.function.name` is missing.", "tool_choice"))?;
            Ok(json!({ "tool": { "name": name } }))
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

    fn translate(request: Value) -> Value {
        let Value::Object(map) = request else {
            unreachable!()
        };
        to_converse(map).unwrap()
    }

    #[test]
    fn translates_messages_config_and_tools() {
        let body = translate(json!({
            "model": "anthropic.claude", "max_tokens": 300, "temperature": 0.1, "stop": "END",
            "seed": 4, "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "top_song", "description": "Top song",
                "parameters": {"type": "object", "properties": {"sign": {"type": "string"}}}}}],
            "messages": [
                {"role": "system", "content": "Answer with tools."},
                {"role": "user", "content": [{"type": "text", "text": "Top song on WZPZ?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "tooluse_1", "type": "function",
                    "function": {"name": "top_song", "arguments": "{\"sign\":\"WZPZ\"}"}}]},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "Elemental Hotel"}
            ]
        }));
        assert_eq!(body["system"], json!([{"text": "Answer with tools."}]));
        assert_eq!(
            body["inferenceConfig"],
            json!({"maxTokens": 300, "temperature": 0.1, "stopSequences": ["END"]})
        );
        let turns = body["messages"].as_array().unwrap();
        assert_eq!(
            turns[0]["content"][1],
            json!({"image": {"format": "png", "source": {"bytes": "iVBOR"}}})
        );
        assert_eq!(
            turns[1]["content"],
            json!([{"toolUse": {"toolUseId": "tooluse_1", "name": "top_song", "input": {"sign": "WZPZ"}}}])
        );
        assert_eq!(
            turns[2]["content"][0]["toolResult"]["toolUseId"],
            "tooluse_1"
        );
        assert_eq!(
            body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["sign"]
                ["type"],
            "string"
        );
        assert_eq!(body["toolConfig"]["toolChoice"], json!({"any": {}}));
        assert!(body.get("seed").is_none() && body.get("model").is_none());
    }

    #[test]
    fn tool_choice_none_offers_no_tools_and_remote_images_are_refused() {
        let body = translate(json!({"model": "m", "tool_choice": "none",
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "messages": [{"role": "user", "content": "hi"}]}));
        assert!(body.get("toolConfig").is_none());
        let Value::Object(remote) = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]})
        else {
            unreachable!()
        };
        assert!(matches!(
            to_converse(remote),
            Err(ApiError::BadRequest {
                param: Some("messages"),
                ..
            })
        ));
    }
}
