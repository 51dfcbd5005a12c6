//! `/v1/embeddings`: OpenAI's embeddings API to any deployment whose format has one, without
//! streams; an upstream that embeds fewer inputs per call is called several times, as one
//! metered call.

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use futures::FutureExt;
use serde_json::{Map, Value};

use crate::core::body::read_body;
use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::core::usage::estimate_tokens;
use crate::endpoints::native::http_adapter;
use crate::engine::litellm_fields::{self, LitellmFields, MetadataOwner};
use crate::engine::{Call, CallInfo, Cost, Endpoint, WholeAttempt};
use crate::metering::CALL_TYPE_EMBEDDING;
use crate::providers::adapter::{ChatReply, EmbeddingsWanted, UpstreamRequest};
use crate::providers::{transport, Deployment};
use crate::routing::attempts::{CostBound, Reusable, Route};
use crate::state::SharedGateway;
use app::model::identity;
use app::model::invalid;

/// Upstream calls one request may have in flight, where the upstream takes fewer inputs per
/// call than the client sent (Titan embeds one text per call).
const CALLS_IN_FLIGHT: usize = 8;

/// A validated embeddings request.
pub struct EmbeddingsRequest {
    model: String,
    prompt_tokens: u64,
    /// The most input tokens the request may hold: a token per text byte, or its token ids.
    input_bound: u64,
    end_user: Option<String>,
    litellm: LitellmFields,
    body: Map<String, Value>,
}

pub fn parse(bytes: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let mut body = invalid::json_object(bytes)?;
    let model = invalid::model(&body)?;
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
    let litellm = litellm_fields::take(&mut body, MetadataOwner::Litellm)?;
    Ok(EmbeddingsRequest {
        model,
        prompt_tokens,
        input_bound,
        end_user,
        litellm,
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

/// `/v1/embeddings`.
pub struct Embeddings {
    request: EmbeddingsRequest,
    wanted: EmbeddingsWanted,
    /// The route's first deployment's upstream requests, built once the route is known.
    first_requests: Option<Vec<UpstreamRequest>>,
}

impl Endpoint for Embeddings {
    async fn parse(_headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        let request = parse(&read_body(body).await?)?;
        let wanted = EmbeddingsWanted {
            estimated_prompt_tokens: request.prompt_tokens,
            base64: request.body.get("encoding_format").and_then(Value::as_str) == Some("base64"),
        };
        Ok(Embeddings {
            request,
            wanted,
            first_requests: None,
        })
    }

    fn call_type(&self) -> &'static str {
        CALL_TYPE_EMBEDDING
    }

    fn model(&self) -> &str {
        &self.request.model
    }

    fn needs(&self) -> Needs {
        Needs::plain(Mode::Embedding, self.request.prompt_tokens)
    }

    fn end_user(&self) -> Option<String> {
        self.request.end_user.clone()
    }

    fn litellm(&self) -> Option<&LitellmFields> {
        Some(&self.request.litellm)
    }

    /// Builds the first deployment's requests: input the upstream cannot take is the
    /// client's 400, before any limit or budget counts it.
    fn bind(&mut self, route: &Route) -> Result<(), ApiError> {
        // The body itself when no other attempt will need it.
        let body = if route.may_retry() {
            self.request.body.clone()
        } else {
            std::mem::take(&mut self.request.body)
        };
        self.first_requests = Some(build(route.first(), &self.request.model, body)?);
        Ok(())
    }

    fn cost(&self, _route: &Route) -> Result<Cost, ApiError> {
        Ok(Cost::Whole {
            bound: CostBound {
                input_tokens: self.request.input_bound,
                ..CostBound::default()
            },
            impose: None,
        })
    }

    fn into_call(self, route: &Route) -> Result<Call, ApiError> {
        Ok(Call::Whole {
            attempts: Box::new(EmbeddingsAttempts {
                model: self.request.model,
                body: Reusable::new(self.request.body, route.may_retry()),
                first_requests: self.first_requests,
                wanted: self.wanted,
            }),
            content_type: None,
        })
    }
}

/// The upstream requests that embed the request's input on `deployment`.
fn build(
    deployment: &Deployment,
    model: &str,
    mut body: Map<String, Value>,
) -> Result<Vec<UpstreamRequest>, ApiError> {
    let adapter = http_adapter(deployment, model)?;
    let Some(embeddings) = adapter.embeddings() else {
        return Err(ApiError::bad_request(
            format!(
                "The model `{model}` is served by `{}`, whose embeddings API Gatehouse does not speak yet.",
                deployment.provider
            ),
            Some("model"),
        ));
    };
    body.insert(
        "model".into(),
        Value::String(deployment.upstream_model.clone()),
    );
    embeddings.embeddings_requests(body)
}

struct EmbeddingsAttempts {
    model: String,
    body: Reusable<Map<String, Value>>,
    /// The first attempt's requests, built before limits and budgets counted the request.
    first_requests: Option<Vec<UpstreamRequest>>,
    wanted: EmbeddingsWanted,
}

impl WholeAttempt for EmbeddingsAttempts {
    fn attempt(
        &mut self,
        gateway: &SharedGateway,
        deployment: Arc<Deployment>,
        _call: &CallInfo,
    ) -> BoxFuture<'static, Result<ChatReply, ApiError>> {
        let upstream_requests = match self.first_requests.take() {
            Some(requests) => Ok(requests),
            None => self
                .body
                .for_attempt()
                .ok_or(ApiError::Internal)
                .and_then(|body| build(&deployment, &self.model, body)),
        };
        let (http, wanted) = (gateway.http.clone(), self.wanted);
        async move {
            let upstream_requests = upstream_requests?;
            let replies: Vec<Bytes> = stream::iter(upstream_requests)
                .map(|upstream_request| transport::fetch(&http, &deployment, upstream_request))
                .buffered(CALLS_IN_FLIGHT)
                .try_collect()
                .await?;
            let adapter = http_adapter(&deployment, &deployment.model_group)?;
            let embeddings = adapter.embeddings().ok_or(ApiError::Internal)?;
            embeddings.embeddings_reply(replies, &wanted)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(body: &str) -> Option<&'static str> {
        match parse(body.as_bytes()) {
            Err(error) if error.status().as_u16() == 400 => error.param(),
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
