//! OpenAI chat request → Gemini `GenerateContentRequest`: system messages become the system
//! instruction, turns become `user`/`model` contents of parts, tool calls and results become
//! `functionCall`/`functionResponse` parts, sampling and output options `generationConfig`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::THOUGHT_SIGNATURE_SEPARATOR;
use crate::core::error::ApiError;
use crate::providers::adapter::{invalid_request as invalid, parse_data_url, ChatBody};
use crate::providers::chat_request::{
    content_parts, push_turn, stop_sequences, text_of, turns, ToolCall, Turn,
};

/// Thinking budgets for OpenAI's `reasoning_effort`.
fn thinking_budget(effort: &str) -> Option<i64> {
    match effort {
        "none" => Some(0),
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}

pub fn to_generate_content(mut request: ChatBody) -> Result<Value, ApiError> {
    let mut body = Map::new();
    let (system, contents) = translate_messages(&mut request)?;
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    body.insert("contents".into(), Value::Array(contents));

    let mut config = Map::new();
    for (openai, gemini) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("n", "candidateCount"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("seed", "seed"),
    ] {
        if let Some(value) = request.remove(openai).filter(|value| !value.is_null()) {
            config.insert(gemini.into(), value);
        }
    }
    if let Some(max) = request
        .remove("max_completion_tokens")
        .or_else(|| request.remove("max_tokens"))
        .filter(|value| !value.is_null())
    {
        config.insert("maxOutputTokens".into(), max);
    }
    if let Some(stops) = stop_sequences(&mut request) {
        config.insert("stopSequences".into(), stops);
    }
    if let Some(format) = request.remove("response_format") {
        match format.get("type").and_then(Value::as_str) {
            Some("json_object") => {
                config.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                let schema = format
                    .get("json_schema")
                    .and_then(|spec| spec.get("schema"))
                    .cloned()
                    .ok_or_else(|| {
                        invalid(
                            "`response_format.json_schema.schema` is missing.",
                            "response_format",
                        )
                    })?;
                config.insert("responseMimeType".into(), json!("application/json"));
                config.insert("responseJsonSchema".into(), schema);
            }
            Some("text") | None => {}
            Some(other) => {
                return Err(invalid(
                    format!("Unknown `response_format` type `{other}`."),
                    "response_format",
                ))
            }
        }
    }
    if let Some(budget) = request
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .and_then(thinking_budget)
    {
        config.insert("thinkingConfig".into(), json!({ "thinkingBudget": budget }));
    }
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }

    if let Some(Value::Array(tools)) = request.remove("tools") {
        let declarations = tools
            .into_iter()
            .map(function_declaration)
            .collect::<Result<Vec<_>, _>>()?;
        if !declarations.is_empty() {
            body.insert(
                "tools".into(),
                json!([{ "functionDeclarations": declarations }]),
            );
        }
    }
    if let Some(choice) = request
        .remove("tool_choice")
        .filter(|value| !value.is_null())
    {
        body.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": function_calling_config(&choice)? }),
        );
    }
    Ok(Value::Object(body))
}

fn translate_messages(request: &mut ChatBody) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let mut system = Vec::new();
    let mut contents = Vec::new();
    // Tool-call id → function name, for the `functionResponse` that answers it.
    let mut call_names: HashMap<String, String> = HashMap::new();
    for turn in turns(request, "Gemini")? {
        let (role, parts) = match turn {
            Turn::System(content) => {
                system.extend(gemini_parts(content)?);
                continue;
            }
            Turn::User(content) => ("user", gemini_parts(content)?),
            Turn::Assistant {
                content,
                tool_calls,
            } => {
                let mut parts = gemini_parts(content)?;
                for call in tool_calls {
                    call_names.insert(call.id.clone(), call.name.clone());
                    parts.push(function_call(call));
                }
                ("model", parts)
            }
            Turn::Tool {
                call_id,
                name,
                content,
            } => {
                let name = name
                    .or_else(|| call_names.get(&call_id).cloned())
                    .ok_or_else(|| {
                        invalid(
                            format!("Tool result `{call_id}` answers no earlier tool call."),
                            "messages",
                        )
                    })?;
                ("user", vec![function_response(name, text_of(content))])
            }
        };
        push_turn(&mut contents, role, "parts", parts);
    }
    Ok((system, contents))
}

fn gemini_parts(content: Option<Value>) -> Result<Vec<Value>, ApiError> {
    content_parts(content)?
        .into_iter()
        .map(content_part)
        .collect()
}

