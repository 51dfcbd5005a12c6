//! The mock's OpenAI API: chat completions (`chat.completion`, `chat.completion.chunk` SSE,
//! `stream_options.include_usage`, tool calls), embeddings, and OpenAI error bodies.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{
    hang, mock_vector, paced_sse, tool_arguments, with_retry_after, Behaviour, MockRecord,
    StreamPlan, PROMPT_TOKENS_PER_MESSAGE, REPLY_WORDS,
};
use axum::http::header;

#[derive(Deserialize)]
struct MockRequest {
    model: String,
    #[serde(default)]
    messages: Vec<MessageProbe>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Vec<ToolProbe>,
}

#[derive(Deserialize)]
struct MessageProbe {
    role: Option<String>,
}

#[derive(Deserialize)]
struct ToolProbe {
    function: FunctionProbe,
}

#[derive(Deserialize)]
struct FunctionProbe {
    name: String,
    parameters: Option<serde_json::Value>,
}

impl MockRequest {
    /// `(name, arguments)` of a call of the first tool, unless the last message answers one.
    fn tool_call(&self) -> Option<(String, String)> {
        let tool = self.tools.first()?;
        if self.messages.last()?.role.as_deref() == Some("tool") {
            return None;
        }
        let arguments = tool
            .function
            .parameters
            .as_ref()
            .map(tool_arguments)
            .unwrap_or_default();
        Some((
            tool.function.name.clone(),
            serde_json::Value::Object(arguments).to_string(),
        ))
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The request body fields OpenAI's `/v1/chat/completions` knows (its API reference).
const CHAT_ARGUMENTS: [&str; 35] = [
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "messages",
    "metadata",
    "modalities",
    "model",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

/// The first field OpenAI would refuse as it does: 400, "Unrecognized request argument
/// supplied: X". Models named as OpenAI's own (`gpt-…`) are refused so; the mock's own models
/// take any field, as OpenAI-compatible servers (vLLM) do.
fn unrecognized_argument(body: &[u8]) -> Option<String> {
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    fields
        .into_iter()
        .map(|(name, _)| name)
        .find(|name| !CHAT_ARGUMENTS.contains(&name.as_str()))
}

pub(super) fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })),
    )
        .into_response()
}

pub async fn chat_completions(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record.remember(&headers, &body);
    if let Some(scripted) = record.scripted().await {
        return scripted;
    }
    let Ok(request) = serde_json::from_slice::<MockRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: invalid JSON body",
            "invalid_request_error",
        );
    };
    if let Some(unknown) = request
        .model
        .starts_with("gpt-")
        .then(|| unrecognized_argument(&body))
        .flatten()
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Unrecognized request argument supplied: {unknown}"),
            "invalid_request_error",
        );
    }
    let prompt_tokens = PROMPT_TOKENS_PER_MESSAGE * request.messages.len() as u64;
    match Behaviour::of(&request.model) {
        Behaviour::Fail500 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock internal failure: db password hunter2 in stack trace",
            "server_error",
        ),
        Behaviour::Fail429 => with_retry_after(error(
            StatusCode::TOO_MANY_REQUESTS,
            "mock: slow down",
            "rate_limit_error",
        )),
        Behaviour::Fail400 => error(
            StatusCode::BAD_REQUEST,
            "mock: max_tokens is too large for this model",
            "invalid_request_error",
        ),
        Behaviour::Hang => hang().await,
        Behaviour::Reply(plan) if request.stream => {
            let include_usage = request
                .stream_options
                .as_ref()
                .is_some_and(|options| options.include_usage);
            stream_response(
                &request.model,
                prompt_tokens,
                include_usage,
                plan,
                request.tool_call(),
            )
        }
        Behaviour::Reply(_) => {
            completion_response(&request.model, prompt_tokens, request.tool_call())
        }
    }
}

fn completion_response(
    model: &str,
    prompt_tokens: u64,
    tool_call: Option<(String, String)>,
) -> Response {
    let completion_tokens = REPLY_WORDS.len() as u64;
    let (message, finish_reason) = match tool_call {
        Some((name, arguments)) => (
            json!({ "role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                "id": "call_mock_1", "type": "function",
                "function": { "name": name, "arguments": arguments } }] }),
            "tool_calls",
        ),
        None => (
            json!({ "role": "assistant", "content": REPLY_WORDS.concat(), "refusal": null }),
            "stop",
        ),
    };
    let body = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn chunk(model: &str, delta: serde_json::Value, finish: Option<&str>) -> Bytes {
    let body = json!({
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_764_000_000,
        "model": model, "system_fingerprint": "fp_mock",
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
    });
    Bytes::from(format!("data: {body}\n\n"))
}

fn stream_response(
    model: &str,
    prompt_tokens: u64,
    include_usage: bool,
    plan: StreamPlan,
    tool_call: Option<(String, String)>,
) -> Response {
    let StreamPlan { words, pause, cut } = plan;
    let completion_tokens = words.len() as u64;
    let mut frames = vec![chunk(
        model,
        json!({ "role": "assistant", "content": "" }),
        None,
    )];
    frames.extend(
        words
            .iter()
            .map(|word| chunk(model, json!({ "content": word }), None)),
    );
    if !cut {
        let finish_reason = match tool_call {
            Some((name, arguments)) => {
                frames.push(chunk(
                    model,
                    json!({ "tool_calls": [{ "index": 0, "id": "call_mock_1", "type": "function",
                        "function": { "name": name, "arguments": "" } }] }),
                    None,
                ));
                let middle = (arguments.len() / 2..arguments.len())
                    .find(|index| arguments.is_char_boundary(*index))
                    .unwrap_or(arguments.len());
                for piece in [&arguments[..middle], &arguments[middle..]] {
                    frames.push(chunk(
                        model,
                        json!({ "tool_calls": [{ "index": 0, "function": { "arguments": piece } }] }),
                        None,
                    ));
                }
                "tool_calls"
            }
            None => "stop",
        };
        frames.push(chunk(model, json!({}), Some(finish_reason)));
        if include_usage {
            let usage = json!({
                "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_764_000_000,
                "model": model, "choices": [],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            });
            frames.push(Bytes::from(format!("data: {usage}\n\n")));
        }
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    paced_sse(frames, pause, cut)
}

#[derive(Deserialize)]
struct EmbeddingsProbe {
    model: String,
    input: serde_json::Value,
    dimensions: Option<usize>,
}

/// `POST /v1/embeddings`: one deterministic vector per input (8 dimensions unless `dimensions`
/// says otherwise), 10 prompt tokens per input.
pub async fn embeddings(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record.remember(&headers, &body);
    let Ok(request) = serde_json::from_slice::<EmbeddingsProbe>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: invalid embeddings request",
            "invalid_request_error",
        );
    };
    if let Behaviour::Fail500 = Behaviour::of(&request.model) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock internal failure",
            "server_error",
        );
    }
    // One input: a string or one token array; several: an array of those.
    let inputs: Vec<String> = match &request.input {
        serde_json::Value::Array(items) if !items.iter().all(serde_json::Value::is_u64) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_string)
            })
            .collect(),
        serde_json::Value::String(text) => vec![text.clone()],
        other => vec![other.to_string()],
    };
    let dimensions = request.dimensions.unwrap_or(8);
    let data: Vec<serde_json::Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            json!({ "object": "embedding", "index": index,
                    "embedding": mock_vector(input, dimensions) })
        })
        .collect();
    let prompt_tokens = PROMPT_TOKENS_PER_MESSAGE * inputs.len() as u64;
    Json(json!({
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": { "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens },
    }))
    .into_response()
}
