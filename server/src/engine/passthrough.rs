//! Calls whose reply is passed through as it arrives (generated speech): billed by what was
//! asked for once the upstream accepts the request, then the upstream's bytes stream to the
//! client. The attempts and the metering run in a tracked task, so a client that leaves early
//! cannot cancel the metering.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;

use crate::core::error::ApiError;
use crate::engine::attempt::PassthroughAttempt;
use crate::engine::call_headers::{insert_rate_limits, RouteHeaders};
use crate::engine::whole::insert_cost_headers;
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::transport;
use crate::routing::attempts::Route;
use crate::state::SharedGateway;

pub async fn relay(
    gateway: SharedGateway,
    call: MeteredCall,
    route: Route,
    mut attempts: Box<dyn PassthroughAttempt>,
) -> Result<Response, ApiError> {
    let task_gateway = gateway.clone();
    gateway
        .tasks
        .spawn(async move {
            let gateway = task_gateway;
            let routed = route
                .run(&gateway.retry_budget, &*gateway.models, |deployment| {
                    let http = gateway.http.clone();
                    let request = attempts.request(&deployment);
                    async move { transport::open_response(&http, &deployment, request?).await }
                })
                .await;
            let route_headers = RouteHeaders::of(
                &routed.deployment,
                &routed.trail,
                call.started,
                gateway.api_base_header,
            );
            let limits_left = call.admission.as_ref().map(|admission| admission.remaining);
            let call = MeteredCall {
                deployment: routed.deployment,
                trail: routed.trail,
                ..call
            };
            let upstream = match routed.result {
                Ok(upstream) => upstream,
                Err(error) => {
                    let outcome = CallOutcome::failed(error.status().as_u16());
                    gateway.meter.record(call, outcome).await;
                    return Err(error);
                }
            };
            let content_type = upstream
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
                .unwrap_or_else(|| attempts.default_content_type());
            let request_id = call.request_id.clone();
            let outcome = CallOutcome {
                http_status: 200,
                success: true,
                usage: Some(attempts.usage()),
                generated_chars: 0,
            };
            let cost_micros = gateway.meter.record(call, outcome).await;
            let mut response = Response::new(Body::from_stream(upstream.bytes_stream()));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            insert_cost_headers(&mut response, &request_id, cost_micros);
            route_headers.insert(response.headers_mut());
            if let Some(left) = &limits_left {
                insert_rate_limits(response.headers_mut(), left);
            }
            Ok(response)
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "passed-through call failed");
            ApiError::Internal
        })?
}
