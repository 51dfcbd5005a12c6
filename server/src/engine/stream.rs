//! Streaming completions: upstream events are translated (or, for OpenAI-format upstreams,
//! relayed as they are) one by one as they arrive. The relay runs in a tracked task that keeps
//! reading the upstream to its final usage even after the client left, and ends a stream that
//! fails midway with an explicit error event. Exactly one spend row either way.

use std::convert::Infallible;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::core::error::ApiError;
use crate::core::prices::tokens_cost_ceiling;
use crate::core::provider_error::ProviderError;
use crate::core::provider_error::StreamFailure;
use crate::core::usage::estimate_tokens;
use crate::engine::attempt::{CallInfo, EventsAttempt, Opening};
use crate::engine::call_headers::RESPONSE_HEADERS;
use crate::engine::call_headers::{insert_call_id, insert_rate_limits, RouteHeaders};
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::adapter::StreamTranslator;
use crate::providers::framing::{Deframer, Framing};
use crate::providers::{mock_response, transport, ByteStream, Deployment};
use crate::routing::attempts::Route;
use crate::state::SharedGateway;

/// Events buffered between the relay task and a slow client.
const CLIENT_BUFFER_EVENTS: usize = 64;

/// What the call's stream was opened with: the response headers' parts known when it starts.
type Opened = Result<(mpsc::Receiver<Bytes>, RouteHeaders), ApiError>;

pub async fn relay(
    gateway: SharedGateway,
    call: MeteredCall,
    route: Route,
    attempts: Box<dyn EventsAttempt>,
) -> Result<Response, ApiError> {
    let request_id = call.request_id.clone();
    let limits_left = call.admission.as_ref().map(|admission| admission.remaining);
    let (opened_sender, opened) = oneshot::channel();
    let task_gateway = gateway.clone();
    gateway.tasks.spawn(Box::pin(pump(
        task_gateway,
        call,
        route,
        attempts,
        opened_sender,
    )));
    let (events, route_headers) = opened.await.map_err(|_| ApiError::Internal)??;
    let mut response = sse_response(events, &request_id);
    route_headers.insert(response.headers_mut());
    if let Some(left) = &limits_left {
        insert_rate_limits(response.headers_mut(), left);
    }
    Ok(response)
}

fn sse_response(mut events: mpsc::Receiver<Bytes>, request_id: &str) -> Response {
    let body = futures::stream::poll_fn(move |context| {
        events
            .poll_recv(context)
            .map(|event| event.map(Ok::<Bytes, Infallible>))
    });
    let mut response = Response::new(axum::body::Body::from_stream(body));
    let headers = response.headers_mut();
    headers.reserve(RESPONSE_HEADERS);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    insert_call_id(headers, request_id);
    response
}

/// An upstream stream that has sent its first bytes: those bytes, the rest, how they are
/// framed, and the translator of its frames.
struct OpenStream {
    first: Bytes,
    upstream: ByteStream,
    framing: Framing,
    translator: Box<dyn StreamTranslator>,
}

/// Opens the stream and waits for its first bytes, within the deployment's `stream_timeout`:
/// until then the attempt may still fail over, after them it may not.
async fn open_first(
    gateway: SharedGateway,
    deployment: Arc<Deployment>,
    opening: Opening,
    call: CallInfo,
) -> Result<OpenStream, ApiError> {
    let Opening {
        request,
        framing,
        translator,
    } = opening;
    let mut upstream = match request {
        None => mock_response::stream(&deployment, &call.request_id, call.prompt_estimate),
        Some(request) => transport::open_stream(&gateway.http, &deployment, request).await?,
    };
    let limit = deployment.stream_timeout;
    let first = match tokio::time::timeout(limit, upstream.next()).await {
        Err(_) => {
            return Err(ApiError::Upstream(ProviderError::Timeout(
                limit.as_secs().max(1),
            )))
        }
        Ok(None) => {
            return Err(ApiError::Upstream(ProviderError::Failed(
                "the upstream closed the stream before sending anything".into(),
            )))
        }
        Ok(Some(Err(error))) => {
            tracing::warn!(%error, request_id = %call.request_id, "upstream stream failed at once");
            return Err(ApiError::Upstream(ProviderError::Failed(
                "the upstream connection failed before the first byte".into(),
            )));
        }
        Ok(Some(Ok(first))) => first,
    };
    Ok(OpenStream {
        first,
        upstream,
        framing,
        translator,
    })
}

