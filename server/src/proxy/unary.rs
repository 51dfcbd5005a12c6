//! Non-streaming completions: call the upstream through its adapter, meter the reply, return it
//! in OpenAI's format with the gateway's headers.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

use crate::error::ApiError;
use crate::metering::usage::usage_of_body;
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::adapter::{to_body, unreadable_reply, ChatBody, ChatReply};
use crate::providers::{mock_response, transport, Upstream};
use crate::proxy::messages;
use crate::proxy::pipeline::Egress;
use crate::state::SharedGateway;

/// Runs the call in a tracked task: if the client disconnects, the call still completes and is
/// billed.
pub async fn complete(
    gateway: SharedGateway,
    call: MeteredCall,
    body: ChatBody,
    egress: Egress,
) -> Result<Response, ApiError> {
    let task_gateway = gateway.clone();
    gateway
        .tasks
        .spawn(call_and_meter(task_gateway, call, body, egress))
        .await
        .map_err(|error| {
            tracing::error!(%error, "completion task failed");
            ApiError::Internal
        })?
}

async fn call_and_meter(
    gateway: SharedGateway,
    call: MeteredCall,
    body: ChatBody,
    egress: Egress,
) -> Result<Response, ApiError> {
    match call_upstream(&gateway, &call, body).await {
        Ok(reply) => {
            let request_id = call.request_id.clone();
            let model_group = call.deployment.model_group.clone();
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
            let body = match egress {
                Egress::OpenAi => reply.body,
                Egress::Anthropic => {
                    let completion: serde_json::Value = serde_json::from_slice(&reply.body)
                        .map_err(|error| unreadable_reply("the adapter", &error))?;
                    let usage = reply.usage.unwrap_or_default();
                    to_body(&messages::reply::to_message(
                        &completion,
                        &usage,
                        &model_group,
                    ))?
                }
            };
            Ok(json_response(body, &request_id, cost_micros))
        }
        Err(error) => {
            gateway
                .meter
                .record(call, CallOutcome::failed(error.status().as_u16()))
                .await;
            Err(error)
        }
    }
}

async fn call_upstream(
    gateway: &SharedGateway,
    call: &MeteredCall,
    body: ChatBody,
) -> Result<ChatReply, ApiError> {
    let deployment = &call.deployment;
    match &deployment.upstream {
        Upstream::Mock => {
            let body =
                mock_response::completion(deployment, &call.request_id, call.prompt_estimate);
            Ok(ChatReply {
                usage: usage_of_body(&body),
                body,
            })
        }
        Upstream::Http(adapter) => {
            let request = adapter.chat_request(body, false)?;
            let reply = transport::fetch(&gateway.http, deployment, request).await?;
            adapter.chat_reply(reply, &call.reply_context())
        }
    }
}

pub fn json_response(body: Bytes, request_id: &str, cost_micros: i64) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    super::stream::insert_call_headers(headers, request_id);
    if let Ok(cost) = HeaderValue::from_str(&app::model::micros_to_dollars(cost_micros).to_string())
    {
        headers.insert("x-litellm-response-cost", cost);
    }
    response
}
