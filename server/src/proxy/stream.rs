//! Streaming completions: upstream events are translated (or, for OpenAI-format upstreams,
//! relayed as they are) one by one as they arrive. The relay runs in a tracked task that keeps
//! reading the upstream to its final usage even after the client left, and ends a stream that
//! fails midway with an explicit error event. Exactly one spend row either way.

use std::convert::Infallible;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::adapter::{ChatBody, StreamTranslator, UpstreamRequest};
use crate::providers::framing::{Deframer, Framing};
use crate::providers::{mock_response, openai_compat, transport, ByteStream, Upstream};
use crate::proxy::completions::TextCompletionEgress;
use crate::proxy::egress::Egressed;
use crate::proxy::messages::stream::AnthropicEgress;
use crate::proxy::pipeline::Egress;
use crate::proxy::responses::stream::ResponsesEgress;
use crate::state::SharedGateway;

/// Events buffered between the relay task and a slow client.
const CLIENT_BUFFER_EVENTS: usize = 64;

/// What a relay opens upstream.
pub enum Source {
    /// A chat request through the deployment's adapter, its chunks re-expressed for `egress`.
    Chat {
        body: ChatBody,
        client_wants_usage: bool,
        egress: Egress,
    },
    /// A request in the upstream's own format, its events relayed by `translator`.
    Native {
        request: Box<UpstreamRequest>,
        translator: Box<dyn StreamTranslator>,
    },
}

pub async fn relay(
    gateway: SharedGateway,
    call: MeteredCall,
    source: Source,
) -> Result<Response, ApiError> {
    let request_id = call.request_id.clone();
    let (opened_sender, opened) = oneshot::channel();
    let task_gateway = gateway.clone();
    gateway
        .tasks
        .spawn(pump(task_gateway, call, source, opened_sender));
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

/// An open upstream stream: its bytes, how they are framed, and the translator of its frames.
struct OpenStream {
    upstream: ByteStream,
    framing: Framing,
    translator: Box<dyn StreamTranslator>,
}

/// Opens the upstream stream and the translator for its events.
async fn open(
    gateway: &SharedGateway,
    call: &MeteredCall,
    source: Source,
) -> Result<OpenStream, ApiError> {
    let deployment = &call.deployment;
    let (body, client_wants_usage, egress) = match source {
        Source::Chat {
            body,
            client_wants_usage,
            egress,
        } => (body, client_wants_usage, egress),
        Source::Native {
            request,
            translator,
        } => {
            return Ok(OpenStream {
                upstream: transport::open_stream(&gateway.http, deployment, *request).await?,
                framing: Framing::ServerSentEvents,
                translator,
            })
        }
    };
    // Other APIs' events carry the usage at the end, so their egress always asks for it.
    let wants_usage = client_wants_usage || egress != Egress::OpenAi;
    let (upstream, framing, translator) = match &deployment.upstream {
        Upstream::Mock => (
            mock_response::stream(deployment, &call.request_id, call.prompt_estimate),
            Framing::ServerSentEvents,
            openai_compat::pass_through(wants_usage),
        ),
        Upstream::Http(adapter) => {
            let request = adapter.chat_request(body, true)?;
            let upstream = transport::open_stream(&gateway.http, deployment, request).await?;
            (
                upstream,
                adapter.framing(),
                adapter.stream_translator(call.reply_context(), wants_usage),
            )
        }
    };
    let model = call.deployment.model_group.clone();
    let translator: Box<dyn StreamTranslator> = match egress {
        Egress::OpenAi => translator,
        Egress::Anthropic => Box::new(Egressed::new(translator, AnthropicEgress::new(model))),
        Egress::Responses => Box::new(Egressed::new(
            translator,
            ResponsesEgress::new(model, call.reply_context()),
        )),
        Egress::TextCompletion => Box::new(Egressed::new(
            translator,
            TextCompletionEgress::new(model, client_wants_usage),
        )),
    };
    Ok(OpenStream {
        upstream,
        framing,
        translator,
    })
}

async fn pump(
    gateway: SharedGateway,
    call: MeteredCall,
    source: Source,
    opened: oneshot::Sender<Result<mpsc::Receiver<Bytes>, ApiError>>,
) {
    let OpenStream {
        mut upstream,
        framing,
        mut translator,
    } = match open(&gateway, &call, source).await {
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
    let mut client = opened.send(Ok(receiver)).ok().map(|()| sender);

    let idle_limit = call.deployment.stream_timeout;
    let mut deframer = Deframer::new(framing);
    let mut transport_failure = None;
    let mut out = Vec::new();
    loop {
        let piece = match tokio::time::timeout(idle_limit, upstream.next()).await {
            Err(_) => {
                transport_failure = Some("the upstream stopped sending");
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, request_id = %call.request_id, "upstream stream failed");
                transport_failure = Some("the upstream connection failed mid-stream");
                break;
            }
            Ok(Some(Ok(piece))) => piece,
        };
        deframer.push(&piece);
        while let Some(frame) = deframer.next_frame() {
            match frame {
                Ok(frame) => translator.push(frame, &mut out),
                Err(error) => {
                    tracing::warn!(%error, request_id = %call.request_id, "unreadable upstream stream");
                    transport_failure = Some("the upstream sent a malformed stream");
                    break;
                }
            }
        }
        send_all(&mut client, &mut out).await;
        if transport_failure.is_some() {
            break;
        }
    }
    match transport_failure {
        Some(message) => translator.fail(message, &mut out),
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
        generated_chars: translator.generated_chars(),
    };
    gateway.meter.record(call, outcome).await;
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
