//! Reading an OpenAI chat request in the adapters that translate it: messages by role, tool
//! calls with parsed arguments, content as parts, stop sequences, and merging into the
//! alternating user/assistant turns that Anthropic, Gemini and Bedrock require.

use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::{invalid_request as invalid, ChatBody};

/// One OpenAI chat message, by role.
pub enum Turn {
    /// A `system` or `developer` message's content.
    System(Option<Value>),
    User(Option<Value>),
    Assistant {
        content: Option<Value>,
        tool_calls: Vec<ToolCall>,
    },
    /// A `tool` message: the call it answers, the function name if given, and its content.
    Tool {
        call_id: String,
        name: Option<String>,
        content: Option<Value>,
    },
}

/// An assistant's tool call with its arguments parsed.
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// The request's messages by role; `provider` names the API in refusals.
pub fn turns(request: &mut ChatBody, provider: &str) -> Result<Vec<Turn>, ApiError> {
    let Some(Value::Array(messages)) = request.remove("messages") else {
        return Err(invalid("`messages` must be an array.", "messages"));
    };
    messages
        .into_iter()
        .map(|message| {
            let Value::Object(mut message) = message else {
                return Err(invalid("Each message must be an object.", "messages"));
            };
            let content = message
                .remove("content")
                .filter(|content| !content.is_null());
            match message.get("role").and_then(Value::as_str) {
                Some("system" | "developer") => Ok(Turn::System(content)),
                Some("user") => Ok(Turn::User(content)),
                Some("assistant") => Ok(Turn::Assistant {
                    content,
                    tool_calls: tool_calls(&mut message)?,
                }),
                Some("tool") => {
                    let Some(Value::String(call_id)) = message.remove("tool_call_id") else {
                        return Err(invalid("A tool message needs `tool_call_id`.", "messages"));
                    };
                    let name = message
                        .remove("name")
                        .and_then(|name| name.as_str().map(str::to_string));
                    Ok(Turn::Tool {
                        call_id,
                        name,
                        content,
                    })
                }
                other => Err(invalid(
                    format!(
                        "{provider} models do not accept messages with role `{}`.",
                        other.unwrap_or_default()
                    ),
                    "messages",
                )),
            }
        })
        .collect()
}

fn tool_calls(message: &mut Map<String, Value>) -> Result<Vec<ToolCall>, ApiError> {
    let Some(Value::Array(calls)) = message.remove("tool_calls") else {
        return Ok(Vec::new());
    };
    calls
        .into_iter()
        .map(|call| {
            let (Some(id), Some(name)) = (call["id"].as_str(), call["function"]["name"].as_str())
            else {
                return Err(invalid(
                    "Each assistant tool call needs an `id` and `function.name`.",
                    "messages",
                ));
            };
            let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
            let arguments = if arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(arguments).map_err(|_| {
                    invalid(
                        format!("The arguments of tool call `{id}` are not valid JSON."),
                        "messages",
                    )
                })?
            };
            Ok(ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments,
            })
        })
        .collect()
}

/// A message's content as OpenAI content parts (a string is one text part); empty text is
/// dropped, since the alternating-turn APIs refuse empty text blocks.
pub fn content_parts(content: Option<Value>) -> Result<Vec<Value>, ApiError> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({ "type": "text", "text": text })]),
        Some(Value::Array(parts)) => Ok(parts
            .into_iter()
            .filter(|part| part["type"] != "text" || part["text"] != "")
            .collect()),
        Some(_) => Err(invalid(
            "A message's `content` must be a string or an array of parts.",
            "messages",
        )),
    }
}

/// The text of a content value: the string, or its text parts joined.
pub fn text_of(content: Option<Value>) -> String {
    match content {
        Some(Value::String(text)) => text,
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// OpenAI's `stop` (a string or a list) as a list, if any.
pub fn stop_sequences(request: &mut ChatBody) -> Option<Value> {
    match request.remove("stop") {
        Some(Value::String(stop)) => Some(json!([stop])),
        Some(Value::Array(stops)) if !stops.is_empty() => Some(Value::Array(stops)),
        _ => None,
    }
}

/// Appends a turn's blocks under `key`, merged into the previous turn when it has the same role
/// (consecutive user messages, or tool results and the user message after them). Empty turns
/// are skipped.
pub fn push_turn(turns: &mut Vec<Value>, role: &str, key: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last["role"] == role => {
            if let Some(Value::Array(existing)) = last.get_mut(key) {
                existing.extend(blocks);
            }
        }
        _ => turns.push(json!({ "role": role, key: blocks })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> ChatBody {
        let Value::Object(map) = value else {
            unreachable!()
        };
        map
    }

    #[test]
    fn reads_messages_by_role() {
        let mut request = body(json!({"stop": "END", "messages": [
            {"role": "developer", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "name": "f", "content": [{"type": "text", "text": "o"}, {"type": "text", "text": "k"}]}
        ]}));
        let turns = turns(&mut request, "Test").unwrap();
        assert!(matches!(&turns[0], Turn::System(Some(Value::String(text))) if text == "sys"));
        let Turn::User(content) = &turns[1] else {
            panic!()
        };
        assert_eq!(content_parts(content.clone()).unwrap().len(), 1);
        let Turn::Assistant {
            content,
            tool_calls,
        } = &turns[2]
        else {
            panic!()
        };
        assert!(content.is_none());
        assert_eq!(tool_calls[0].arguments, json!({"a": 1}));
        let Turn::Tool {
            call_id,
            name,
            content,
        } = &turns[3]
        else {
            panic!()
        };
        assert_eq!((call_id.as_str(), name.as_deref()), ("c1", Some("f")));
        assert_eq!(text_of(content.clone()), "ok");
        assert_eq!(stop_sequences(&mut request), Some(json!(["END"])));
    }

    #[test]
    fn refuses_malformed_messages() {
        for messages in [
            json!([{"role": "function", "content": "x"}]),
            json!([{"role": "tool", "content": "x"}]),
            json!([{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}]),
            json!([{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]),
            json!(["not an object"]),
        ] {
            let mut request = body(json!({ "messages": messages }));
            assert!(
                matches!(
                    turns(&mut request, "Test"),
                    Err(ApiError::BadRequest {
                        param: Some("messages"),
                        ..
                    })
                ),
                "{messages}"
            );
        }
        assert!(content_parts(Some(json!(5))).is_err());
    }

    #[test]
    fn merges_turns_of_the_same_role() {
        let mut merged = Vec::new();
        push_turn(&mut merged, "user", "parts", vec![json!(1)]);
        push_turn(&mut merged, "user", "parts", vec![json!(2)]);
        push_turn(&mut merged, "model", "parts", Vec::new());
        push_turn(&mut merged, "model", "parts", vec![json!(3)]);
        assert_eq!(
            merged,
            vec![
                json!({"role": "user", "parts": [1, 2]}),
                json!({"role": "model", "parts": [3]})
            ]
        );
    }
}
