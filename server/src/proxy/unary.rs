//! Non-streaming completions: call the upstream, meter the reply, return it unchanged with the
//! gateway's headers.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

use crate::error::ApiError;
use crate::metering::usage::usage_of_body;
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::{mock_response, openai_compat, Upstream};
use crate::state::SharedGateway;

/// Runs the call in a tracked task: if the client disconnects, the call still completes and is
/// billed.
pub async fn complete(
    gateway: SharedGateway,
    call: MeteredCall,
    body: Bytes,
) -> Result<Response, ApiError> {
    let task_gateway = gateway.clone();
    gateway
        .tasks
        .spawn(call_and_meter(task_gateway, call, body))
        .await
        .map_err(|error| {
            tracing::error!(%error, "completion task failed");
            ApiError::Internal
        })?
}

async fn call_and_meter(
    gateway: SharedGateway,
    call: MeteredCall,
    body: Bytes,
) -> Result<Response, ApiError> {
    let deployment = call.deployment.clone();
    let reply = match &deployment.upstream {
        Upstream::Mock => Ok(mock_response::completion(
            &deployment,
            &call.request_id,
            call.prompt_estimate,
        )),
        Upstream::OpenAiCompatible {
            chat_completions_url,
        } => openai_compat::complete(&gateway.http, &deployment, chat_completions_url, body).await,
    };
    match reply {
        Ok(reply) => {
            let usage = usage_of_body(&reply);
            let request_id = call.request_id.clone();
            let outcome = CallOutcome {
                http_status: 200,
                success: true,
                usage,
                generated_chars: if usage.is_none() { reply.len() } else { 0 },
            };
            let cost_micros = gateway.meter.record(call, outcome).await;
            Ok(json_response(reply, &request_id, cost_micros))
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

fn json_response(body: Bytes, request_id: &str, cost_micros: i64) -> Response {
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
