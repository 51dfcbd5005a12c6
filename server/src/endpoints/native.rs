//! OpenAI endpoints beyond chat with JSON bodies — `/v1/completions`, `/v1/responses`,
//! `/v1/moderations`, `/v1/images/generations` and `/v1/rerank` — relayed in their own format to
//! upstreams that serve them (OpenAI, Azure, the compatible family, Cohere's rerank). Text
//! completions and responses are translated to chat for every other provider.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use futures::future::BoxFuture;
use futures::FutureExt;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::{json, Map, Value};

use crate::core::body::read_body;
use crate::core::capabilities::{Missing, Mode, Needs};
use crate::core::error::ApiError;
use crate::core::tokens::Encoding;
use crate::core::usage::estimate_tokens;
use crate::endpoints::chat::{chat_call, chat_cost, Egress};
use crate::endpoints::request::{choice_count, ChatRequest};
use crate::endpoints::translate::{completions, responses};
use crate::engine::litellm_fields::{self, LitellmFields, MetadataOwner};
use crate::engine::{
    Call, CallInfo, Cost, Endpoint, EventsAttempt, Opening, WholeAttempt, DEFAULT_OUTPUT_TOKENS,
};
use crate::providers::adapter::{
    to_body, ChatAdapter, ChatReply, StreamTranslator, UpstreamRequest,
};
use crate::providers::framing::Framing;
use crate::providers::native::NativeEndpoint;
use crate::providers::openai_responses::ResponsesRelay;
use crate::providers::{openai_compat, transport, Deployment, Upstream};
use crate::routing::attempts::{CostBound, Reusable, Route};
use crate::state::SharedGateway;
use app::model::identity;
use app::model::invalid::{self, Invalid, Problem};

/// Providers whose Responses API is called as it is; the others get it translated to chat.
const NATIVE_RESPONSES_PROVIDERS: &[&str] = &["openai", "azure"];

/// The model `/v1/moderations` uses when the request names none (OpenAI's default).
const DEFAULT_MODERATION_MODEL: &str = "omni-moderation-latest";

/// A validated request to a native JSON endpoint.
pub struct NativeRequest {
    pub model: String,
    pub body: Map<String, Value>,
    pub stream: bool,
    pub client_wants_usage: bool,
    pub end_user: Option<String>,
    /// LiteLLM's fields from the body.
    pub litellm: LitellmFields,
    pub prompt_tokens: u64,
    /// Choices each producing the whole output (`n`, and `best_of` for completions).
    pub choices: u64,
    /// The most the request may consume, but for outputs a deployment's limit bounds
    /// (`output_tokens` 0 when the request sets no limit).
    pub bound: CostBound,
}

/// Which native endpoint a `Native` serves.
pub trait NativeKind: Send + 'static {
    const ENDPOINT: NativeEndpoint;
}

/// `/v1/completions`.
pub struct Completions;
/// `/v1/responses`.
pub struct Responses;
/// `/v1/moderations`.
pub struct Moderations;
/// `/v1/images/generations`.
pub struct ImageGenerations;
/// `/v1/rerank`.
pub struct Rerank;

impl NativeKind for Completions {
    const ENDPOINT: NativeEndpoint = NativeEndpoint::Completions;
}
impl NativeKind for Responses {
    const ENDPOINT: NativeEndpoint = NativeEndpoint::Responses;
}
impl NativeKind for Moderations {
    const ENDPOINT: NativeEndpoint = NativeEndpoint::Moderations;
}
impl NativeKind for ImageGenerations {
    const ENDPOINT: NativeEndpoint = NativeEndpoint::ImageGenerations;
}
impl NativeKind for Rerank {
    const ENDPOINT: NativeEndpoint = NativeEndpoint::Rerank;
}

