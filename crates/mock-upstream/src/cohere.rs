//! The mock's Cohere v2 API, after Cohere's reference: `/v2/chat` (tool calls when tools are
//! offered, typed SSE events ending with `data: [DONE]`, billed units in the usage) and
//! `/v2/embed` (float embeddings by type).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{
    hang, mock_vector, paced_sse, ranked, tool_arguments, with_retry_after, Behaviour, MockRecord,
    StreamPlan, PROMPT_TOKENS_PER_MESSAGE,
};

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "id": "mock-error", "message": message })),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer ") && value.len() > 7)
}

fn usage(input: u64, output: u64) -> Value {
    json!({
        "billed_units": { "input_tokens": input, "output_tokens": output },
        "tokens": { "input_tokens": input + 100, "output_tokens": output + 2 },
    })
}

/// A call of the first offered tool, unless the last message is a tool result.
fn offered_tool(request: &Map<String, Value>) -> Option<(String, String)> {
    let tool = request.get("tools")?.get(0)?;
    if request["messages"].as_array()?.last()?["role"] == "tool" {
        return None;
    }
    let arguments = tool_arguments(&tool["function"]["parameters"]);
    Some((
        tool["function"]["name"].as_str()?.to_string(),
        Value::Object(arguments).to_string(),
    ))
}

pub async fn chat(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record.remember(&headers, &body);
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "no api key supplied");
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: body must be a JSON object",
        );
    };
    let Some(messages) = request
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: messages must not be empty",
        );
    };
    let input = PROMPT_TOKENS_PER_MESSAGE * messages.len() as u64;
    let model = request["model"].as_str().unwrap_or_default().to_string();
    match Behaviour::of(&model) {
        Behaviour::Fail500 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock internal failure: db password hunter2 in stack trace",
        ),
        Behaviour::Fail429 => with_retry_after(error(
            StatusCode::TOO_MANY_REQUESTS,
            "You are using a Trial key",
        )),
        Behaviour::Fail400 => error(StatusCode::BAD_REQUEST, "invalid request: too many tokens"),
        Behaviour::Hang => hang().await,
        Behaviour::Reply(plan) => {
            let tool = offered_tool(&request);
            if request.get("stream") == Some(&Value::Bool(true)) {
                stream(plan, tool, input)
            } else {
                let output = plan.words.len() as u64;
                let (message, finish) = match tool {
                    Some((name, arguments)) => (
                        json!({ "role": "assistant", "tool_plan": "I will call the tool.",
                                "tool_calls": [{ "id": "call_mock_1", "type": "function",
                                                 "function": { "name": name, "arguments": arguments } }] }),
                        "TOOL_CALL",
                    ),
                    None => (
                        json!({ "role": "assistant", "content": [{ "type": "text", "text": plan.words.concat() }] }),
                        "COMPLETE",
                    ),
                };
                Json(
                    json!({ "id": "mock-cohere-1", "message": message, "finish_reason": finish,
                             "usage": usage(input, output) }),
                )
                .into_response()
            }
        }
    }
}

fn event(data: Value) -> Bytes {
    Bytes::from(format!(
        "event: {}\ndata: {data}\n\n",
        data["type"].as_str().unwrap_or_default()
    ))
}

fn stream(plan: StreamPlan, tool: Option<(String, String)>, input: u64) -> Response {
    let StreamPlan { words, pause, cut } = plan;
    let mut frames = vec![
        event(json!({ "id": "mock-cohere-1", "type": "message-start",
                      "delta": { "message": { "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [] } } })),
        event(json!({ "type": "content-start", "index": 0,
                      "delta": { "message": { "content": { "type": "text", "text": "" } } } })),
    ];
    frames.extend(words.iter().map(|word| {
        event(json!({ "type": "content-delta", "index": 0,
                      "delta": { "message": { "content": { "text": word } } } }))
    }));
    if !cut {
        frames.push(event(json!({ "type": "content-end", "index": 0 })));
        let finish = match tool {
            Some((name, arguments)) => {
                frames.push(event(
                    json!({ "type": "tool-call-start", "index": 0, "delta": { "message": {
                    "tool_calls": { "id": "call_mock_1", "type": "function",
                                    "function": { "name": name, "arguments": "" } } } } }),
                ));
                frames.push(event(
                    json!({ "type": "tool-call-delta", "index": 0, "delta": { "message": {
                    "tool_calls": { "function": { "arguments": arguments } } } } }),
                ));
                frames.push(event(json!({ "type": "tool-call-end", "index": 0 })));
                "TOOL_CALL"
            }
            None => "COMPLETE",
        };
        frames.push(event(json!({ "type": "message-end",
            "delta": { "finish_reason": finish, "usage": usage(input, words.len() as u64) } })));
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    paced_sse(frames, pause, cut)
}

pub async fn embed(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record.remember(&headers, &body);
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "no api key supplied");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: body must be JSON",
        );
    };
    let Some(texts) = request["texts"]
        .as_array()
        .filter(|texts| !texts.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: texts must not be empty",
        );
    };
    if request["embedding_types"] != json!(["float"]) {
        return error(StatusCode::BAD_REQUEST, "mock: only float embeddings");
    }
    let dimensions = request["output_dimension"].as_u64().unwrap_or(8) as usize;
    let vectors: Vec<Vec<f64>> = texts
        .iter()
        .map(|text| mock_vector(text.as_str().unwrap_or_default(), dimensions))
        .collect();
    Json(json!({
        "id": "mock-embed-1",
        "embeddings": { "float": vectors },
        "texts": texts,
        "meta": { "api_version": { "version": "2" },
                  "billed_units": { "input_tokens": PROMPT_TOKENS_PER_MESSAGE * texts.len() as u64 } },
        "response_type": "embeddings_by_type",
    }))
    .into_response()
}

/// `/v2/rerank`: documents scored by how many query words they contain, best first, one search
/// unit billed.
pub async fn rerank(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record.remember(&headers, &body);
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "no api key supplied");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: body must be JSON",
        );
    };
    if let Behaviour::Fail400 = Behaviour::of(request["model"].as_str().unwrap_or_default()) {
        return error(StatusCode::BAD_REQUEST, "mock: too many documents");
    }
    let (Some(query), Some(documents)) =
        (request["query"].as_str(), request["documents"].as_array())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: query and documents are required",
        );
    };
    let results = ranked(query, documents, request["top_n"].as_u64());
    Json(json!({
        "id": "mock-rerank-1",
        "results": results
            .into_iter()
            .map(|(index, score)| json!({ "index": index, "relevance_score": score }))
            .collect::<Vec<_>>(),
        "meta": { "api_version": { "version": "2", "is_experimental": false },
                  "billed_units": { "search_units": 1 } },
    }))
    .into_response()
}
