//! The mock's Anthropic Messages API, after Anthropic's API reference: the `x-api-key` and
//! `anthropic-version` headers required, unknown fields refused as the real API refuses them,
//! `tool_use` replies when tools are offered, the documented event stream, and Anthropic's
//! error bodies (`{"type":"error","error":{"type","message"}}`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{
    hang, paced_sse, tool_arguments, with_retry_after, Behaviour, MockRecord, StreamPlan,
    PROMPT_TOKENS_PER_MESSAGE,
};

/// Top-level request fields the Messages API accepts.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_k",
    "top_p",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
];

/// Cache counts `mock-cached` reports.
const CACHE_READ_TOKENS: u64 = 1_000;
const CACHE_WRITE_TOKENS: u64 = 200;

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "type": "error", "error": { "type": kind, "message": message } })),
    )
        .into_response()
}

/// A Messages API request's JSON object, once its headers pass as Anthropic checks them
/// (`x-api-key`, `anthropic-version`); the refusal otherwise. Every request is remembered.
fn authenticated_request(
    record: &MockRecord,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, Box<Response>> {
    record.remember(headers, body);
    if headers.get("x-api-key").is_none_or(|key| key.is_empty()) {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
        )));
    }
    if headers.get("anthropic-version").is_none() {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(request)) => Ok(request),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "mock: invalid JSON body",
        ))),
    }
}

/// Fields `/v1/messages/count_tokens` accepts (Anthropic's API reference).
const COUNT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
];

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, counted as `messages` bills them
/// (`PROMPT_TOKENS_PER_MESSAGE` per message), with the same headers required.
pub async fn count_tokens(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match authenticated_request(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    if let Some(field) = request
        .keys()
        .find(|field| !COUNT_FIELDS.contains(&field.as_str()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("{field}: Extra inputs are not permitted"),
        );
    }
    let Some(Value::Array(messages)) = request.get("messages") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages: Field required",
        );
    };
    Json(json!({ "input_tokens": PROMPT_TOKENS_PER_MESSAGE * messages.len() as u64 }))
        .into_response()
}

pub async fn messages(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match authenticated_request(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    if let Some(problem) = validate(&request) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &problem);
    }
    let model = request["model"].as_str().unwrap_or_default().to_string();
    let messages = request["messages"].as_array().map_or(0, Vec::len) as u64;
    let usage = Usage {
        input: PROMPT_TOKENS_PER_MESSAGE * messages,
        cached: model == "mock-cached",
    };
    match Behaviour::of(&model) {
        Behaviour::Fail500 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "mock internal failure: db password hunter2 in stack trace",
        ),
        Behaviour::Fail429 => with_retry_after(error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "mock: slow down",
        )),
        Behaviour::Fail400 => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "mock: prompt is too long",
        ),
        Behaviour::Hang => hang().await,
        Behaviour::Reply(mut plan) => {
            let tool = offered_tool(&request);
            // A forced tool call comes without text before it.
            let forced = matches!(
                request
                    .get("tool_choice")
                    .and_then(|choice| choice["type"].as_str()),
                Some("tool" | "any")
            );
            if forced && tool.is_some() {
                plan.words.clear();
            }
            if request.get("stream") == Some(&Value::Bool(true)) {
                stream(&model, plan, tool, usage)
            } else {
                let thinking = request
                    .get("thinking")
                    .is_some_and(|thinking| thinking["type"] == "enabled");
                message(&model, &plan.words.concat(), tool, thinking, usage)
            }
        }
    }
}

fn validate(request: &Map<String, Value>) -> Option<String> {
    if let Some(extra) = request
        .keys()
        .find(|key| !KNOWN_FIELDS.contains(&key.as_str()))
    {
        return Some(format!("{extra}: Extra inputs are not permitted"));
    }
    if !request.get("model").is_some_and(Value::is_string) {
        return Some("model: Field required".into());
    }
    if !request.get("max_tokens").is_some_and(Value::is_u64) {
        return Some("max_tokens: Field required".into());
    }
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return Some("messages: Field required".into());
    };
    for (index, message) in messages.iter().enumerate() {
        match message["role"].as_str() {
            Some("user" | "assistant") => {}
            _ => {
                return Some(format!(
                    "messages.{index}.role: Input should be 'user' or 'assistant'"
                ))
            }
        }
        // Earlier thinking must come back with its signature, as the real API checks.
        let blocks = message["content"].as_array().map_or(&[][..], Vec::as_slice);
        for (block_index, block) in blocks.iter().enumerate() {
            if block["type"] == "thinking" && !block["signature"].is_string() {
                return Some(format!(
                    "messages.{index}.content.{block_index}.thinking.signature: Field required"
                ));
            }
        }
    }
    None
}

