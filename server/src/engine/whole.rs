//! Whole-reply calls: the route's attempts run in a tracked task (a client that disconnects
//! cannot cancel it or its metering), the call is metered once, and the reply answers with the
//! gateway's headers.

use std::future::Future;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

use crate::core::error::ApiError;
use crate::engine::attempt::{CallInfo, WholeAttempt};
use crate::engine::call_headers::RESPONSE_HEADERS;
use crate::engine::call_headers::{insert_call_id, insert_cost, insert_rate_limits, RouteHeaders};
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::adapter::ChatReply;
use crate::routing::attempts::{Route, Routed};
use crate::state::SharedGateway;

/// Runs the route's attempts and answers with the reply (its `content_type` when given).
pub async fn relay(
    gateway: SharedGateway,
    call: MeteredCall,
    route: Route,
    mut attempts: Box<dyn WholeAttempt>,
    content_type: Option<HeaderValue>,
) -> Result<Response, ApiError> {
    let info = CallInfo::of(&call);
    let exchange_gateway = gateway.clone();
    let exchange = async move {
        let gateway = exchange_gateway;
        let models = gateway.models.clone();
        route
            .run(&gateway.retry_budget, &*models, |deployment| {
                let info = info.on(&deployment);
                attempts.attempt(&gateway, deployment, &info)
            })
            .await
    };
    let mut response = metered(gateway, call, Box::pin(exchange)).await?;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    Ok(response)
}

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
