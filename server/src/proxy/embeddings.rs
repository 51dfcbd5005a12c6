//! `/v1/embeddings`: OpenAI's embeddings API to any deployment whose format has one. The same
//! stages as chat (authenticate → authorize → reserve → plan → call → meter), without streams.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::metering::usage::estimate_tokens;
use crate::metering::{CallOutcome, MeteredCall, CALL_TYPE_EMBEDDING};
use crate::policy::auth::authenticate;
use crate::providers::capabilities::{Mode, Needs};
use crate::providers::{transport, Upstream};
use crate::proxy::request::read_body;
use crate::proxy::unary::json_response;
use crate::state::SharedGateway;

pub async fn embeddings(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run(gateway, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// A validated embeddings request.
struct EmbeddingsRequest {
    model: String,
    prompt_tokens: u64,
    end_user: Option<String>,
    body: Map<String, Value>,
}

fn parse(bytes: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
            None,
        ));
    };
    let model = match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "You must provide a model parameter (a non-empty string).",
                Some("model"),
            ))
        }
    };
    let prompt_tokens = match body.get("input") {
        Some(Value::String(text)) if !text.is_empty() => estimate_tokens(text.len()),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(input_tokens)
            .sum::<Option<u64>>()
            .ok_or_else(invalid_input)?,
        _ => return Err(invalid_input()),
    };
    let end_user = body.get("user").and_then(Value::as_str).map(str::to_string);
    Ok(EmbeddingsRequest {
        model,
        prompt_tokens,
        end_user,
        body,
    })
}

/// Tokens of one `input` item: a non-empty string, a token id, or an array of token ids.
fn input_tokens(item: &Value) -> Option<u64> {
    match item {
        Value::String(text) if !text.is_empty() => Some(estimate_tokens(text.len())),
        Value::Number(number) if number.is_u64() => Some(1),
        Value::Array(tokens) if !tokens.is_empty() && tokens.iter().all(Value::is_u64) => {
            Some(tokens.len() as u64)
        }
        _ => None,
    }
}

fn invalid_input() -> ApiError {
    ApiError::bad_request(
        "`input` must be a non-empty string, an array of non-empty strings, or token arrays.",
        Some("input"),
    )
}

async fn run(
    gateway: SharedGateway,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc();
    let caller = authenticate(&gateway.keys, gateway.master_key.as_ref(), headers).await?;
    let mut request = parse(&read_body(body).await?)?;
    let group = gateway
        .models
        .get(&request.model)
        .ok_or_else(|| ApiError::UnknownModel(request.model.clone()))?;
    if !caller.may_use(&request.model) {
        return Err(ApiError::ModelNotAllowed(request.model.clone()));
    }
    caller.check_budget()?;
    let deployment = group
        .pick(&Needs::plain(Mode::Embedding, request.prompt_tokens))
        .map_err(|missing| ApiError::Unsupported {
            model: request.model.clone(),
            missing,
        })?;
    let Upstream::Http(adapter) = &deployment.upstream else {
        return Err(ApiError::bad_request(
            format!("The model `{}` answers chat requests only.", request.model),
            Some("model"),
        ));
    };
    let adapter = adapter.clone();
    if adapter.embeddings().is_none() {
        return Err(ApiError::bad_request(
            format!(
                "The model `{}` is served by `{}`, whose embeddings API Gatehouse does not speak yet.",
                request.model, deployment.provider
            ),
            Some("model"),
        ));
    }
    request.body.insert(
        "model".into(),
        Value::String(deployment.upstream_model.clone()),
    );
    let call = MeteredCall {
        request_id: uuid::Uuid::new_v4().to_string(),
        call_type: CALL_TYPE_EMBEDDING,
        token_hash: caller.token_hash().clone(),
        spend: caller.spend(),
        prompt_estimate: request.prompt_tokens,
        end_user: request.end_user,
        is_stream: false,
        deployment,
        started,
        started_at,
    };
    let task_gateway = gateway.clone();
    let body = request.body;
    // A tracked task: a client that leaves cannot cancel the metering.
    gateway
        .tasks
        .spawn(async move {
            let gateway = task_gateway;
            let reply = async {
                let embeddings = adapter.embeddings().ok_or(ApiError::Internal)?;
                let upstream_request = embeddings.embeddings_request(body)?;
                let reply =
                    transport::fetch(&gateway.http, &call.deployment, upstream_request).await?;
                embeddings.embeddings_reply(reply)
            }
            .await;
            match reply {
                Ok(reply) => {
                    let request_id = call.request_id.clone();
                    let outcome = CallOutcome {
                        http_status: 200,
                        success: true,
                        usage: reply.usage,
                        generated_chars: 0,
                    };
                    let cost_micros = gateway.meter.record(call, outcome).await;
                    Ok(json_response(reply.body, &request_id, cost_micros))
                }
                Err(error) => {
                    gateway
                        .meter
                        .record(call, CallOutcome::failed(error.status().as_u16()))
                        .await;
                    Err(error)
                }
            }
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "embeddings task failed");
            ApiError::Internal
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(body: &str) -> Option<&'static str> {
        match parse(body.as_bytes()) {
            Err(ApiError::BadRequest { param, .. }) => param,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted {body}"),
        }
    }

    #[test]
    fn validates_input_and_estimates_tokens() {
        let one = parse(br#"{"model":"e","input":"hello world!"}"#).unwrap();
        assert_eq!(one.prompt_tokens, 3);
        let many = parse(br#"{"model":"e","input":["abcd","abcdefgh"],"user":"u"}"#).unwrap();
        assert_eq!(many.prompt_tokens, 3);
        assert_eq!(many.end_user.as_deref(), Some("u"));
        let tokens = parse(br#"{"model":"e","input":[[1,2,3],[4]]}"#).unwrap();
        assert_eq!(tokens.prompt_tokens, 4);
        assert_eq!(param(r#"{"input":"x"}"#), Some("model"));
        assert_eq!(param(r#"{"model":"e"}"#), Some("input"));
        assert_eq!(param(r#"{"model":"e","input":""}"#), Some("input"));
        assert_eq!(param(r#"{"model":"e","input":[]}"#), Some("input"));
        assert_eq!(param(r#"{"model":"e","input":["ok",7.5]}"#), Some("input"));
        assert_eq!(param("[]"), None);
    }
}
