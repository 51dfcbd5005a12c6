//! The span exporter: requests hand their encoded spans to a queue bounded by
//! `OTEL_BSP_MAX_QUEUE_SIZE` spans — when it is full the spans are dropped and counted, never
//! waited for — and one task sends them in batches (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, or every
//! `OTEL_BSP_SCHEDULE_DELAY`) over OTLP/HTTP protobuf or gRPC. A failed export is counted and
//! not retried: a dead collector never holds requests or memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::encode::export_request;
use crate::config::{OtlpProtocol, TraceSettings};

/// What the exporter counted, for `/metrics`.
#[derive(Default)]
pub struct ExportCounts {
    pub queued: AtomicUsize,
    pub dropped: AtomicU64,
    pub exported: AtomicU64,
    pub failed_exports: AtomicU64,
}

/// The request side: hands spans to the exporter task.
pub struct SpanQueue {
    sender: mpsc::UnboundedSender<(Vec<u8>, usize)>,
    max_queue: usize,
    counts: Arc<ExportCounts>,
}

impl SpanQueue {
    /// Queues `spans` encoded spans, or drops them when the queue is full.
    pub fn push(&self, bytes: Vec<u8>, spans: usize) {
        let queued = self.counts.queued.fetch_add(spans, Ordering::Relaxed);
        if queued + spans > self.max_queue || self.sender.send((bytes, spans)).is_err() {
            self.counts.queued.fetch_sub(spans, Ordering::Relaxed);
            self.counts
                .dropped
                .fetch_add(spans as u64, Ordering::Relaxed);
        }
    }

    pub fn counts(&self) -> &ExportCounts {
        &self.counts
    }
}

/// The running exporter.
pub struct Exporter {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Exporter {
    /// Sends what is still queued, then stops.
    pub async fn finish(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the span exporter ended badly");
        }
    }
}

/// Starts the exporter task; `resource` is the encoded resource every batch names.
pub fn spawn(settings: &TraceSettings, resource: Vec<u8>) -> Result<(SpanQueue, Exporter), String> {
    let client = match settings.protocol {
        OtlpProtocol::HttpProtobuf => reqwest::Client::builder(),
        // gRPC is HTTP/2; over plain http, with prior knowledge (h2c) as collectors expect.
        OtlpProtocol::Grpc => reqwest::Client::builder().http2_prior_knowledge(),
    }
    .timeout(settings.timeout)
    .redirect(reqwest::redirect::Policy::none())
    .build()
    .map_err(|error| format!("the OTLP client: {error}"))?;
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &settings.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("OTEL_EXPORTER_OTLP_HEADERS: `{name}` is not a header name"))?;
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            format!("OTEL_EXPORTER_OTLP_HEADERS: the value of `{name}` is not a header value")
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    let counts = Arc::new(ExportCounts::default());
    let stop = CancellationToken::new();
    let target = Target {
        client,
        url: settings.endpoint.clone(),
        protocol: settings.protocol,
        headers,
        resource,
    };
    let task = tokio::spawn(run(
        receiver,
        target,
        counts.clone(),
        settings.max_batch,
        settings.delay,
        stop.clone(),
    ));
    Ok((
        SpanQueue {
            sender,
            max_queue: settings.max_queue,
            counts,
        },
        Exporter { stop, task },
    ))
}

struct Target {
    client: reqwest::Client,
    url: String,
    protocol: OtlpProtocol,
    headers: reqwest::header::HeaderMap,
    resource: Vec<u8>,
}

async fn run(
    mut receiver: mpsc::UnboundedReceiver<(Vec<u8>, usize)>,
    target: Target,
    counts: Arc<ExportCounts>,
    max_batch: usize,
    delay: Duration,
    stop: CancellationToken,
) {
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut spans = 0;
    loop {
        let deadline = tokio::time::sleep(delay);
        tokio::pin!(deadline);
        let stopping = loop {
            tokio::select! {
                received = receiver.recv() => match received {
                    Some((bytes, count)) => {
                        batch.push(bytes);
                        spans += count;
                        if spans >= max_batch {
                            break false;
                        }
                    }
                    None => break true,
                },
                () = &mut deadline => break false,
                () = stop.cancelled() => break true,
            }
        };
        if stopping {
            while let Ok((bytes, count)) = receiver.try_recv() {
                batch.push(bytes);
                spans += count;
            }
        }
        if spans > 0 {
            counts.queued.fetch_sub(spans, Ordering::Relaxed);
            let sent = send(&target, &batch).await;
            let counter = if sent {
                &counts.exported
            } else {
                &counts.failed_exports
            };
            counter.fetch_add(if sent { spans as u64 } else { 1 }, Ordering::Relaxed);
            batch.clear();
            spans = 0;
        }
        if stopping {
            return;
        }
    }
}

/// One export; false (logged) when the collector did not take it.
async fn send(target: &Target, batch: &[Vec<u8>]) -> bool {
    let body = export_request(&target.resource, env!("CARGO_PKG_VERSION"), batch);
    let request = target
        .client
        .post(&target.url)
        .headers(target.headers.clone());
    let request = match target.protocol {
        OtlpProtocol::HttpProtobuf => request
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body),
        OtlpProtocol::Grpc => {
            // A gRPC message: not compressed, its length, then the protobuf.
            let mut framed = Vec::with_capacity(body.len() + 5);
            framed.push(0);
            framed.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
            framed.extend_from_slice(&body);
            request
                .header(reqwest::header::CONTENT_TYPE, "application/grpc")
                .header(reqwest::header::TE, "trailers")
                .body(framed)
        }
    };
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            // A gRPC failure answered at once carries its status in the headers.
            let grpc_status = response
                .headers()
                .get("grpc-status")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("0");
            if grpc_status == "0" {
                return true;
            }
            tracing::warn!(grpc_status, "the OTLP collector refused a span batch");
            false
        }
        Ok(response) => {
            tracing::warn!(status = %response.status(), "the OTLP collector refused a span batch");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "span batch not exported");
            false
        }
    }
}
