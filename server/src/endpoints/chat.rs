//! `/v1/chat/completions`, and the chat call every API shape served by a chat upstream shares
//! (Messages, Responses and text completions translated to chat): each attempt goes through the
//! deployment's adapter, and its reply or events come back in the caller's shape (`Egress`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

use crate::core::capabilities::Needs;
use crate::core::error::ApiError;
use crate::core::tokens::Encoding;
use crate::core::usage::{usage_of_body, Usage};
use crate::endpoints::request::{for_deployment, ChatRequest};
use crate::endpoints::translate::anthropic::stream::AnthropicEgress;
use crate::endpoints::translate::completions::{self, TextCompletionEgress};
use crate::endpoints::translate::egress::Egressed;
use crate::endpoints::translate::responses::stream::ResponsesEgress;
use crate::endpoints::translate::{anthropic, responses};
use crate::engine::litellm_fields::LitellmFields;
use crate::engine::{
    Call, CallInfo, Cost, Endpoint, EventsAttempt, Opening, OutputCost, WholeAttempt,
};
use crate::metering::CALL_TYPE_CHAT;
use crate::providers::adapter::{to_body, unreadable_reply, ChatBody, ChatReply, ReplyContext};
use crate::providers::framing::Framing;
use crate::providers::openai_params::{self, ParamChoice, ParamRules};
use crate::providers::{forwarding, mock_response, openai_compat, transport, Deployment, Upstream};
use crate::routing::attempts::{Reusable, Route};
use crate::state::SharedGateway;

/// The API shape a caller speaks: replies and events are written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// OpenAI chat completions (`/v1/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Responses (`/v1/responses`) served by a chat upstream.
    Responses,
    /// OpenAI text completions (`/v1/completions`) served by a chat upstream.
    TextCompletion,
}

/// `/v1/chat/completions`.
pub struct ChatCompletions(ChatRequest);

impl Endpoint for ChatCompletions {
    async fn parse(headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        let mut request = ChatRequest::read(body).await?;
        request.client_headers = forwarding::forwardable(headers);
        Ok(ChatCompletions(request))
    }

    fn call_type(&self) -> &'static str {
        CALL_TYPE_CHAT
    }

    fn model(&self) -> &str {
        &self.0.model
    }

    fn needs(&self) -> Needs {
        self.0.needs()
    }

    fn end_user(&self) -> Option<String> {
        self.0.end_user.clone()
    }

    fn litellm(&self) -> Option<&LitellmFields> {
        Some(&self.0.litellm)
    }

    fn cost(&self, _route: &Route) -> Result<Cost, ApiError> {
        Ok(chat_cost(&self.0))
    }

    fn exact_prompt_tokens(&self, encoding: Encoding) -> Option<u64> {
        self.0.exact_prompt_tokens(encoding)
    }

    fn limit_output(&mut self, tokens: u64) {
        self.0.limit_output_tokens(tokens);
    }

    fn payload(&self) -> Option<Value> {
        Some(self.0.payload())
    }

    fn into_call(self, route: &Route) -> Result<Call, ApiError> {
        Ok(chat_call(self.0, route, Egress::OpenAi))
    }
}

/// A chat request's cost: its prompt, and each choice's output, held to what budgets pay for.
pub fn chat_cost(request: &ChatRequest) -> Cost {
    Cost::Output(OutputCost {
        prompt_bound: request.prompt_token_bound(),
        max_output: request.max_output_tokens(),
        choices: request.choices(),
    })
}

/// A chat request's attempts, each through the deployment's adapter, answered in `egress`.
pub fn chat_call(mut request: ChatRequest, route: &Route, egress: Egress) -> Call {
    let streams = request.stream;
    let client_wants_usage = request.client_wants_usage;
    let params = std::mem::take(&mut request.litellm.params);
    let client_headers = std::mem::take(&mut request.client_headers);
    let attempts = ChatAttempts {
        client_headers,
        body: Reusable::new(request.into_body(), route.may_retry()),
        client_wants_usage,
        egress,
        params,
        config_drops: route.drops_params(),
    };
    if streams {
        Call::Events(Box::new(attempts))
    } else {
        Call::Whole {
            attempts: Box::new(attempts),
            content_type: None,
        }
    }
}

/// What each attempt of a chat call draws on.
struct ChatAttempts {
    body: Reusable<ChatBody>,
    client_wants_usage: bool,
    egress: Egress,
    /// The request's `drop_params`, `additional_drop_params`, `allowed_openai_params`.
    params: ParamRules,
    /// `litellm_settings.drop_params`.
    config_drops: bool,
    /// The client's headers, for deployments whose group forwards them.
    client_headers: HeaderMap,
}