/// A native JSON endpoint's request: called in its own format where the route's first
/// deployment serves it so, else (completions, responses) translated to chat.
pub struct Native<K> {
    request: NativeRequest,
    /// The request as chat, for completions and responses (a translation error is the
    /// client's only if no deployment serves the request natively).
    as_chat: Option<Result<(ChatRequest, Egress), ApiError>>,
    /// Set once the route is known: serve it as chat.
    chat: Option<(ChatRequest, Egress)>,
    kind: PhantomData<K>,
}

impl<K: NativeKind> Endpoint for Native<K> {
    async fn parse(_headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        let request = NativeRequest::parse(K::ENDPOINT, &read_body(body).await?)?;
        // Completions and responses can also be served by any chat model, translated.
        let as_chat = match K::ENDPOINT {
            NativeEndpoint::Completions => Some(
                completions::to_chat_request(request.body.clone())
                    .map(|chat| (chat, Egress::TextCompletion)),
            ),
            NativeEndpoint::Responses => Some(
                responses::to_chat_request(request.body.clone())
                    .map(|chat| (chat, Egress::Responses)),
            ),
            _ => None,
        };
        Ok(Native {
            request,
            as_chat,
            chat: None,
            kind: PhantomData,
        })
    }

    fn call_type(&self) -> &'static str {
        K::ENDPOINT.call_type()
    }

    fn model(&self) -> &str {
        &self.request.model
    }

    fn needs(&self) -> Needs {
        match &self.as_chat {
            Some(Ok((chat, _))) => Needs {
                mode: K::ENDPOINT.mode(),
                ..chat.needs()
            },
            _ => Needs {
                streaming: self.request.stream,
                ..Needs::plain(K::ENDPOINT.mode(), self.request.prompt_tokens)
            },
        }
    }

    /// Served natively, the estimate of its own input; as chat, the chat's (`needs`).
    fn prompt_estimate(&self, needs: &Needs) -> u64 {
        match &self.chat {
            Some(_) => needs.prompt_tokens,
            None => self.request.prompt_tokens,
        }
    }

    fn streams(&self) -> bool {
        self.request.stream
    }

    fn end_user(&self) -> Option<String> {
        self.request.end_user.clone()
    }

    fn litellm(&self) -> Option<&LitellmFields> {
        Some(
            self.chat
                .as_ref()
                .map_or(&self.request.litellm, |(chat, _)| &chat.litellm),
        )
    }

    fn bind(&mut self, route: &Route) -> Result<(), ApiError> {
        if serves_natively(route.first(), K::ENDPOINT) {
            return Ok(());
        }
        match self.as_chat.take() {
            Some(translated) => {
                let (mut chat, egress) = translated?;
                chat.litellm = std::mem::take(&mut self.request.litellm);
                self.chat = Some((chat, egress));
                Ok(())
            }
            None => Err(ApiError::bad_request(
                format!(
                    "The model `{}` is served by `{}`, whose {} API Gatehouse does not speak.",
                    self.request.model,
                    route.first().provider,
                    K::ENDPOINT.path()
                ),
                Some("model"),
            )),
        }
    }

    fn cost(&self, route: &Route) -> Result<Cost, ApiError> {
        match &self.chat {
            Some((chat, _)) => Ok(chat_cost(chat)),
            None => native_cost(K::ENDPOINT, &self.request, route),
        }
    }

    fn exact_prompt_tokens(&self, encoding: Encoding) -> Option<u64> {
        self.chat.as_ref()?.0.exact_prompt_tokens(encoding)
    }

    fn limit_output(&mut self, tokens: u64) {
        match &mut self.chat {
            Some((chat, _)) => chat.limit_output_tokens(tokens),
            None => {
                if let Some(field) = K::ENDPOINT.output_limit_field() {
                    self.request.body.insert(field.into(), Value::from(tokens));
                }
            }
        }
    }

    fn payload(&self) -> Option<Value> {
        self.chat.as_ref().map(|(chat, _)| chat.payload())
    }

    fn into_call(self, route: &Route) -> Result<Call, ApiError> {
        if let Some((chat, egress)) = self.chat {
            return Ok(chat_call(chat, route, egress));
        }
        let mut request = self.request;
        if request.stream && K::ENDPOINT == NativeEndpoint::Completions {
            // The final usage chunk bills the stream; it reaches the client only if it asked.
            request
                .body
                .insert("stream_options".into(), json!({ "include_usage": true }));
        }
        let attempts = NativeAttempts {
            endpoint: K::ENDPOINT,
            model: request.model,
            body: Reusable::new(request.body, route.may_retry()),
            client_wants_usage: request.client_wants_usage,
        };
        Ok(if request.stream {
            Call::Events(Box::new(attempts))
        } else {
            Call::Whole {
                attempts: Box::new(attempts),
                content_type: None,
            }
        })
    }
}