fn content_part(part: Value) -> Result<Value, ApiError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(json!({ "text": part["text"].as_str().unwrap_or_default() })),
        Some("image_url") | Some("file") => {
            let url = part["image_url"]["url"]
                .as_str()
                .or_else(|| part["image_url"].as_str())
                .or_else(|| part["file"]["file_data"].as_str())
                .or_else(|| part["file"]["file_id"].as_str())
                .ok_or_else(|| invalid("A media part needs a URL or file data.", "messages"))?;
            Ok(media_part(url))
        }
        Some(other) => Err(invalid(
            format!("Gemini models do not accept `{other}` content parts here."),
            "messages",
        )),
        None => Err(invalid("Each content part needs a `type`.", "messages")),
    }
}

/// Refuses media that names a resource on the provider's side (`gs://…`, a Files API name or
/// `file_id`, a Google storage URL): the provider would read it with the deployment's
/// credentials, not the tenant's. Inline `data:` and other public `http(s)` URLs pass.
pub fn refuse_file_references(request: &ChatBody) -> Result<(), ApiError> {
    let messages = request.get("messages").and_then(Value::as_array);
    let parts = messages
        .into_iter()
        .flatten()
        .filter_map(|message| message.get("content").and_then(Value::as_array))
        .flatten();
    for part in parts {
        let file_id = part["file"]["file_id"].as_str();
        let url = part["image_url"]["url"]
            .as_str()
            .or_else(|| part["image_url"].as_str())
            .or_else(|| part["file"]["file_data"].as_str());
        if file_id.is_some() || url.is_some_and(names_provider_resource) {
            return Err(invalid(
                "This model does not accept references to files stored with the provider \
                 (gs://, Files API names, file ids); send the file's data inline.",
                "messages",
            ));
        }
    }
    Ok(())
}

/// A URL that is not inline data or a public web address the provider fetches like anyone.
fn names_provider_resource(url: &str) -> bool {
    if url.starts_with("data:") {
        return false;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        // `files/abc…` and other bare names.
        return true;
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return true;
    }
    parsed.host_str().is_some_and(|host| {
        let host = host.trim_end_matches('.');
        host == "storage.cloud.google.com"
            || host == "googleapis.com"
            || host.ends_with(".googleapis.com")
    })
}

/// Inline data for `data:` URLs; otherwise a file reference (Files API or `gs://` URIs, and
/// public URLs Gemini fetches itself) with the media type its extension suggests.
fn media_part(url: &str) -> Value {
    match parse_data_url(url) {
        Some((mime_type, data)) => json!({ "inlineData": { "mimeType": mime_type, "data": data } }),
        None => json!({ "fileData": { "mimeType": mime_type_of(url), "fileUri": url } }),
    }
}

fn mime_type_of(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("mp3") => "audio/mp3",
        Some("wav") => "audio/wav",
        Some("mp4") => "video/mp4",
        _ => "image/jpeg",
    }
}

/// A `functionCall` part, carrying back the thought signature its id holds.
fn function_call(call: ToolCall) -> Value {
    let mut part = json!({ "functionCall": { "name": call.name, "args": call.arguments } });
    if let Some((_, signature)) = call.id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
        part["thoughtSignature"] = json!(signature);
    }
    part
}

/// A `functionResponse` part. Gemini wants an object: a JSON object result as it is, anything
/// else under `content`.
fn function_response(name: String, text: String) -> Value {
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => json!({ "content": text }),
    };
    json!({ "functionResponse": { "name": name, "response": response } })
}

fn function_declaration(tool: Value) -> Result<Value, ApiError> {
    let function = tool
        .get("function")
        .filter(|_| tool["type"] == "function")
        .ok_or_else(|| invalid("Gemini models accept only function tools.", "tools"))?;
    let name = function["name"]
        .as_str()
        .ok_or_else(|| invalid("A function tool needs `function.name`.", "tools"))?;
    let mut declaration = json!({ "name": name });
    if let Some(description) = function["description"].as_str() {
        declaration["description"] = json!(description);
    }
    if let Some(parameters) = function.get("parameters").filter(|value| !value.is_null()) {
        declaration["parametersJsonSchema"] = parameters.clone();
    }
    Ok(declaration)
}

