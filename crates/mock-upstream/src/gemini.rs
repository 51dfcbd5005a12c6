//! The mock's Gemini API, after Google's `generateContent` reference: the `x-goog-api-key`
//! header required, unknown fields refused, `functionCall` replies when functions are declared,
//! `streamGenerateContent?alt=sse` with cumulative usage, and Google's error bodies
//! (`{"error":{"code","message","status"}}`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{
    google_embed, hang, paced_sse, tool_arguments, with_retry_after, Behaviour, MockRecord,
    StreamPlan, PROMPT_TOKENS_PER_MESSAGE,
};

/// Top-level request fields `generateContent` accepts.
const KNOWN_FIELDS: &[&str] = &[
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
];

/// What `mock-cached` reports: cached prompt tokens and thinking tokens.
const CACHED_TOKENS: u64 = 1_000;
const THOUGHT_TOKENS: u64 = 50;

fn error(status: StatusCode, google_status: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": status.as_u16(), "message": message, "status": google_status } })),
    )
        .into_response()
}

/// `POST /v1beta/models/{model}:{generateContent|streamGenerateContent|batchEmbedContents}` with
/// an API key.
pub async fn models(
    State(record): State<Arc<MockRecord>>,
    Path(model_and_method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers
        .get("x-goog-api-key")
        .is_none_or(|key| key.is_empty())
    {
        record.remember(&headers, &body);
        return error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers. Please use an API key.",
        );
    }
    if let Some(model) = model_and_method.strip_suffix(":batchEmbedContents") {
        record.remember(&headers, &body);
        return google_embed::batch_embed_contents(model, &body);
    }
    generate(&record, &model_and_method, &headers, &body).await
}

/// `{model}:{method}` answered for a caller already authenticated (by API key here, by OAuth
/// token on Vertex).
pub async fn generate(
    record: &MockRecord,
    model_and_method: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    record.remember(headers, body);
    let Some((model, method)) = model_and_method.rsplit_once(':') else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "mock: no method in the path",
        );
    };
    let streaming = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return error(StatusCode::NOT_FOUND, "NOT_FOUND", "mock: unknown method"),
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
        );
    };
    if let Some(problem) = validate(&request) {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", &problem);
    }
    let contents = request["contents"].as_array().map_or(0, Vec::len) as u64;
    let usage = Usage {
        prompt: PROMPT_TOKENS_PER_MESSAGE * contents,
        cached: model == "mock-cached",
    };
    match Behaviour::of(model) {
        Behaviour::Fail500 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "mock internal failure: db password hunter2 in stack trace",
        ),
        Behaviour::Fail429 => with_retry_after(error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            "mock: quota exceeded",
        )),
        Behaviour::Fail400 => error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "mock: the input token count exceeds the maximum",
        ),
        Behaviour::Hang => hang().await,
        Behaviour::Reply(plan) => {
            let call = declared_function(&request);
            if streaming {
                stream(model, plan, call, usage)
            } else {
                let words = plan.words.len() as u64;
                let parts = match call {
                    Some(call) => vec![json!({ "functionCall": call })],
                    None => vec![json!({ "text": plan.words.concat() })],
                };
                Json(response(model, parts, Some("STOP"), usage.json(words))).into_response()
            }
        }
    }
}

fn validate(request: &Map<String, Value>) -> Option<String> {
    if let Some(extra) = request
        .keys()
        .find(|key| !KNOWN_FIELDS.contains(&key.as_str()))
    {
        return Some(format!(
            "Invalid JSON payload received. Unknown name \"{extra}\": Cannot find field."
        ));
    }
    let Some(contents) = request
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    else {
        return Some("* GenerateContentRequest.contents: contents is not specified".into());
    };
    for (index, content) in contents.iter().enumerate() {
        if !matches!(content["role"].as_str(), Some("user" | "model")) {
            return Some(format!(
                "Please use a valid role: user, model. (contents[{index}])"
            ));
        }
        if content["parts"].as_array().is_none_or(Vec::is_empty) {
            return Some(format!("* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty."));
        }
    }
    None
}

/// A call of the first declared function, unless the last turn already answers one.
fn declared_function(request: &Map<String, Value>) -> Option<Value> {
    let declaration = request.get("tools")?[0]["functionDeclarations"].get(0)?;
    let answered = request["contents"].as_array()?.last()?["parts"]
        .as_array()?
        .iter()
        .any(|part| part.get("functionResponse").is_some());
    if answered {
        return None;
    }
    let schema = declaration
        .get("parametersJsonSchema")
        .or_else(|| declaration.get("parameters"))?;
    let args = tool_arguments(schema);
    Some(json!({ "name": declaration["name"], "args": args }))
}

struct Usage {
    prompt: u64,
    cached: bool,
}

impl Usage {
    fn json(&self, candidates: u64) -> Value {
        let (cached, thoughts) = if self.cached {
            (CACHED_TOKENS, THOUGHT_TOKENS)
        } else {
            (0, 0)
        };
        let prompt = self.prompt + cached;
        let mut usage = json!({
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + thoughts,
        });
        if self.cached {
            usage["cachedContentTokenCount"] = json!(cached);
            usage["thoughtsTokenCount"] = json!(thoughts);
        }
        usage
    }
}

fn response(model: &str, parts: Vec<Value>, finish: Option<&str>, usage: Value) -> Value {
    let mut candidate = json!({ "content": { "parts": parts, "role": "model" }, "index": 0 });
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "mock-response-1",
    })
}

fn stream(model: &str, plan: StreamPlan, call: Option<Value>, usage: Usage) -> Response {
    let StreamPlan { words, pause, cut } = plan;
    let count = words.len();
    let mut frames: Vec<Bytes> = words
        .iter()
        .enumerate()
        .map(|(index, word)| {
            let last = index + 1 == count && !cut && call.is_none();
            let event = response(
                model,
                vec![json!({ "text": word })],
                last.then_some("STOP"),
                usage.json(index as u64 + 1),
            );
            Bytes::from(format!("data: {event}\r\n\r\n"))
        })
        .collect();
    if let (Some(call), false) = (call, cut) {
        let event = response(
            model,
            vec![json!({ "functionCall": call })],
            Some("STOP"),
            usage.json(count as u64),
        );
        frames.push(Bytes::from(format!("data: {event}\r\n\r\n")));
    }
    paced_sse(frames, pause, cut)
}
