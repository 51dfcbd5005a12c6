//! Streaming completions: upstream SSE events are relayed one by one as they arrive. The relay
//! runs in a tracked task that keeps reading the upstream to its final usage even after the
//! client left, strips the usage chunk the client did not ask for, and ends a stream that fails
//! midway with an explicit error event. Exactly one spend row either way.

use std::convert::Infallible;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::error::{sse_error_event, ApiError};
use crate::metering::usage::{inspect_chunk, Usage};
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::sse::{data_payload, SseSplitter};
use crate::providers::{mock_response, openai_compat, ByteStream, Upstream};
use crate::state::SharedGateway;

/// Events buffered between the relay task and a slow client.
const CLIENT_BUFFER_EVENTS: usize = 64;

pub async fn relay(
    gateway: SharedGateway,
    call: MeteredCall,
    body: Bytes,
    client_wants_usage: bool,
) -> Result<Response, ApiError> {
    let request_id = call.request_id.clone();
    let (opened_sender, opened) = oneshot::channel();
    let task_gateway = gateway.clone();
    gateway.tasks.spawn(pump(
        task_gateway,
        call,
        body,
        client_wants_usage,
        opened_sender,
    ));
    let events = opened.await.map_err(|_| ApiError::Internal)??;
    Ok(sse_response(events, &request_id))
}

/// The gateway's identifying headers on every completion response.
pub fn insert_call_headers(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value.clone());
        headers.insert("x-litellm-call-id", value);
    }
}

fn sse_response(mut events: mpsc::Receiver<Bytes>, request_id: &str) -> Response {
    let body = futures::stream::poll_fn(move |context| {
        events
            .poll_recv(context)
            .map(|event| event.map(Ok::<Bytes, Infallible>))
    });
    let mut response = Response::new(axum::body::Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    insert_call_headers(headers, request_id);
    response
}

async fn open(
    gateway: &SharedGateway,
    call: &MeteredCall,
    body: Bytes,
) -> Result<ByteStream, ApiError> {
    let deployment = &call.deployment;
    match &deployment.upstream {
        Upstream::Mock => Ok(mock_response::stream(
            deployment,
            &call.request_id,
            call.prompt_estimate,
        )),
        Upstream::OpenAiCompatible {
            chat_completions_url,
        } => {
            openai_compat::open_stream(&gateway.http, deployment, chat_completions_url, body).await
        }
    }
}

/// What the relay learned by the end of the stream.
#[derive(Default)]
struct StreamTally {
    usage: Option<Usage>,
    generated_chars: usize,
    failure: Option<String>,
}

async fn pump(
    gateway: SharedGateway,
    call: MeteredCall,
    body: Bytes,
    client_wants_usage: bool,
    opened: oneshot::Sender<Result<mpsc::Receiver<Bytes>, ApiError>>,
) {
    let mut upstream = match open(&gateway, &call, body).await {
        Ok(upstream) => upstream,
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
    let mut client = opened.send(Ok(receiver)).ok().map(|()| sender);

    let idle_limit = call.deployment.stream_timeout;
    let mut splitter = SseSplitter::default();
    let mut tally = StreamTally::default();
    loop {
        let piece = match tokio::time::timeout(idle_limit, upstream.next()).await {
            Err(_) => {
                tally.failure = Some("the upstream stopped sending".into());
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, request_id = %call.request_id, "upstream stream failed");
                tally.failure = Some("the upstream connection failed mid-stream".into());
                break;
            }
            Ok(Some(Ok(piece))) => piece,
        };
        splitter.push(&piece);
        while let Some(event) = splitter.next_event() {
            if !should_forward(&event, client_wants_usage, &mut tally) {
                continue;
            }
            if let Some(live) = &client {
                if live.send(event).await.is_err() {
                    // The client left: keep reading so the request is billed in full.
                    client = None;
                }
            }
        }
    }
    if tally.failure.is_none() && !splitter.remainder().is_empty() {
        // A last event the upstream did not terminate with a blank line.
        let mut last = splitter.remainder().to_vec();
        last.extend_from_slice(b"\n\n");
        if should_forward(&last, client_wants_usage, &mut tally) {
            if let Some(live) = &client {
                let _ = live.send(Bytes::from(last)).await;
            }
        }
    }
    if let (Some(message), Some(live)) = (&tally.failure, &client) {
        let _ = live.send(sse_error_event(message, "api_error")).await;
    }
    drop(client);
    let outcome = CallOutcome {
        http_status: 200,
        success: tally.failure.is_none(),
        usage: tally.usage,
        generated_chars: tally.generated_chars,
    };
    gateway.meter.record(call, outcome).await;
}

/// Records what an event tells about usage; false for the usage-only chunk the client did not
/// ask for.
fn should_forward(event: &[u8], client_wants_usage: bool, tally: &mut StreamTally) -> bool {
    let Some(data) = data_payload(event) else {
        return true;
    };
    if data.as_ref() == b"[DONE]" {
        return true;
    }
    let Some(facts) = inspect_chunk(&data) else {
        return true;
    };
    tally.generated_chars += facts.generated_chars;
    if facts.usage.is_some() {
        tally.usage = facts.usage;
    }
    !facts.usage_only || client_wants_usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_unrequested_usage_chunk() {
        let mut tally = StreamTally::default();
        let text = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
        let usage =
            b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n";
        assert!(should_forward(text, false, &mut tally));
        assert!(!should_forward(usage, false, &mut tally));
        assert!(should_forward(b"data: [DONE]\n\n", false, &mut tally));
        assert_eq!(tally.generated_chars, 2);
        assert_eq!(
            tally.usage,
            Some(Usage {
                prompt_tokens: 4,
                completion_tokens: 1
            })
        );
        assert!(should_forward(usage, true, &mut StreamTally::default()));
    }
}