fn function_calling_config(choice: &Value) -> Result<Value, ApiError> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(json!({ "mode": "AUTO" })),
            "required" => Ok(json!({ "mode": "ANY" })),
            "none" => Ok(json!({ "mode": "NONE" })),
            other => Err(invalid(
                format!("Unknown `tool_choice` `{other}`."),
                "tool_choice",
            )),
        },
        Value::Object(_) => {
            let name = choice["function"]["name"]
                .as_str()
                .ok_or_else(|| invalid("`tool_choice.function.name` is missing.", "tool_choice"))?;
            Ok(json!({ "mode": "ANY", "allowedFunctionNames": [name] }))
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
        to_generate_content(map).unwrap()
    }

    #[test]
    fn translates_roles_parts_and_config() {
        let body = translate(json!({
            "model": "gemini-2.5-flash", "temperature": 0.3, "max_tokens": 200, "stop": ["X"],
            "reasoning_effort": "low",
            "response_format": {"type": "json_schema", "json_schema": {"name": "r",
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "gs://bucket/cat.webp"}}]},
                {"role": "assistant", "content": "A cat."},
                {"role": "user", "content": "Thanks"}
            ]
        }));
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "Be brief."}]})
        );
        let contents = body["contents"].as_array().unwrap();
        assert_eq!(contents.len(), 3);
        assert_eq!(contents[0]["role"], "user");
        assert_eq!(
            contents[0]["parts"][1],
            json!({"inlineData": {"mimeType": "image/png", "data": "iVBOR"}})
        );
        assert_eq!(
            contents[0]["parts"][2]["fileData"]["mimeType"],
            "image/webp"
        );
        assert_eq!(
            contents[1],
            json!({"role": "model", "parts": [{"text": "A cat."}]})
        );
        let config = &body["generationConfig"];
        assert_eq!(config["temperature"], 0.3);
        assert_eq!(config["maxOutputTokens"], 200);
        assert_eq!(config["stopSequences"], json!(["X"]));
        assert_eq!(config["responseMimeType"], "application/json");
        assert_eq!(
            config["responseJsonSchema"]["properties"]["a"]["type"],
            "string"
        );
        assert_eq!(config["thinkingConfig"]["thinkingBudget"], 1024);
        assert!(body.get("model").is_none());
    }

    #[test]
    fn translates_tools_calls_and_results_with_thought_signatures() {
        let body = translate(json!({
            "model": "gemini-2.5-flash", "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "tool_calls": [{"id": "call_0__thought__c2lnbmF0dXJl", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_0__thought__c2lnbmF0dXJl", "content": "{\"temp_c\": 18}"},
                {"role": "tool", "tool_call_id": "call_0__thought__c2lnbmF0dXJl", "content": "sunny"}
            ]
        }));
        let declaration = &body["tools"][0]["functionDeclarations"][0];
        assert_eq!(declaration["name"], "get_weather");
        assert_eq!(
            declaration["parametersJsonSchema"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(
            body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
        );
        let contents = body["contents"].as_array().unwrap();
        assert_eq!(
            contents[1]["parts"][0]["functionCall"],
            json!({"name": "get_weather", "args": {"city": "Paris"}})
        );
        assert_eq!(contents[1]["parts"][0]["thoughtSignature"], "c2lnbmF0dXJl");
        // Both results merge into one user turn; a plain-text result is wrapped in an object.
        assert_eq!(
            contents[2]["parts"][0]["functionResponse"],
            json!({"name": "get_weather", "response": {"temp_c": 18}})
        );
        assert_eq!(
            contents[2]["parts"][1]["functionResponse"]["response"],
            json!({"content": "sunny"})
        );
    }

    #[test]
    fn refuses_orphan_tool_results_and_foreign_tools() {
        let Value::Object(orphan) = json!({"model": "g", "messages": [
            {"role": "tool", "tool_call_id": "nope", "content": "x"}]})
        else {
            unreachable!()
        };
        assert!(matches!(
            to_generate_content(orphan),
            Err(ApiError::BadRequest {
                param: Some("messages"),
                ..
            })
        ));
        let Value::Object(foreign) = json!({"model": "g", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search"}]})
        else {
            unreachable!()
        };
        assert!(matches!(
            to_generate_content(foreign),
            Err(ApiError::BadRequest {
                param: Some("tools"),
                ..
            })
        ));
    }

    #[test]
    fn provider_side_files_are_refused_unless_allowed() {
        let with = |part: Value| {
            json!({ "messages": [{ "role": "user", "content": [part] }] })
                .as_object()
                .unwrap()
                .clone()
        };
        for reference in [
            json!({"type": "image_url", "image_url": {"url": "gs://other-tenant/secret.png"}}),
            json!({"type": "image_url", "image_url": "files/abc123"}),
            json!({"type": "file", "file": {"file_id": "files/abc123"}}),
            json!({"type": "image_url", "image_url": {"url": "https://storage.googleapis.com/b/o.png"}}),
            json!({"type": "image_url", "image_url": {"url": "https://storage.googleapis.com./b/o.png"}}),
        ] {
            assert!(
                refuse_file_references(&with(reference.clone())).is_err(),
                "{reference}"
            );
        }
        for public in [
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}),
            json!({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}),
            json!({"type": "text", "text": "gs://just/text"}),
        ] {
            assert!(
                refuse_file_references(&with(public.clone())).is_ok(),
                "{public}"
            );
        }
    }
}