impl ChatAttempts {
    /// The next attempt's body, for `deployment`: its upstream model id, and only the OpenAI
    /// parameters its provider takes (or a 400 naming one it lacks, before any call).
    fn body_for(&mut self, deployment: &Deployment) -> Result<ChatBody, ApiError> {
        let mut body = for_deployment(
            self.body.for_attempt().ok_or(ApiError::Internal)?,
            deployment,
        );
        let supported = match &deployment.upstream {
            Upstream::Http(adapter) => adapter.openai_params(),
            Upstream::Mock => None,
        };
        let choice = ParamChoice {
            request: &self.params,
            deployment: &deployment.params,
            config_drops: self.config_drops,
        };
        openai_params::fit(
            &mut body,
            supported,
            &deployment.provider,
            &deployment.upstream_model,
            &choice,
        )?;
        Ok(body)
    }
}

/// A `chat.completion` re-expressed in another API's shape (completion, usage, public model
/// name, ids).
type ReExpress = fn(&Value, &Usage, &str, &ReplyContext) -> Value;

impl WholeAttempt for ChatAttempts {
    fn attempt(
        &mut self,
        gateway: &SharedGateway,
        deployment: Arc<Deployment>,
        call: &CallInfo,
    ) -> BoxFuture<'static, Result<ChatReply, ApiError>> {
        let body = self.body_for(&deployment);
        let forwarded = deployment
            .forward_client_headers
            .then(|| self.client_headers.clone());
        let (http, egress, call) = (gateway.http.clone(), self.egress, call.clone());
        async move {
            let body = body?;
            let reply = match &deployment.upstream {
                Upstream::Mock => {
                    let body = mock_response::completion(
                        &deployment,
                        &call.request_id,
                        call.prompt_estimate,
                    );
                    ChatReply {
                        usage: usage_of_body(&body),
                        body,
                    }
                }
                Upstream::Http(adapter) => {
                    let mut request = adapter.chat_request(body, false)?;
                    if let Some(forwarded) = &forwarded {
                        forwarding::add_to(&mut request.headers, forwarded);
                    }
                    let reply = transport::fetch(&http, &deployment, request).await?;
                    adapter.chat_reply(reply, &call.context)?
                }
            };
            reexpress(reply, egress, &deployment, &call.context)
        }
        .boxed()
    }
}

/// The reply in the caller's shape.
fn reexpress(
    reply: ChatReply,
    egress: Egress,
    deployment: &Deployment,
    context: &ReplyContext,
) -> Result<ChatReply, ApiError> {
    let reexpress: ReExpress = match egress {
        Egress::OpenAi => return Ok(reply),
        Egress::Anthropic => {
            |completion, usage, model, _| anthropic::reply::to_message(completion, usage, model)
        }
        Egress::Responses => responses::reply::to_response,
        Egress::TextCompletion => {
            |completion, usage, model, _| completions::to_text_completion(completion, usage, model)
        }
    };
    let completion: Value = serde_json::from_slice(&reply.body)
        .map_err(|error| unreadable_reply("the adapter", &error))?;
    let usage = reply.usage.unwrap_or_default();
    let body = reexpress(&completion, &usage, &deployment.model_group, context);
    Ok(ChatReply {
        body: to_body(&body)?,
        usage: reply.usage,
    })
}

impl EventsAttempt for ChatAttempts {
    fn open(&mut self, deployment: &Deployment, call: &CallInfo) -> Result<Opening, ApiError> {
        let body = self.body_for(deployment)?;
        // Other APIs' events carry the usage at the end, so their egress always asks for it.
        let wants_usage = self.client_wants_usage || self.egress != Egress::OpenAi;
        let (request, framing, translator) = match &deployment.upstream {
            Upstream::Mock => (
                None,
                Framing::ServerSentEvents,
                openai_compat::pass_through(wants_usage),
            ),
            Upstream::Http(adapter) => (
                Some({
                    let mut request = adapter.chat_request(body, true)?;
                    if deployment.forward_client_headers {
                        forwarding::add_to(&mut request.headers, &self.client_headers);
                    }
                    request
                }),
                adapter.framing(),
                adapter.stream_translator(call.context.clone(), wants_usage),
            ),
        };
        let model = deployment.model_group.clone();
        let translator: Box<dyn crate::providers::adapter::StreamTranslator> = match self.egress {
            Egress::OpenAi => translator,
            Egress::Anthropic => Box::new(Egressed::new(translator, AnthropicEgress::new(model))),
            Egress::Responses => Box::new(Egressed::new(
                translator,
                ResponsesEgress::new(model, call.context.clone()),
            )),
            Egress::TextCompletion => Box::new(Egressed::new(
                translator,
                TextCompletionEgress::new(model, self.client_wants_usage),
            )),
        };
        Ok(Opening {
            request,
            framing,
            translator,
        })
    }
}
