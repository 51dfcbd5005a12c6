//! Loopback mocks of the providers' real wire formats, for tests, benchmarks and demos: OpenAI's
//! chat completions (`openai`) and its other endpoints (`openai_endpoints`: completions,
//! responses, moderations, images, speech, transcriptions) and Azure OpenAI's deployment URLs
//! (`azure`), Anthropic's Messages API (`anthropic`), Google's Gemini API
//! (`gemini`) with its embedding methods (`google_embed`), Bedrock's Converse API with SigV4
//! verification (`bedrock`) and InvokeModel for embeddings (`bedrock_invoke`), Cohere's v2 chat,
//! embed and rerank (`cohere`), and Vertex AI's OAuth token endpoint and publisher-model paths
//! (`vertex`), on one port. The
//! requested model id chooses the behaviour, in every format:
//!
//! | model id            | behaviour                                                        |
//! |---------------------|------------------------------------------------------------------|
//! | `mock-fail-500`     | 500 with an error body holding a detail no client may see         |
//! | `mock-fail-429`     | 429 with `Retry-After: 7`                                         |
//! | `mock-fail-400`     | 400 with the provider's error message                             |
//! | `mock-hang`         | never answers                                                     |
//! | `mock-cut-stream`   | streams two words, then drops the connection                      |
//! | `mock-slow-stream`  | streams 20 words 50 ms apart                                      |
//! | `mock-cached`       | reports prompt-cache reads (and Anthropic cache writes, Gemini    |
//! |                     | thinking tokens) in its usage                                     |
//! | anything else       | answers at once                                                   |
//!
//! A test can also script failures for a mock's next OpenAI chat requests whatever their model
//! (`MockRecord::script`: a status, 429 with `Retry-After`, a reset, a hang, a slow first token)
//! and slow down all its chat replies (`MockRecord::set_latency`).
//!
//! Usage is deterministic: 10 prompt tokens per message (or embedded input), one completion
//! token per word. Embedding vectors are `mock_vector`s of their input, 8 dimensions unless asked
//! otherwise.

mod anthropic;
pub mod aws_frames;
mod azure;
mod bedrock;
mod bedrock_invoke;
mod cohere;
mod gemini;
mod google_embed;
mod openai;
mod openai_endpoints;
mod vertex;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::json;
use tokio::net::TcpListener;

pub use anthropic::MOCK_THINKING_SIGNATURE;
pub use bedrock::{MOCK_AWS_ACCESS_KEY_ID, MOCK_AWS_SECRET_ACCESS_KEY};
pub use openai_endpoints::{speech_bytes, AUDIO_BYTES_PER_SECOND};

/// The reply of a normal completion, one word per stream chunk.
pub const REPLY_WORDS: [&str; 5] = ["Hello ", "from ", "the ", "mock ", "upstream."];
/// Prompt tokens the mock reports per message.
pub const PROMPT_TOKENS_PER_MESSAGE: u64 = 10;
/// Chunks of `mock-slow-stream`.
pub const SLOW_STREAM_CHUNKS: usize = 20;

/// A failure scripted for one of a mock's next chat requests (OpenAI format), whatever model
/// they ask for: how tests make an upstream fail on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripted {
    /// This status with an OpenAI error body.
    Status(u16),
    /// 400 with this message (a context-window or content-policy refusal).
    BadRequest(&'static str),
    /// 429 with `Retry-After` in seconds.
    RateLimited { retry_after_seconds: u64 },
    /// Headers, then the connection drops before any body byte.
    Reset,
    /// Never answers.
    Hang,
    /// Answers normally after this pause (a slow first token).
    Delay(Duration),
}

#[derive(Default)]
pub struct MockRecord {
    requests: AtomicU64,
    script: Mutex<std::collections::VecDeque<Scripted>>,
    /// A pause before every chat reply, in milliseconds.
    latency_ms: AtomicU64,
    last_body: Mutex<Option<Bytes>>,
    last_headers: Mutex<Option<HeaderMap>>,
    /// Access tokens the Vertex OAuth endpoint issued.
    tokens: Mutex<Vec<String>>,
}

impl MockRecord {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Queues failures for the next chat requests, in order.
    pub fn script(&self, steps: impl IntoIterator<Item = Scripted>) {
        if let Ok(mut script) = self.script.lock() {
            script.extend(steps);
        }
    }

