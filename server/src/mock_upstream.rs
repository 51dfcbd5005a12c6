//! A loopback mock of OpenAI's chat-completions API (the real wire format: `chat.completion`,
//! `chat.completion.chunk` SSE, `stream_options.include_usage`, OpenAI error bodies) for tests,
//! benchmarks and demos. The requested model id chooses the behaviour:
//!
//! | model id            | behaviour                                                        |
//! |---------------------|------------------------------------------------------------------|
//! | `mock-fail-500`     | 500 with an error body holding a detail no client may see         |
//! | `mock-fail-429`     | 429 with `Retry-After: 7`                                         |
//! | `mock-fail-400`     | 400 with an OpenAI error message                                  |
//! | `mock-hang`         | never answers                                                     |
//! | `mock-cut-stream`   | streams two chunks, then drops the connection                     |
//! | `mock-slow-stream`  | streams 20 chunks 50 ms apart                                     |
//! | anything else       | answers at once                                                   |
//!
//! Usage is deterministic: 10 prompt tokens per message, one completion token per chunk/word.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

/// The reply of a normal completion, one word per stream chunk.
pub const REPLY_WORDS: [&str; 5] = ["Hello ", "from ", "the ", "mock ", "upstream."];
/// Prompt tokens the mock reports per message.
pub const PROMPT_TOKENS_PER_MESSAGE: u64 = 10;
/// Chunks of `mock-slow-stream`.
pub const SLOW_STREAM_CHUNKS: usize = 20;

#[derive(Default)]
pub struct MockRecord {
    requests: AtomicU64,
    last_body: Mutex<Option<Bytes>>,
}

impl MockRecord {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The JSON body of the last request.
    pub fn last_request(&self) -> Option<serde_json::Value> {
        let body = self.last_body.lock().ok()?.clone()?;
        serde_json::from_slice(&body).ok()
    }
}

/// A mock serving in the background.
pub struct MockUpstream {
    pub addr: SocketAddr,
    pub record: Arc<MockRecord>,
}

impl MockUpstream {
    /// `http://addr/v1`, the `api_base` to configure.
    pub fn api_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// Serves the mock on `listener` until the runtime stops.
pub fn spawn(listener: TcpListener) -> std::io::Result<MockUpstream> {
    let addr = listener.local_addr()?;
    let record = Arc::new(MockRecord::default());
    let app = router(record.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "mock upstream stopped");
        }
    });
    Ok(MockUpstream { addr, record })
}

pub fn router(record: Arc<MockRecord>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/chat/completions", post(chat_completions))
        .route("/mock/last-request", get(last_request))
        .with_state(record)
}

#[derive(Deserialize)]
struct MockRequest {
    model: String,
    #[serde(default)]
    messages: Vec<IgnoredAny>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

async fn last_request(State(record): State<Arc<MockRecord>>) -> Json<serde_json::Value> {
    Json(json!({ "requests": record.requests(), "last": record.last_request() }))
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })),
    )
        .into_response()
}

async fn chat_completions(State(record): State<Arc<MockRecord>>, body: Bytes) -> Response {
    record.requests.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut last) = record.last_body.lock() {
        *last = Some(body.clone());
    }
    let Ok(request) = serde_json::from_slice::<MockRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "mock: invalid JSON body",
            "invalid_request_error",
        );
    };
    let prompt_tokens = PROMPT_TOKENS_PER_MESSAGE * request.messages.len() as u64;
    match request.model.as_str() {
        "mock-fail-500" => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock internal failure: db password hunter2 in stack trace",
            "server_error",
        ),
        "mock-fail-429" => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "mock: slow down",
                "rate_limit_error",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
            response
        }
        "mock-fail-400" => error(
            StatusCode::BAD_REQUEST,
            "mock: max_tokens is too large for this model",
            "invalid_request_error",
        ),
        "mock-hang" => {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            error(StatusCode::GATEWAY_TIMEOUT, "mock: hung", "timeout")
        }
        _ if request.stream => {
            let include_usage = request
                .stream_options
                .is_some_and(|options| options.include_usage);
            stream_response(&request.model, prompt_tokens, include_usage)
        }
        model => completion_response(model, prompt_tokens),
    }
}

fn completion_response(model: &str, prompt_tokens: u64) -> Response {
    let completion_tokens = REPLY_WORDS.len() as u64;
    let body = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": REPLY_WORDS.concat(), "refusal": null },
            "logprobs": null,
            "finish_reason": "stop",
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

fn stream_response(model: &str, prompt_tokens: u64, include_usage: bool) -> Response {
    let (words, pause, cut): (Vec<String>, Duration, bool) = match model {
        "mock-slow-stream" => (
            (0..SLOW_STREAM_CHUNKS)
                .map(|index| format!("w{index} "))
                .collect(),
            Duration::from_millis(50),
            false,
        ),
        "mock-cut-stream" => (
            REPLY_WORDS
                .iter()
                .take(2)
                .map(|word| word.to_string())
                .collect(),
            Duration::from_millis(20),
            true,
        ),
        _ => (
            REPLY_WORDS.iter().map(|word| word.to_string()).collect(),
            Duration::ZERO,
            false,
        ),
    };
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
        frames.push(chunk(model, json!({}), Some("stop")));
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
    let body = futures::stream::iter(frames)
        .then(move |frame| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            Ok::<Bytes, std::io::Error>(frame)
        })
        .chain(futures::stream::iter(cut.then(|| {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "mock: cut",
            ))
        })));
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}