async fn pump(
    gateway: SharedGateway,
    call: MeteredCall,
    route: Route,
    mut attempts: Box<dyn EventsAttempt>,
    opened: oneshot::Sender<Opened>,
) {
    let info = CallInfo::of(&call);
    let models = gateway.models.clone();
    let routed = route
        .run(&gateway.retry_budget, &*models, |deployment| {
            let info = info.on(&deployment);
            let opening = attempts.open(&deployment, &info);
            let gateway = gateway.clone();
            async move { open_first(gateway, deployment, opening?, info).await }
        })
        .await;
    let route_headers = RouteHeaders::of(
        &routed.deployment,
        &routed.trail,
        call.started,
        gateway.api_base_header,
    );
    let call = MeteredCall {
        deployment: routed.deployment,
        trail: routed.trail,
        ..call
    };
    // Counted in flight on its deployment until the stream ends.
    let _busy = routed.busy;
    let OpenStream {
        first,
        mut upstream,
        framing,
        mut translator,
    } = match routed.result {
        Ok(opened) => opened,
        Err(error) => {
            gateway
                .meter
                .record(call, CallOutcome::failed(error.status().as_u16()))
                .await;
            // The client may already be gone; then there is nobody to tell.
            let _ = opened.send(Err(error));
            return;
        }
    };
    let (sender, receiver) = mpsc::channel(CLIENT_BUFFER_EVENTS);
    let mut client = opened
        .send(Ok((receiver, route_headers)))
        .ok()
        .map(|()| sender);

    let idle_limit = call.deployment.stream_timeout;
    let mut deframer = Deframer::new(framing);
    let mut transport_failure = None;
    let mut out = Vec::new();
    let mut piece = Some(first);
    // Set when the stream is ended for its budget: the output delivered (and billed) so far.
    let mut delivered_chars = None;
    loop {
        if let Some(piece) = piece.take() {
            let before = translator.generated_chars();
            deframer.push(&piece);
            while let Some(frame) = deframer.next_frame() {
                match frame {
                    Ok(frame) => translator.push(frame, &mut out),
                    Err(error) => {
                        tracing::warn!(%error, request_id = %call.request_id, "unreadable upstream stream");
                        transport_failure = Some(StreamFailure::Malformed);
                        break;
                    }
                }
            }
            if over_allowance(&call, translator.generated_chars()) {
                // This piece is neither delivered nor billed.
                out.clear();
                delivered_chars = Some(before);
                transport_failure = Some(StreamFailure::BudgetExhausted);
                break;
            }
            send_all(&mut client, &mut out).await;
            if transport_failure.is_some() {
                break;
            }
        }
        piece = match tokio::time::timeout(idle_limit, upstream.next()).await {
            Err(_) => {
                transport_failure = Some(StreamFailure::Stalled);
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, request_id = %call.request_id, "upstream stream failed");
                transport_failure = Some(StreamFailure::Broken);
                break;
            }
            Ok(Some(Ok(piece))) => Some(piece),
        };
    }
    match transport_failure {
        Some(failure) => translator.fail(failure, &mut out),
        None => {
            // A last event the upstream did not terminate with a blank line.
            if let Some(last) = deframer.remainder() {
                translator.push(last, &mut out);
            }
            translator.finish(&mut out);
        }
    }
    send_all(&mut client, &mut out).await;
    drop(client);
    let outcome = CallOutcome {
        http_status: 200,
        success: transport_failure.is_none() && translator.upstream_error().is_none(),
        usage: translator.usage(),
        generated_chars: delivered_chars.unwrap_or_else(|| translator.generated_chars()),
    };
    gateway.meter.record(call, outcome).await;
}

/// Whether a stream's output so far costs more than its reservation left for output.
fn over_allowance(call: &MeteredCall, generated_chars: usize) -> bool {
    call.output_allowance.is_some_and(|allowance| {
        let produced = estimate_tokens(generated_chars);
        tokens_cost_ceiling(produced, call.deployment.prices.output_micros_per_mtok) > allowance
    })
}

/// Sends translated events to the client while it listens; after it left, they are dropped and
/// the upstream is still read to the end so the request is billed in full.
async fn send_all(client: &mut Option<mpsc::Sender<Bytes>>, out: &mut Vec<Bytes>) {
    for event in out.drain(..) {
        if let Some(live) = client {
            if live.send(event).await.is_err() {
                *client = None;
            }
        }
    }
}
