//! OpenAI chat request → Cohere v2 chat request: messages and function tools keep their shape
//! (Cohere's v2 format follows OpenAI's), sampling fields are renamed, `tool_choice` and
//! `response_format` take Cohere's spellings, and fields Cohere refuses are dropped.

use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::{invalid_request as invalid, ChatBody};
use crate::providers::chat_request::stop_sequences;

/// Message fields Cohere accepts.
const MESSAGE_FIELDS: &[&str] = &["role", "content", "tool_calls", "tool_call_id", "tool_plan"];

pub fn to_cohere_chat(mut request: ChatBody, stream: bool) -> Result<Value, ApiError> {
    let mut body = Map::new();
    body.insert(
        "model".into(),
        request.remove("model").unwrap_or(Value::Null),
    );
    let Some(Value::Array(messages)) = request.remove("messages") else {
        return Err(invalid("`messages` must be an array.", "messages"));
    };
    let messages = messages
        .into_iter()
        .map(|message| match message {
            Value::Object(mut message) => {
                if message.get("role").and_then(Value::as_str) == Some("developer") {
                    message.insert("role".into(), json!("system"));
                }
                message.retain(|field, value| {
                    MESSAGE_FIELDS.contains(&field.as_str()) && !value.is_null()
                });
                Ok(Value::Object(message))
            }
            _ => Err(invalid("Each message must be an object.", "messages")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    body.insert("messages".into(), Value::Array(messages));
    for (openai, cohere) in [
        ("max_completion_tokens", "max_tokens"),
        ("max_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "p"),
        ("top_k", "k"),
        ("seed", "seed"),
        ("frequency_penalty", "frequency_penalty"),
        ("presence_penalty", "presence_penalty"),
        ("tools", "tools"),
    ] {
        if let Some(value) = request.remove(openai).filter(|value| !value.is_null()) {
            body.entry(cohere).or_insert(value);
        }
    }
    if let Some(stops) = stop_sequences(&mut request) {
        body.insert("stop_sequences".into(), stops);
    }
    match request.remove("tool_choice") {
        None | Some(Value::Null) => {}
        Some(Value::String(choice)) => match choice.as_str() {
            "auto" => {}
            "required" => {
                body.insert("tool_choice".into(), json!("REQUIRED"));
            }
            "none" => {
                body.insert("tool_choice".into(), json!("NONE"));
            }
            other => {
                return Err(invalid(
                    format!("Unknown `tool_choice` `{other}`."),
                    "tool_choice",
                ))
            }
        },
        Some(_) => {
            return Err(invalid(
                "Cohere models cannot be made to call one named tool; use `required`.",
                "tool_choice",
            ))
        }
    }
    if let Some(format) = request.remove("response_format") {
        match format["type"].as_str() {
            Some("json_object") => {
                body.insert("response_format".into(), json!({ "type": "json_object" }));
            }
            Some("json_schema") => {
                body.insert(
                    "response_format".into(),
                    json!({ "type": "json_object", "json_schema": format["json_schema"]["schema"] }),
                );
            }
            _ => {}
        }
    }
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_messages_and_tools_and_renames_the_rest() {
        let Value::Object(request) = json!({
            "model": "command-a-03-2025", "top_p": 0.9, "max_tokens": 50, "stop": "END",
            "user": "u", "logit_bias": {}, "tool_choice": "required",
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "hi", "name": "alice"},
                {"role": "assistant", "content": null, "refusal": null,
                 "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}
            ]
        }) else {
            unreachable!()
        };
        let body = to_cohere_chat(request, true).unwrap();
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            body["messages"][1],
            json!({"role": "user", "content": "hi"})
        );
        assert!(body["messages"][2].get("content").is_none());
        assert_eq!(body["messages"][3]["tool_call_id"], "c1");
        assert_eq!(body["p"], 0.9);
        assert_eq!(body["max_tokens"], 50);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(body["tool_choice"], "REQUIRED");
        assert_eq!(body["tools"][0]["function"]["name"], "f");
        assert_eq!(
            body["response_format"],
            json!({"type": "json_object", "json_schema": {"type": "object"}})
        );
        assert_eq!(body["stream"], true);
        assert!(body.get("user").is_none() && body.get("logit_bias").is_none());
    }
}
