//! Counting a prompt's tokens without calling the model: Anthropic's
//! `POST /v1/messages/count_tokens` (Claude Code calls it; relayed to Anthropic for a deployment
//! that speaks Messages) and LiteLLM's `POST /utils/token_counter`. OpenAI's models are
//! counted exactly (`core::tokens`); others are estimated, and the answer says which.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use crate::core::body::read_body_within;
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::core::provider_error::ProviderError;
use crate::core::tokens::Encoding;
use crate::core::usage::estimate_tokens;
use crate::endpoints::messages::native::{forwarded_headers, messages_url};
use crate::endpoints::request::message_text_bytes;
use crate::policy::auth::authenticate;
use crate::providers::adapter::{to_body, unreadable_reply, UpstreamRequest};
use crate::providers::{anthropic, transport, Deployment};
use crate::state::SharedGateway;
use app::model::invalid;

/// The largest body a count takes: counting is CPU a key's rate limits do not meter, so it is
/// held well under the data plane's 32 MiB.
pub const MAX_COUNT_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A count request's JSON object, within `MAX_COUNT_BODY_BYTES` (a 413 past it).
async fn read_count_request(body: Body) -> Result<Map<String, Value>, ApiError> {
    let bytes = read_body_within(body, MAX_COUNT_BODY_BYTES).await?;
    Ok(invalid::json_object(&bytes)?)
}

/// Fields Anthropic's count endpoint takes (others are not sent to it).
const ANTHROPIC_COUNT_FIELDS: [&str; 6] = [
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
];

/// How a count was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// With the model's own public tokenizer.
    Exact(Encoding),
    /// From the text's size (about four bytes a token).
    Estimated,
}

impl Counted {
    /// LiteLLM's `tokenizer_type`.
    fn tokenizer_type(self) -> &'static str {
        match self {
            Counted::Exact(_) => "openai_tokenizer",
            Counted::Estimated => "estimate",
        }
    }
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, errors in Anthropic's shape.
pub async fn count_message_tokens(
    State(gateway): State<SharedGateway>,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match message_tokens(&gateway, &origin, &headers, body).await {
        Ok(reply) => reply,
        Err(error) => error.into_anthropic_response(),
    }
}

async fn message_tokens(
    gateway: &SharedGateway,
    origin: &Origin,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = authenticate(&gateway.authenticator(), headers, origin).await?;
    let request = read_count_request(body).await?;
    let model = invalid::model(&request)?;
    let deployment = model_deployment(gateway, &caller, &model)?;
    if let Some(url) = messages_url(&deployment) {
        return relay_count(gateway, &deployment, url, request, headers).await;
    }
    let messages = anthropic_as_chat(&request)?;
    let (tokens, _) = count_messages(&deployment, &messages);
    Ok(Json(json!({ "input_tokens": tokens })).into_response())
}

/// Anthropic counts its own: the request (its count fields, the upstream model) goes to the
/// deployment's `/v1/messages/count_tokens` with the deployment's credentials.
async fn relay_count(
    gateway: &SharedGateway,
    deployment: &Deployment,
    messages_url: reqwest::Url,
    mut request: Map<String, Value>,
    client_headers: &HeaderMap,
) -> Result<Response, ApiError> {
    request.retain(|field, _| ANTHROPIC_COUNT_FIELDS.contains(&field.as_str()));
    request.insert(
        "model".into(),
        Value::String(deployment.upstream_model.clone()),
    );
    let url = reqwest::Url::parse(&format!("{messages_url}/count_tokens"))
        .map_err(|_| ApiError::Internal)?;
    let mut headers = forwarded_headers(client_headers);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
        .entry(HeaderName::from_static("anthropic-version"))
        .or_insert(HeaderValue::from_static(anthropic::API_VERSION));
    let upstream = UpstreamRequest {
        url,
        headers,
        body: to_body(&Value::Object(request))?,
    };
    let reply = transport::fetch(&gateway.http, deployment, upstream).await?;
    // A reply without a count is the upstream's fault (502), not ours.
    let counted: Value =
        serde_json::from_slice(&reply).map_err(|error| unreadable_reply("Anthropic", &error))?;
    let tokens = counted
        .get("input_tokens")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            ApiError::Upstream(ProviderError::Malformed(
                "Anthropic's count carried no `input_tokens`".into(),
            ))
        })?;
    Ok(Json(json!({ "input_tokens": tokens })).into_response())
}

