//! LiteLLM's `mock_response` deployments: answered in-process with a fixed text, in the real
//! chat-completion and chunk formats, so a newcomer can try Gatehouse without a provider account.

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use crate::core::usage::estimate_tokens;
use crate::providers::{ByteStream, Deployment};

fn reply_text(deployment: &Deployment) -> &str {
    deployment.mock_response.as_deref().unwrap_or_default()
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn usage(prompt_tokens: u64, text: &str) -> serde_json::Value {
    let completion_tokens = estimate_tokens(text.len());
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

/// `template` answering every request with `text` in-process, at no cost: how a client's
/// `mock_response` is honoured where the operator allows it (never billed as a real call).
pub fn mocked(template: &Deployment, text: &str) -> Deployment {
    Deployment {
        upstream: crate::providers::Upstream::Mock,
        mock_response: Some(text.to_string()),
        prices: crate::core::prices::Prices::default(),
        state: std::sync::Arc::default(),
        wildcard: None,
        identity_headers: std::sync::OnceLock::new(),
        span_attributes: std::sync::OnceLock::new(),
        ..template.clone()
    }
}

/// A whole `chat.completion` object.
pub fn completion(deployment: &Deployment, request_id: &str, prompt_tokens: u64) -> Bytes {
    let text = reply_text(deployment);
    let body = json!({
        "id": format!("chatcmpl-{request_id}"),
        "object": "chat.completion",
        "created": unix_now(),
        "model": deployment.upstream_model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text },
            "finish_reason": "stop",
        }],
        "usage": usage(prompt_tokens, text),
    });
    Bytes::from(body.to_string())
}

/// The same reply as `chat.completion.chunk` events, word by word, ending with the usage chunk
/// and `[DONE]`.
pub fn stream(deployment: &Deployment, request_id: &str, prompt_tokens: u64) -> ByteStream {
    let text = reply_text(deployment);
    let id = format!("chatcmpl-{request_id}");
    let created = unix_now();
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": deployment.upstream_model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        })
    };
    let mut events = vec![chunk(json!({ "role": "assistant", "content": "" }), None)];
    events.extend(
        text.split_inclusive(' ')
            .map(|word| chunk(json!({ "content": word }), None)),
    );
    events.push(chunk(json!({}), Some("stop")));
    events.push(json!({
        "id": id, "object": "chat.completion.chunk", "created": created,
        "model": deployment.upstream_model, "choices": [], "usage": usage(prompt_tokens, text),
    }));
    let mut frames: Vec<Result<Bytes, reqwest::Error>> = events
        .into_iter()
        .map(|event| Ok(Bytes::from(format!("data: {event}\n\n"))))
        .collect();
    frames.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    futures::stream::iter(frames).boxed()
}
