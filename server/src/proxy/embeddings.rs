//! `/v1/embeddings`: OpenAI's embeddings API to any deployment whose format has one. The same
//! stages as chat (authenticate → authorize → reserve → plan → call → meter), without streams;
//! an upstream that embeds fewer inputs per call is called several times, as one metered call.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::core::usage::estimate_tokens;
use crate::metering::CALL_TYPE_EMBEDDING;
use crate::policy::identity;
use crate::providers::adapter::{EmbeddingsWanted, UpstreamRequest};
use crate::providers::{transport, Deployment};
use crate::proxy::native::http_adapter;
use crate::proxy::pipeline::admit;
use crate::proxy::request::{read_body, take_tags};
use crate::proxy::unary::metered;
use crate::routing::attempts::{CostBound, Reusable};
use crate::state::SharedGateway;

/// Upstream calls one request may have in flight, where the upstream takes fewer inputs per
/// call than the client sent (Titan embeds one text per call).
const CALLS_IN_FLIGHT: usize = 8;

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
pub struct EmbeddingsRequest {
    model: String,
    prompt_tokens: u64,
    /// The most input tokens the request may hold: a token per text byte, or its token ids.
    input_bound: u64,
    end_user: Option<String>,
    tags: Vec<String>,
    body: Map<String, Value>,
}

pub fn parse(bytes: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(bytes) else {
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
    let (prompt_tokens, input_bound) = match body.get("input") {
        Some(Value::String(text)) if !text.is_empty() => {
            (estimate_tokens(text.len()), text.len() as u64)
        }
        Some(Value::Array(items)) if items.len() > MAX_INPUTS => {
            return Err(ApiError::bad_request(
                format!("`input` may hold at most {MAX_INPUTS} items per request."),
                Some("input"),
            ))
        }
        Some(Value::Array(items)) if !items.is_empty() => {
            let counted = items
                .iter()
                .map(input_tokens)
                .collect::<Option<Vec<(u64, u64)>>>()
                .ok_or_else(invalid_input)?;
            counted.iter().fold(
                (0u64, 0u64),
                |(estimate, bound), (item_estimate, item_bound)| {
                    (
                        estimate.saturating_add(*item_estimate),
                        bound.saturating_add(*item_bound),
                    )
                },
            )
        }
        _ => return Err(invalid_input()),
    };
    match body.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(dimensions)
            if dimensions
                .as_u64()
                .is_some_and(|count| (1..=MAX_DIMENSIONS).contains(&count)) => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                format!("`dimensions` must be a whole number from 1 to {MAX_DIMENSIONS}."),
                Some("dimensions"),
            ))
        }
    }
    let end_user = identity::body_end_user(&body, "user")?;
    identity::check_metadata(&body)?;
    let tags = take_tags(&mut body)?;
    Ok(EmbeddingsRequest {
        model,
        prompt_tokens,
        input_bound,
        end_user,
        tags,
        body,
    })
}

/// The largest `dimensions` any embedding model offers (with room to spare).
const MAX_DIMENSIONS: u64 = 16_384;

/// Most items one request's `input` may hold (OpenAI's limit): some providers take one per
/// upstream call, so this bounds the calls a request fans out to.
const MAX_INPUTS: usize = 2_048;

/// Tokens of one `input` item, estimated and at most: a non-empty string, a token id, or an
/// array of token ids.
fn input_tokens(item: &Value) -> Option<(u64, u64)> {
    match item {
        Value::String(text) if !text.is_empty() => {
            Some((estimate_tokens(text.len()), text.len() as u64))
        }
        Value::Number(number) if number.is_u64() => Some((1, 1)),
        Value::Array(tokens) if !tokens.is_empty() && tokens.iter().all(Value::is_u64) => {
            Some((tokens.len() as u64, tokens.len() as u64))
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
    let admitted = admit(&gateway, headers).await?;
    let request = parse(&read_body(body).await?)?;
    let route = admitted.plan(
        &gateway,
        &request.model,
        &Needs::plain(Mode::Embedding, request.prompt_tokens),
    )?;
    let wanted = EmbeddingsWanted {
        estimated_prompt_tokens: request.prompt_tokens,
        base64: request.body.get("encoding_format").and_then(Value::as_str) == Some("base64"),
    };
    let model = request.model.clone();
    let mut body = Reusable::new(request.body, route.may_retry());
    // Built before any call: input the upstream cannot take is the client's 400, not a call.
    let mut build = move |deployment: &Deployment| -> Result<Vec<UpstreamRequest>, ApiError> {
        let adapter = http_adapter(deployment, &model)?;
        let Some(embeddings) = adapter.embeddings() else {
            return Err(ApiError::bad_request(
                format!(
                    "The model `{model}` is served by `{}`, whose embeddings API Gatehouse does not speak yet.",
                    deployment.provider
                ),
                Some("model"),
            ));
        };
        let mut body = body.for_attempt().ok_or(ApiError::Internal)?;
        body.insert(
            "model".into(),
            Value::String(deployment.upstream_model.clone()),
        );
        embeddings.embeddings_requests(body)
    };
    let first_requests = build(route.first())?;
    let mut call = admitted.metered_call(
        CALL_TYPE_EMBEDDING,
        route.first().clone(),
        request.prompt_tokens,
        request.end_user,
        &request.tags,
        false,
    );
    let bound = CostBound {
        input_tokens: request.input_bound,
        ..CostBound::default()
    };
    admitted.hold(&gateway, &mut call, &route, &bound).await?;
    let exchange_gateway = gateway.clone();
    let exchange = async move {
        let gateway = exchange_gateway;
        let models = gateway.models.clone();
        let mut first_requests = Some(first_requests);
        route
            .run(&gateway.retry_budget, &*models, |deployment| {
                let upstream_requests = match first_requests.take() {
                    Some(requests) => Ok(requests),
                    None => build(&deployment),
                };
                let http = gateway.http.clone();
                async move {
                    let upstream_requests = upstream_requests?;
                    let replies: Vec<Bytes> = stream::iter(upstream_requests)
                        .map(|upstream_request| {
                            transport::fetch(&http, &deployment, upstream_request)
                        })
                        .buffered(CALLS_IN_FLIGHT)
                        .try_collect()
                        .await?;
                    let adapter = http_adapter(&deployment, &deployment.model_group)?;
                    let embeddings = adapter.embeddings().ok_or(ApiError::Internal)?;
                    embeddings.embeddings_reply(replies, &wanted)
                }
            })
            .await
    };
    metered(gateway, call, Box::pin(exchange)).await
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