/// A native request's worst case on `route`. Without an output limit, the largest any
/// deployment on the route declares, else the default, which the request is then held to
/// (nothing else bounds what it may cost).
fn native_cost(
    endpoint: NativeEndpoint,
    request: &NativeRequest,
    route: &Route,
) -> Result<Cost, ApiError> {
    let choices = request.choices;
    let mut bound = request.bound;
    let mut impose = None;
    if matches!(
        endpoint,
        NativeEndpoint::Completions | NativeEndpoint::Responses | NativeEndpoint::ImageGenerations
    ) && bound.output_tokens == 0
    {
        let declared = route.price_ceiling().max_output_tokens;
        let per_choice = declared.unwrap_or(DEFAULT_OUTPUT_TOKENS);
        bound.output_tokens = per_choice.saturating_mul(choices);
        if declared.is_none() && endpoint.output_limit_field().is_some() {
            impose = Some(per_choice);
        }
    }
    Ok(Cost::Whole { bound, impose })
}

/// The attempts of a native call: each to a deployment that serves the endpoint in its own
/// format; others are passed over.
struct NativeAttempts {
    endpoint: NativeEndpoint,
    model: String,
    body: Reusable<Map<String, Value>>,
    client_wants_usage: bool,
}

impl NativeAttempts {
    fn build(&mut self, deployment: &Deployment) -> Result<UpstreamRequest, ApiError> {
        if !serves_natively(deployment, self.endpoint) {
            // Passed over for the route's next deployment.
            return Err(ApiError::Unsupported {
                model: deployment.model_group.clone(),
                missing: Missing::Mode(self.endpoint.mode()),
            });
        }
        let url = http_adapter(deployment, &self.model)?
            .native_url(self.endpoint)
            .ok_or(ApiError::Internal)?
            .clone();
        let mut body = self.body.for_attempt().ok_or(ApiError::Internal)?;
        body.insert(
            "model".into(),
            Value::String(deployment.upstream_model.clone()),
        );
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(UpstreamRequest {
            url,
            headers,
            body: to_body(&Value::Object(body))?,
        })
    }
}

impl WholeAttempt for NativeAttempts {
    fn attempt(
        &mut self,
        gateway: &SharedGateway,
        deployment: Arc<Deployment>,
        _call: &CallInfo,
    ) -> BoxFuture<'static, Result<ChatReply, ApiError>> {
        let upstream_request = self.build(&deployment);
        let (http, endpoint) = (gateway.http.clone(), self.endpoint);
        async move {
            let reply = transport::fetch(&http, &deployment, upstream_request?).await?;
            Ok(ChatReply {
                usage: endpoint.reply_usage(&reply),
                body: reply,
            })
        }
        .boxed()
    }
}

impl EventsAttempt for NativeAttempts {
    fn open(&mut self, deployment: &Deployment, _call: &CallInfo) -> Result<Opening, ApiError> {
        let translator: Box<dyn StreamTranslator> = match self.endpoint {
            NativeEndpoint::Responses => Box::new(ResponsesRelay::default()),
            _ => openai_compat::pass_through(self.client_wants_usage),
        };
        Ok(Opening {
            request: Some(self.build(deployment)?),
            framing: Framing::ServerSentEvents,
            translator,
        })
    }
}

