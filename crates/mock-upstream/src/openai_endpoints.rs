//! The mock's OpenAI endpoints beyond chat, after OpenAI's API reference: legacy completions
//! (whole and streamed), the Responses API (whole and its typed event stream, with function
//! calls), moderations, image generation (URLs, base64, token usage for `gpt-image-*`), speech
//! (streamed audio bytes) and transcription (multipart upload; usage in seconds).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::openai::error;
use super::{
    hang, paced, paced_sse, ranked, tool_arguments, with_retry_after, Behaviour, MockRecord,
    REPLY_WORDS,
};

/// Prompt tokens the mock reports per prompt or input item.
const PROMPT_TOKENS: u64 = 10;
/// Bytes of uploaded audio the mock counts as one second (16 kHz, 16-bit mono).
pub const AUDIO_BYTES_PER_SECOND: usize = 32_000;
/// Times the speech mock repeats the input in its "audio".
pub const SPEECH_REPEATS: usize = 1_000;

/// The bytes the speech mock returns for `input`: an ID3 tag, then the input repeated.
pub fn speech_bytes(input: &str) -> Vec<u8> {
    let mut audio = b"ID3".to_vec();
    for _ in 0..SPEECH_REPEATS {
        audio.extend_from_slice(input.as_bytes());
    }
    audio
}

/// Answers a model id's failure behaviour, or `None` to reply normally.
async fn failure(model: &str) -> Option<Response> {
    match Behaviour::of(model) {
        Behaviour::Fail500 => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock internal failure: db password hunter2 in stack trace",
            "server_error",
        )),
        Behaviour::Fail429 => Some(with_retry_after(error(
            StatusCode::TOO_MANY_REQUESTS,
            "mock: slow down",
            "rate_limit_error",
        ))),
        Behaviour::Fail400 => Some(error(
            StatusCode::BAD_REQUEST,
            "mock: the prompt was rejected",
            "invalid_request_error",
        )),
        Behaviour::Hang => Some(hang().await),
        Behaviour::Reply(_) => None,
    }
}

fn read_json(
    record: &MockRecord,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, Box<Response>> {
    record.remember(headers, body);
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "mock: invalid JSON body",
            "invalid_request_error",
        ))),
    }
}