/// The tool to call: the first one offered, unless the conversation already holds its result.
fn offered_tool(request: &Map<String, Value>) -> Option<(String, Value)> {
    let tool = request.get("tools")?.as_array()?.first()?;
    let answered = request["messages"]
        .as_array()?
        .last()?
        .get("content")?
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|block| block["type"] == "tool_result"));
    if answered {
        return None;
    }
    let input = tool_arguments(&tool["input_schema"]);
    Some((tool["name"].as_str()?.to_string(), Value::Object(input)))
}

struct Usage {
    input: u64,
    cached: bool,
}

impl Usage {
    fn json(&self, output: u64) -> Value {
        let (read, written) = if self.cached {
            (CACHE_READ_TOKENS, CACHE_WRITE_TOKENS)
        } else {
            (0, 0)
        };
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": output,
        })
    }
}

/// The signed thinking block of a reply to a request with `thinking` enabled.
pub const MOCK_THINKING_SIGNATURE: &str = "mock-thinking-signature-EqQBCgIYAhIM";

fn message(
    model: &str,
    text: &str,
    tool: Option<(String, Value)>,
    thinking: bool,
    usage: Usage,
) -> Response {
    let mut content = Vec::new();
    if thinking {
        content.push(
            json!({ "type": "thinking", "thinking": "The user greets me; greet back.",
                             "signature": MOCK_THINKING_SIGNATURE }),
        );
    }
    if !text.is_empty() {
        content.push(json!({ "type": "text", "text": text }));
    }
    let words = text.split_inclusive(' ').count() as u64;
    let stop_reason = match tool {
        Some((name, input)) => {
            content.push(
                json!({ "type": "tool_use", "id": "toolu_mock_1", "name": name, "input": input }),
            );
            "tool_use"
        }
        None => "end_turn",
    };
    Json(json!({
        "id": "msg_mock_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage.json(words),
    }))
    .into_response()
}

fn event(kind: &str, data: Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

fn stream(model: &str, plan: StreamPlan, tool: Option<(String, Value)>, usage: Usage) -> Response {
    let StreamPlan { words, pause, cut } = plan;
    let mut frames = vec![
        event(
            "message_start",
            json!({ "type": "message_start", "message": {
                "id": "msg_mock_1", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage.json(1),
            }}),
        ),
        event("ping", json!({ "type": "ping" })),
    ];
    let has_text = !words.is_empty();
    if has_text {
        frames.insert(
            1,
            event(
                "content_block_start",
                json!({ "type": "content_block_start", "index": 0,
                        "content_block": { "type": "text", "text": "" } }),
            ),
        );
    }
    frames.extend(words.iter().map(|word| {
        event(
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0,
                    "delta": { "type": "text_delta", "text": word } }),
        )
    }));
    if !cut {
        if has_text {
            frames.push(event(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": 0 }),
            ));
        }
        let tool_index = u64::from(has_text);
        let stop_reason = match tool {
            Some((name, input)) => {
                frames.push(event(
                    "content_block_start",
                    json!({ "type": "content_block_start", "index": tool_index, "content_block": {
                        "type": "tool_use", "id": "toolu_mock_1", "name": name, "input": {} } }),
                ));
                let arguments = input.to_string();
                let middle = arguments.len() / 2;
                let (first, second) = arguments.split_at(
                    (middle..arguments.len())
                        .find(|index| arguments.is_char_boundary(*index))
                        .unwrap_or(arguments.len()),
                );
                for piece in ["", first, second] {
                    frames.push(event(
                        "content_block_delta",
                        json!({ "type": "content_block_delta", "index": tool_index,
                                "delta": { "type": "input_json_delta", "partial_json": piece } }),
                    ));
                }
                frames.push(event(
                    "content_block_stop",
                    json!({ "type": "content_block_stop", "index": tool_index }),
                ));
                "tool_use"
            }
            None => "end_turn",
        };
        frames.push(event(
            "message_delta",
            json!({ "type": "message_delta",
                    "delta": { "stop_reason": stop_reason, "stop_sequence": null },
                    "usage": { "output_tokens": words.len() } }),
        ));
        frames.push(event("message_stop", json!({ "type": "message_stop" })));
    }
    paced_sse(frames, pause, cut)
}