/// `POST /utils/token_counter`: LiteLLM's `{model, prompt | messages}` →
/// `{total_tokens, request_model, model_used, tokenizer_type}`.
pub async fn token_counter(
    State(gateway): State<SharedGateway>,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&gateway.authenticator(), &headers, &origin).await?;
    let request = read_count_request(body).await?;
    let model = invalid::model(&request)?;
    let deployment = model_deployment(&gateway, &caller, &model)?;
    let (tokens, counted) = match (request.get("messages"), request.get("prompt")) {
        (Some(Value::Array(messages)), _) => count_messages(&deployment, messages),
        (_, Some(Value::String(prompt))) => count_text(&deployment, prompt),
        _ => {
            return Err(ApiError::bad_request(
                "Send `messages` (a list of chat messages) or `prompt` (text) to count.",
                Some("messages"),
            ))
        }
    };
    Ok(Json(json!({
        "total_tokens": tokens,
        "request_model": model,
        "model_used": deployment.upstream_model,
        "tokenizer_type": counted.tokenizer_type(),
    })))
}

/// The deployment whose tokenizer counts for `model`: the group's first, if the caller may
/// use the model.
fn model_deployment(
    gateway: &SharedGateway,
    caller: &crate::policy::auth::Caller,
    model: &str,
) -> Result<Arc<Deployment>, ApiError> {
    let groups = gateway.models.groups();
    let group = groups
        .get(model)
        .ok_or_else(|| ApiError::UnknownModel(model.to_string()))?;
    if !caller.may_use(model, groups.access()) {
        return Err(ApiError::ModelNotAllowed(model.to_string()));
    }
    group
        .deployments()
        .first()
        .cloned()
        .ok_or_else(|| ApiError::UnknownModel(model.to_string()))
}

fn encoding_of(deployment: &Deployment) -> Option<Encoding> {
    Encoding::for_model(&deployment.provider, &deployment.upstream_model)
}

fn count_messages(deployment: &Deployment, messages: &[Value]) -> (u64, Counted) {
    if let Some(encoding) = encoding_of(deployment) {
        if let Some(tokens) = encoding.chat_tokens(messages) {
            return (tokens, Counted::Exact(encoding));
        }
    }
    let text_bytes: usize = messages.iter().map(message_text_bytes).sum();
    (estimate_tokens(text_bytes), Counted::Estimated)
}

fn count_text(deployment: &Deployment, text: &str) -> (u64, Counted) {
    match encoding_of(deployment) {
        Some(encoding) => (encoding.text_tokens(text), Counted::Exact(encoding)),
        None => (estimate_tokens(text.len()), Counted::Estimated),
    }
}

/// An Anthropic request's system prompt and messages as chat messages (text blocks joined; a
/// block of another kind is kept as it is, which an exact count then declines).
fn anthropic_as_chat(request: &Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    let Some(Value::Array(messages)) = request.get("messages") else {
        return Err(ApiError::bad_request(
            "`messages` must be an array of messages.",
            Some("messages"),
        ));
    };
    let mut chat = Vec::with_capacity(messages.len() + 1);
    match request.get("system") {
        None | Some(Value::Null) => {}
        Some(system) => chat.push(json!({ "role": "system", "content": blocks_text(system) })),
    }
    for message in messages {
        chat.push(json!({
            "role": message.get("role").cloned().unwrap_or(Value::Null),
            "content": message.get("content").map_or(Value::Null, blocks_text),
        }));
    }
    Ok(chat)
}

/// Text, or text blocks joined into one text; anything else as it is.
fn blocks_text(content: &Value) -> Value {
    match content {
        Value::Array(blocks)
            if blocks
                .iter()
                .all(|block| block.get("type").and_then(Value::as_str) == Some("text")) =>
        {
            let text: Vec<&str> = blocks
                .iter()
                .filter_map(|block| block.get("text")?.as_str())
                .collect();
            Value::String(text.join("\n"))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_messages_become_chat_messages_to_count() {
        let request = json!({
            "model": "m", "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": [{"type": "image", "source": {}}]},
            ]
        });
        let chat = anthropic_as_chat(request.as_object().unwrap()).unwrap();
        assert_eq!(chat[0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(chat[1]["content"], "Hi\nthere");
        assert_eq!(chat[2]["content"], "Hello");
        assert!(chat[3]["content"].is_array());
        assert_eq!(Encoding::O200k.chat_tokens(&chat), None);
        assert!(Encoding::O200k.chat_tokens(&chat[..3]).is_some());
    }
}