    /// Pauses every chat reply this long (a slower upstream).
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    /// The scripted response for this request, if a failure is queued; `None` to answer
    /// normally (after the configured latency).
    async fn scripted(&self) -> Option<Response> {
        let step = self
            .script
            .lock()
            .ok()
            .and_then(|mut script| script.pop_front());
        let latency = Duration::from_millis(self.latency_ms.load(Ordering::Relaxed));
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match step? {
            Scripted::Status(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = json!({ "error": { "message": format!("mock: scripted {code}"),
                    "type": "server_error", "param": null, "code": null } });
                Some((status, Json(body)).into_response())
            }
            Scripted::BadRequest(message) => {
                let body = json!({ "error": { "message": message,
                    "type": "invalid_request_error", "param": null, "code": null } });
                Some((StatusCode::BAD_REQUEST, Json(body)).into_response())
            }
            Scripted::RateLimited {
                retry_after_seconds,
            } => {
                let body = json!({ "error": { "message": "mock: scripted rate limit",
                    "type": "rate_limit_error", "param": null, "code": null } });
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                if let Ok(value) = header::HeaderValue::from_str(&retry_after_seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                Some(response)
            }
            Scripted::Reset => {
                let broken = futures::stream::once(async {
                    Err::<Bytes, _>(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "mock: scripted reset",
                    ))
                });
                Some(
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        Body::from_stream(broken),
                    )
                        .into_response(),
                )
            }
            Scripted::Hang => Some(hang().await),
            Scripted::Delay(pause) => {
                tokio::time::sleep(pause).await;
                None
            }
        }
    }

    /// The JSON body of the last request.
    pub fn last_request(&self) -> Option<serde_json::Value> {
        let body = self.last_body.lock().ok()?.clone()?;
        serde_json::from_slice(&body).ok()
    }

    /// A header of the last request.
    pub fn last_header(&self, name: &str) -> Option<String> {
        let headers = self.last_headers.lock().ok()?;
        headers
            .as_ref()?
            .get(name)?
            .to_str()
            .ok()
            .map(str::to_string)
    }

    /// Issues a Vertex access token, remembered so that requests can present it.
    fn issue_token(&self) -> String {
        let Ok(mut tokens) = self.tokens.lock() else {
            return String::new();
        };
        let token = format!("ya29.mock-{}", tokens.len() + 1);
        tokens.push(token.clone());
        token
    }

    fn issued(&self, token: &str) -> bool {
        self.tokens
            .lock()
            .is_ok_and(|tokens| tokens.iter().any(|issued| issued == token))
    }

    /// How many access tokens the Vertex OAuth endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.tokens.lock().map_or(0, |tokens| tokens.len())
    }

    fn remember(&self, headers: &HeaderMap, body: &Bytes) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_body.lock() {
            *last = Some(body.clone());
        }
        if let Ok(mut last) = self.last_headers.lock() {
            *last = Some(headers.clone());
        }
    }
}

/// A mock serving in the background.
pub struct MockUpstream {
    pub addr: SocketAddr,
    pub record: Arc<MockRecord>,
}

impl MockUpstream {
    /// `http://addr/v1`, the `api_base` to configure for OpenAI-format deployments.
    pub fn api_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://addr`, the `api_base` to configure for native-format deployments.
    pub fn root(&self) -> String {
        format!("http://{}", self.addr)
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
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/completions", post(openai_endpoints::completions))
        .route("/v1/responses", post(openai_endpoints::responses))
        .route("/v1/moderations", post(openai_endpoints::moderations))
        .route("/v1/rerank", post(openai_endpoints::rerank))
        .route(
            "/v1/images/generations",
            post(openai_endpoints::image_generations),
        )
        .route("/v1/audio/speech", post(openai_endpoints::speech))
        .route(
            "/v1/audio/transcriptions",
            post(openai_endpoints::transcriptions),
        )
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route(
            "/openai/deployments/{deployment}/{*operation}",
            post(azure::deployment),
        )
        .route("/openai/responses", post(azure::responses))
        .route("/v1beta/models/{model_and_method}", post(gemini::models))
        .route("/model/{model_id}/{operation}", post(bedrock::converse))
        .route("/token", post(vertex::token))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model_and_method}",
            post(vertex::publisher_model),
        )
        .route("/v2/chat", post(cohere::chat))
        .route("/v2/embed", post(cohere::embed))
        .route("/v2/rerank", post(cohere::rerank))
        .route("/mock/last-request", get(last_request))
        .with_state(record)
}