/// Whether the deployment is called at `endpoint` in its own format (rather than translated).
fn serves_natively(deployment: &Deployment, endpoint: NativeEndpoint) -> bool {
    let Upstream::Http(adapter) = &deployment.upstream else {
        return false;
    };
    if adapter.native_url(endpoint).is_none() {
        return false;
    }
    match endpoint {
        // OpenAI's chat models do not serve the legacy completions endpoint.
        NativeEndpoint::Completions => deployment.capabilities.mode != Some(Mode::Chat),
        NativeEndpoint::Responses => {
            NATIVE_RESPONSES_PROVIDERS.contains(&deployment.provider.as_str())
        }
        _ => true,
    }
}

/// The deployment's HTTP adapter; a `mock_response` deployment answers chat only.
pub fn http_adapter(
    deployment: &Deployment,
    model: &str,
) -> Result<Arc<dyn ChatAdapter>, ApiError> {
    match &deployment.upstream {
        Upstream::Http(adapter) => Ok(adapter.clone()),
        Upstream::Mock => Err(ApiError::bad_request(
            format!("The model `{model}` answers chat requests only."),
            Some("model"),
        )),
    }
}

impl NativeRequest {
    /// Reads and validates a request body for `endpoint`.
    pub fn parse(endpoint: NativeEndpoint, bytes: &[u8]) -> Result<NativeRequest, ApiError> {
        let mut body = invalid::json_object(bytes)?;
        let model = match (body.get("model"), endpoint) {
            (Some(Value::String(model)), _) if !model.is_empty() => model.clone(),
            (None | Some(Value::Null), NativeEndpoint::Moderations) => {
                DEFAULT_MODERATION_MODEL.to_string()
            }
            _ => return Err(Invalid::model_required().into()),
        };
        let stream = invalid::optional_bool(&body, "stream")?.unwrap_or(false);
        if stream
            && !matches!(
                endpoint,
                NativeEndpoint::Completions | NativeEndpoint::Responses
            )
        {
            return Err(bad(
                format!(
                    "Gatehouse does not stream `/v1/{}` replies.",
                    endpoint.path()
                ),
                Some("stream"),
            ));
        }
        let client_wants_usage = body
            .get("stream_options")
            .and_then(|options| options.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let end_user = identity::body_end_user(&body, "user")?;
        let metadata = match endpoint {
            NativeEndpoint::Responses => MetadataOwner::Provider,
            _ => MetadataOwner::Litellm,
        };
        let litellm = litellm_fields::take(&mut body, metadata)?;
        let prompt_tokens = prompt_tokens(endpoint, &body)?;
        let choices = choice_count(&body, "n")?.max(choice_count(&body, "best_of")?);
        let bound = native_bound(endpoint, &body, bytes.len())?;
        Ok(NativeRequest {
            model,
            body,
            stream,
            client_wants_usage,
            end_user,
            litellm,
            prompt_tokens,
            choices,
            bound,
        })
    }
}

/// Most images one `/v1/images/generations` request may ask for (OpenAI's own limit).
const MAX_IMAGES: u64 = 10;
/// Documents billed as one rerank search unit (Cohere's rule).
const RERANK_DOCUMENTS_PER_UNIT: u64 = 100;

/// The worst case of a native request: every byte of the body a token of input (no tokenizer
/// makes fewer than one byte a token), each of `n`/`best_of` choices up to its output limit,
/// `n` images, a rerank search unit per hundred documents.
fn native_bound(
    endpoint: NativeEndpoint,
    body: &Map<String, Value>,
    body_bytes: usize,
) -> Result<CostBound, ApiError> {
    let input_tokens = body_bytes as u64;
    let output_limit = |fields: &[&str]| {
        fields
            .iter()
            .find_map(|field| body.get(*field).and_then(Value::as_u64))
            .unwrap_or(0)
    };
    let bound = match endpoint {
        NativeEndpoint::Completions => {
            let choices = choice_count(body, "n")?.max(choice_count(body, "best_of")?);
            CostBound {
                input_tokens,
                output_tokens: output_limit(&["max_tokens"]).saturating_mul(choices),
                ..CostBound::default()
            }
        }
        NativeEndpoint::Responses => CostBound {
            input_tokens,
            output_tokens: output_limit(&["max_output_tokens"]),
            ..CostBound::default()
        },
        NativeEndpoint::ImageGenerations => {
            let images = choice_count(body, "n")?;
            if images > MAX_IMAGES {
                return Err(bad(
                    format!("`n` must be at most {MAX_IMAGES} images."),
                    Some("n"),
                ));
            }
            CostBound {
                input_tokens,
                images,
                ..CostBound::default()
            }
        }
        NativeEndpoint::Rerank => {
            let documents = body
                .get("documents")
                .and_then(Value::as_array)
                .map_or(0, Vec::len) as u64;
            CostBound {
                input_tokens,
                requests: documents.div_ceil(RERANK_DOCUMENTS_PER_UNIT).max(1),
                ..CostBound::default()
            }
        }
        _ => CostBound {
            input_tokens,
            ..CostBound::default()
        },
    };
    Ok(bound)
}

fn bad(message: impl Into<String>, param: Option<&'static str>) -> ApiError {
    ApiError::bad_request(message, param)
}

/// Checks the endpoint's required input and estimates its tokens.
fn prompt_tokens(endpoint: NativeEndpoint, body: &Map<String, Value>) -> Result<u64, ApiError> {
    let (field, input) = match endpoint {
        NativeEndpoint::Completions => ("prompt", body.get("prompt")),
        NativeEndpoint::Responses => ("input", body.get("input")),
        NativeEndpoint::Moderations => ("input", body.get("input")),
        NativeEndpoint::ImageGenerations => ("prompt", body.get("prompt")),
        NativeEndpoint::Rerank => {
            let query = body.get("query").and_then(Value::as_str).unwrap_or("");
            if query.is_empty() {
                return Err(Invalid::field("query", Problem::NotNonEmptyString).into());
            }
            match body.get("documents") {
                Some(Value::Array(documents)) if !documents.is_empty() => {
                    return Ok(estimate_tokens(
                        query.len() + documents.iter().map(text_bytes).sum::<usize>(),
                    ))
                }
                _ => {
                    return Err(bad(
                        "`documents` must be a non-empty array.",
                        Some("documents"),
                    ))
                }
            }
        }
        NativeEndpoint::AudioSpeech | NativeEndpoint::AudioTranscriptions => {
            return Err(ApiError::Internal)
        }
    };
    let bytes = match input {
        Some(Value::String(text)) if !text.is_empty() => text.len(),
        Some(Value::Array(items))
            if !items.is_empty() && endpoint != NativeEndpoint::ImageGenerations =>
        {
            items.iter().map(text_bytes).sum()
        }
        _ => {
            let shape = if endpoint == NativeEndpoint::ImageGenerations {
                "a non-empty string"
            } else {
                "a non-empty string or array"
            };
            return Err(ApiError::BadRequest {
                message: format!("`{field}` must be {shape}."),
                param: Some(if field == "prompt" { "prompt" } else { "input" }),
            });
        }
    };
    Ok(estimate_tokens(bytes))
}

/// Bytes of text in a JSON value (strings anywhere inside it; a token id counts four).
fn text_bytes(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Number(_) => 4,
        Value::Array(items) => items.iter().map(text_bytes).sum(),
        Value::Object(fields) => fields.values().map(text_bytes).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