pub async fn completions(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match read_json(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if let Some(response) = failure(&model).await {
        return response;
    }
    let completion_tokens = REPLY_WORDS.len() as u64;
    let usage = json!({
        "prompt_tokens": PROMPT_TOKENS, "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    });
    let choice = |text: &str, finish: Option<&str>| json!([{ "text": text, "index": 0, "logprobs": null, "finish_reason": finish }]);
    let object = |choices: Value| {
        json!({ "id": "cmpl-mock", "object": "text_completion", "created": 1_764_000_000,
                "model": model, "choices": choices })
    };
    if request["stream"] != true {
        let mut reply = object(choice(&REPLY_WORDS.concat(), Some("stop")));
        reply["usage"] = usage;
        return Json(reply).into_response();
    }
    let mut frames: Vec<Bytes> = REPLY_WORDS
        .iter()
        .enumerate()
        .map(|(index, word)| {
            let finish = (index + 1 == REPLY_WORDS.len()).then_some("stop");
            data(&object(choice(word, finish)))
        })
        .collect();
    if request["stream_options"]["include_usage"] == true {
        let mut last = object(json!([]));
        last["usage"] = usage;
        frames.push(data(&last));
    }
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    paced_sse(frames, Duration::ZERO, false)
}

fn data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// The function the mock calls when tools are offered and the input does not end with a
/// function call's output.
fn responses_tool_call(request: &Value) -> Option<(String, String)> {
    let tool = request["tools"].get(0)?;
    let last_is_output = request["input"]
        .as_array()
        .and_then(|items| items.last())
        .is_some_and(|item| item["type"] == "function_call_output");
    if last_is_output {
        return None;
    }
    let arguments = tool_arguments(&tool["parameters"]);
    Some((
        tool["name"].as_str()?.to_string(),
        Value::Object(arguments).to_string(),
    ))
}

fn response_object(model: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({
        "id": "resp_mock", "object": "response", "created_at": 1_764_000_000, "status": status,
        "background": false, "error": null, "incomplete_details": null, "instructions": null,
        "max_output_tokens": null, "model": model, "output": output, "parallel_tool_calls": true,
        "previous_response_id": null, "reasoning": { "effort": null, "summary": null },
        "store": true, "temperature": 1.0, "text": { "format": { "type": "text" } },
        "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled",
        "usage": usage, "user": null, "metadata": {},
    })
}

pub async fn responses(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match read_json(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if let Some(response) = failure(&model).await {
        return response;
    }
    let items = request["input"].as_array().map_or(1, Vec::len) as u64;
    let output_tokens = REPLY_WORDS.len() as u64;
    let usage = json!({
        "input_tokens": PROMPT_TOKENS * items, "input_tokens_details": { "cached_tokens": 0 },
        "output_tokens": output_tokens, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": PROMPT_TOKENS * items + output_tokens,
    });
    let text = REPLY_WORDS.concat();
    let item = match responses_tool_call(&request) {
        Some((name, arguments)) => json!({
            "id": "fc_mock", "type": "function_call", "status": "completed",
            "call_id": "call_mock_1", "name": name, "arguments": arguments,
        }),
        None => json!({
            "id": "msg_mock", "type": "message", "status": "completed", "role": "assistant",
            "content": [{ "type": "output_text", "annotations": [], "logprobs": [], "text": text }],
        }),
    };
    if request["stream"] != true {
        return Json(response_object(&model, "completed", json!([item]), usage)).into_response();
    }
    let mut events = vec![
        json!({ "type": "response.created", "response": response_object(&model, "in_progress", json!([]), Value::Null) }),
        json!({ "type": "response.in_progress", "response": response_object(&model, "in_progress", json!([]), Value::Null) }),
    ];
    if item["type"] == "message" {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        added["content"] = json!([]);
        events.push(
            json!({ "type": "response.output_item.added", "output_index": 0, "item": added }),
        );
        events.push(json!({ "type": "response.content_part.added", "item_id": "msg_mock", "output_index": 0,
            "content_index": 0, "part": { "type": "output_text", "annotations": [], "logprobs": [], "text": "" } }));
        for word in REPLY_WORDS {
            events.push(json!({ "type": "response.output_text.delta", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "delta": word, "logprobs": [] }));
        }
        events.push(
            json!({ "type": "response.output_text.done", "item_id": "msg_mock", "output_index": 0,
            "content_index": 0, "text": text, "logprobs": [] }),
        );
        events.push(
            json!({ "type": "response.content_part.done", "item_id": "msg_mock", "output_index": 0,
            "content_index": 0, "part": item["content"][0] }),
        );
    } else {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        added["arguments"] = json!("");
        events.push(
            json!({ "type": "response.output_item.added", "output_index": 0, "item": added }),
        );
        events.push(
            json!({ "type": "response.function_call_arguments.delta", "item_id": "fc_mock",
            "output_index": 0, "delta": item["arguments"] }),
        );
        events.push(
            json!({ "type": "response.function_call_arguments.done", "item_id": "fc_mock",
            "output_index": 0, "arguments": item["arguments"] }),
        );
    }
    events.push(json!({ "type": "response.output_item.done", "output_index": 0, "item": item }));
    events.push(json!({ "type": "response.completed", "response": response_object(&model, "completed", json!([item]), usage) }));
    let frames = events
        .into_iter()
        .enumerate()
        .map(|(sequence_number, mut event)| {
            event["sequence_number"] = json!(sequence_number);
            let kind = event["type"].as_str().unwrap_or_default().to_string();
            Bytes::from(format!("event: {kind}\ndata: {event}\n\n"))
        })
        .collect();
    paced_sse(frames, Duration::ZERO, false)
}

/// `/v1/rerank` as the OpenAI-compatible servers serve it (vLLM, Together, Jina, Infinity):
/// Cohere's request, results with their documents, and token usage instead of search units.
pub async fn rerank(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match read_json(&record, &headers, &body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if let Some(response) = failure(request["model"].as_str().unwrap_or_default()).await {
        return response;
    }
    let (Some(query), Some(documents)) = (
        request["query"].as_str(),
        request["documents"]
            .as_array()
            .filter(|documents| !documents.is_empty()),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: query and documents are required",
            "invalid_request_error",
        );
    };
    let results: Vec<Value> = ranked(query, documents, request["top_n"].as_u64())
        .into_iter()
        .map(|(index, score)| {
            let text = documents[index]
                .as_str()
                .or_else(|| documents[index]["text"].as_str());
            json!({ "index": index, "relevance_score": score, "document": { "text": text } })
        })
        .collect();
    let tokens = PROMPT_TOKENS * (1 + documents.len() as u64);
    Json(json!({
        "id": "rerank-mock-1",
        "model": request["model"],
        "results": results,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .into_response()
}

pub async fn moderations(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match read_json(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let inputs: Vec<String> = match &request["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "mock: input is required",
                "invalid_request_error",
            )
        }
    };
    let results: Vec<Value> = inputs
        .iter()
        .map(|text| {
            let violent = text.to_lowercase().contains("kill");
            json!({
                "flagged": violent,
                "categories": { "harassment": false, "hate": false, "self-harm": false,
                                "sexual": false, "violence": violent },
                "category_scores": { "harassment": 0.001, "hate": 0.001, "self-harm": 0.001,
                                     "sexual": 0.001, "violence": if violent { 0.98 } else { 0.002 } },
            })
        })
        .collect();
    Json(json!({ "id": "modr-mock", "model": request["model"].as_str().unwrap_or("omni-moderation-latest"), "results": results }))
        .into_response()
}

pub async fn image_generations(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match read_json(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if let Some(response) = failure(&model).await {
        return response;
    }
    let count = request["n"].as_u64().unwrap_or(1);
    let token_priced = model.starts_with("gpt-image");
    let base64 = token_priced || request["response_format"] == "b64_json";
    let data: Vec<Value> = (0..count)
        .map(|index| {
            if base64 {
                // A 1x1 PNG.
                json!({ "b64_json": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==" })
            } else {
                json!({ "url": format!("https://mock.images.test/{index}.png"), "revised_prompt": request["prompt"] })
            }
        })
        .collect();
    let mut reply = json!({ "created": 1_764_000_000, "data": data });
    if token_priced {
        reply["usage"] = json!({ "input_tokens": PROMPT_TOKENS, "output_tokens": 1_056 * count,
            "total_tokens": PROMPT_TOKENS + 1_056 * count,
            "input_tokens_details": { "text_tokens": PROMPT_TOKENS, "image_tokens": 0 } });
    }
    Json(reply).into_response()
}

pub async fn speech(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match read_json(&record, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if let Some(response) = failure(&model).await {
        return response;
    }
    let (Some(input), Some(_voice)) = (request["input"].as_str(), request["voice"].as_str()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: input and voice are required",
            "invalid_request_error",
        );
    };
    let content_type = match request["response_format"].as_str() {
        Some("wav") => "audio/wav",
        Some("flac") => "audio/flac",
        Some("opus") => "audio/ogg",
        _ => "audio/mpeg",
    };
    let frames: Vec<Bytes> = speech_bytes(input)
        .chunks(16 * 1024)
        .map(Bytes::copy_from_slice)
        .collect();
    paced(frames, Duration::from_millis(2), false, content_type)
}

pub async fn transcriptions(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(boundary) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: expected multipart/form-data",
            "invalid_request_error",
        );
    };
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut fields = serde_json::Map::new();
    let mut file_bytes = 0usize;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    fields.insert("file_name".into(), json!(field.file_name()));
                    match field.bytes().await {
                        Ok(bytes) => file_bytes = bytes.len(),
                        Err(_) => {
                            return error(
                                StatusCode::BAD_REQUEST,
                                "mock: broken upload",
                                "invalid_request_error",
                            )
                        }
                    }
                } else {
                    let value = field.text().await.unwrap_or_default();
                    fields.insert(name, json!(value));
                }
            }
            Ok(None) => break,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "mock: broken form",
                    "invalid_request_error",
                )
            }
        }
    }
    fields.insert("file_bytes".into(), json!(file_bytes));
    let summary = Value::Object(fields);
    record.remember(&headers, &Bytes::from(summary.to_string()));
    if file_bytes == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: file is required",
            "invalid_request_error",
        );
    }
    if let Some(response) = failure(summary["model"].as_str().unwrap_or_default()).await {
        return response;
    }
    let seconds = (file_bytes as f64 / AUDIO_BYTES_PER_SECOND as f64 * 1000.0).round() / 1000.0;
    let text = REPLY_WORDS.concat();
    match summary["response_format"].as_str() {
        Some("text") => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Some(subtitles @ ("srt" | "vtt")) => {
            // One cue spanning the whole audio, in the format's own timestamp style.
            let millis = (seconds * 1000.0).round() as u64;
            let (hours, minutes) = (millis / 3_600_000, millis / 60_000 % 60);
            let (whole, fraction) = (millis / 1000 % 60, millis % 1000);
            let subtitles = if subtitles == "srt" {
                format!("1\n00:00:00,000 --> {hours:02}:{minutes:02}:{whole:02},{fraction:03}\n{text}\n\n")
            } else {
                format!("WEBVTT\n\n00:00:00.000 --> {hours:02}:{minutes:02}:{whole:02}.{fraction:03}\n{text}\n\n")
            };
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], subtitles).into_response()
        }
        Some("verbose_json") => Json(json!({
            "task": "transcribe", "language": "english", "duration": seconds, "text": text, "segments": [],
        }))
        .into_response(),
        _ => Json(json!({ "text": text, "usage": { "type": "duration", "seconds": seconds } })).into_response(),
    }
}
