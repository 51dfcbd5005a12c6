//! Whole-reply calls: the exchange runs in a tracked task (a client that disconnects cannot
//! cancel it or its metering), is metered once, and answers with the gateway's headers. Chat
//! replies are re-expressed in the caller's API shape here.

use std::future::Future;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use crate::core::error::ApiError;
use crate::core::usage::{usage_of_body, Usage};
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::adapter::{to_body, unreadable_reply, ChatBody, ChatReply, ReplyContext};
use crate::providers::{mock_response, transport, Deployment, Upstream};
use crate::proxy::call_headers::{insert_call_id, insert_cost, insert_rate_limits, RouteHeaders};
use crate::proxy::pipeline::Egress;
use crate::proxy::request::for_deployment;
use crate::proxy::{completions, messages, responses};
use crate::routing::attempts::{Reusable, Route, Routed};
use crate::state::SharedGateway;

/// Runs `exchange` (a route's attempts) in a tracked task and meters its outcome: the reply's
/// usage on success (estimated from its size when it reports none), a failed row otherwise.
pub async fn metered(
    gateway: SharedGateway,
    call: MeteredCall,
    exchange: impl Future<Output = Routed<ChatReply>> + Send + 'static,
) -> Result<Response, ApiError> {
    let task_gateway = gateway.clone();
    // Boxed: the task then holds a pointer, not the whole call, which tokio would copy as it
    // moves the task through its stages.
    gateway
        .tasks
        .spawn(Box::pin(async move {
            let gateway = task_gateway;
            let routed = exchange.await;
            let route_headers = RouteHeaders::of(
                &routed.deployment,
                &routed.trail,
                call.started,
                gateway.api_base_header,
            );
            let limits_left = call.admission.as_ref().map(|admission| admission.remaining);
            let mut call = MeteredCall {
                deployment: routed.deployment,
                trail: routed.trail,
                ..call
            };
            match routed.result {
                Ok(reply) => {
                    call.keep_reply(&reply.body);
                    let request_id = call.request_id.clone();
                    let outcome = CallOutcome {
                        http_status: 200,
                        success: true,
                        usage: reply.usage,
                        generated_chars: if reply.usage.is_none() {
                            reply.body.len()
                        } else {
                            0
                        },
                    };
                    let cost_micros = gateway.meter.record(call, outcome).await;
                    let mut response = json_response(reply.body, &request_id, cost_micros);
                    route_headers.insert(response.headers_mut());
                    if let Some(left) = &limits_left {
                        insert_rate_limits(response.headers_mut(), left);
                    }
                    Ok(response)
                }
                Err(error) => {
                    gateway
                        .meter
                        .record(call, CallOutcome::failed(error.status().as_u16()))
                        .await;
                    Err(error)
                }
            }
        }))
        .await
        .map_err(|error| {
            tracing::error!(%error, "call task failed");
            ApiError::Internal
        })?
}

/// A chat call through each attempted deployment's adapter, the reply in the caller's API
/// shape.
pub async fn complete(
    gateway: SharedGateway,
    call: MeteredCall,
    route: Route,
    mut body: Reusable<ChatBody>,
    egress: Egress,
) -> Result<Response, ApiError> {
    let exchange_gateway = gateway.clone();
    let request_id = call.request_id.clone();
    let context = call.reply_context();
    let prompt_estimate = call.prompt_estimate;
    let exchange = async move {
        let gateway = exchange_gateway;
        let models = gateway.models.clone();
        route
            .run(&gateway.retry_budget, &*models, |deployment| {
                let body = body.for_attempt();
                let context = ReplyContext {
                    model: deployment.upstream_model.clone(),
                    ..context.clone()
                };
                chat_exchange(
                    gateway.clone(),
                    deployment,
                    request_id.clone(),
                    context,
                    prompt_estimate,
                    body,
                    egress,
                )
            })
            .await
    };
    metered(gateway, call, Box::pin(exchange)).await
}

/// Headers a whole reply carries at most: its type, call id, cost, route and rate limits.
pub const RESPONSE_HEADERS: usize = 24;

/// A `chat.completion` re-expressed in another API's shape (completion, usage, public model
/// name, ids).
type ReExpress = fn(&Value, &Usage, &str, &ReplyContext) -> Value;

async fn chat_exchange(
    gateway: SharedGateway,
    deployment: Arc<Deployment>,
    request_id: String,
    context: ReplyContext,
    prompt_estimate: u64,
    body: Option<ChatBody>,
    egress: Egress,
) -> Result<ChatReply, ApiError> {
    let body = for_deployment(body.ok_or(ApiError::Internal)?, &deployment);
    let reply = match &deployment.upstream {
        Upstream::Mock => {
            let body = mock_response::completion(&deployment, &request_id, prompt_estimate);
            ChatReply {
                usage: usage_of_body(&body),
                body,
            }
        }
        Upstream::Http(adapter) => {
            let request = adapter.chat_request(body, false)?;
            let reply = transport::fetch(&gateway.http, &deployment, request).await?;
            adapter.chat_reply(reply, &context)?
        }
    };
    let reexpress: ReExpress = match egress {
        Egress::OpenAi => return Ok(reply),
        Egress::Anthropic => {
            |completion, usage, model, _| messages::reply::to_message(completion, usage, model)
        }
        Egress::Responses => responses::reply::to_response,
        Egress::TextCompletion => {
            |completion, usage, model, _| completions::to_text_completion(completion, usage, model)
        }
    };
    let completion: Value = serde_json::from_slice(&reply.body)
        .map_err(|error| unreadable_reply("the adapter", &error))?;
    let usage = reply.usage.unwrap_or_default();
    let body = reexpress(&completion, &usage, &deployment.model_group, &context);
    Ok(ChatReply {
        body: to_body(&body)?,
        usage: reply.usage,
    })
}

pub fn json_response(body: Bytes, request_id: &str, cost_micros: i64) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    // Room for every header the gateway adds, allocated once.
    response.headers_mut().reserve(RESPONSE_HEADERS);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert_cost_headers(&mut response, request_id, cost_micros);
    response
}

/// The call id and, LiteLLM-style, its cost.
pub fn insert_cost_headers(response: &mut Response, request_id: &str, cost_micros: i64) {
    let headers = response.headers_mut();
    insert_call_id(headers, request_id);
    insert_cost(headers, cost_micros);
}