async fn last_request(State(record): State<Arc<MockRecord>>) -> Json<serde_json::Value> {
    Json(json!({ "requests": record.requests(), "last": record.last_request() }))
}

/// The arguments the mock calls a tool with: each property of its JSON schema filled in
/// (`"Paris"` for strings, 1 for numbers, true for booleans).
fn tool_arguments(schema: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    let value = match property["type"].as_str() {
                        Some("number" | "integer") => json!(1),
                        Some("boolean") => json!(true),
                        _ => json!("Paris"),
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the mock does for a model id.
enum Behaviour {
    Fail500,
    Fail429,
    Fail400,
    Hang,
    Reply(StreamPlan),
}

/// The words a reply streams, the pause before each, and whether the connection drops after.
struct StreamPlan {
    words: Vec<String>,
    pause: Duration,
    cut: bool,
}

impl Behaviour {
    fn of(model: &str) -> Behaviour {
        let words = |count: usize| {
            REPLY_WORDS
                .iter()
                .take(count)
                .map(|word| word.to_string())
                .collect()
        };
        match model {
            "mock-fail-500" => Behaviour::Fail500,
            "mock-fail-429" => Behaviour::Fail429,
            "mock-fail-400" => Behaviour::Fail400,
            "mock-hang" => Behaviour::Hang,
            "mock-slow-stream" => Behaviour::Reply(StreamPlan {
                words: (0..SLOW_STREAM_CHUNKS)
                    .map(|index| format!("w{index} "))
                    .collect(),
                pause: Duration::from_millis(50),
                cut: false,
            }),
            "mock-cut-stream" => Behaviour::Reply(StreamPlan {
                words: words(2),
                pause: Duration::from_millis(20),
                cut: true,
            }),
            _ => Behaviour::Reply(StreamPlan {
                words: words(REPLY_WORDS.len()),
                pause: Duration::ZERO,
                cut: false,
            }),
        }
    }
}

/// The deterministic vector the mock gives an embedded input (a text, or the JSON of a token
/// array), so tests can tell which input each vector belongs to.
pub fn mock_vector(input: &str, dimensions: usize) -> Vec<f64> {
    let seed = input.bytes().map(usize::from).sum::<usize>();
    // Real providers refuse absurd sizes; the mock never allocates one.
    (0..dimensions.min(65_536))
        .map(|dimension| ((seed * (dimension + 1)) % 97) as f64 / 97.0)
        .collect()
}

/// Rerank results, best first: each document (a string or `{text}`) scored by the share of the
/// query's words it contains, ties in document order, at most `top_n`.
fn ranked(query: &str, documents: &[serde_json::Value], top_n: Option<u64>) -> Vec<(usize, f64)> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut results: Vec<(usize, f64)> = documents
        .iter()
        .enumerate()
        .map(|(index, document)| {
            let text = document
                .as_str()
                .or_else(|| document["text"].as_str())
                .unwrap_or_default()
                .to_lowercase();
            let hits = words
                .iter()
                .filter(|word| text.contains(word.as_str()))
                .count();
            (index, hits as f64 / words.len().max(1) as f64)
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(top_n) = top_n {
        results.truncate(top_n as usize);
    }
    results
}

async fn hang() -> Response {
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    StatusCode::GATEWAY_TIMEOUT.into_response()
}

fn with_retry_after(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
    response
}

/// An SSE response sending `frames` with `pause` before each, dropping the connection after
/// the last one when `cut`.
fn paced_sse(frames: Vec<Bytes>, pause: Duration, cut: bool) -> Response {
    paced(frames, pause, cut, "text/event-stream")
}

/// A streamed response of `content_type`, sent as `paced_sse` sends its frames.
fn paced(frames: Vec<Bytes>, pause: Duration, cut: bool, content_type: &'static str) -> Response {
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
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response()
}
