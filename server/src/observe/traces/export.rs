//! The span exporter: requests hand their encoded spans to a queue bounded by
//! `OTEL_BSP_MAX_QUEUE_SIZE` spans — when it is full the spans are dropped and counted, never
//! waited for — and one task sends them in batches (when `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans
//! are waiting, else every `OTEL_BSP_SCHEDULE_DELAY`) over OTLP/HTTP protobuf or gRPC. A failed
//! export is counted and not retried: a dead collector never holds requests or memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::encode::export_request;
use crate::config::{OtlpProtocol, TraceSettings};

/// What the exporter counted, for `/metrics`.
#[derive(Default)]
pub struct ExportCounts {
    pub dropped: AtomicU64,
    pub exported: AtomicU64,
    pub failed_exports: AtomicU64,
}

/// How long shutdown waits for the queued spans.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// The request side: hands spans to the exporter task. A request appends its encoded spans to
/// the pending list (a short lock, no task woken) and wakes the exporter only when a batch is
/// full; otherwise the exporter takes what is pending every `OTEL_BSP_SCHEDULE_DELAY`.
pub struct SpanQueue {
    pending: Mutex<Pending>,
    full: Notify,
    max_queue: usize,
    max_batch: usize,
    counts: ExportCounts,
}

/// Each request's encoded spans and their count; the total, kept with them.
#[derive(Default)]
struct Pending {
    requests: Vec<(Vec<u8>, usize)>,
    spans: usize,
}

impl SpanQueue {
    /// Queues `spans` encoded spans, or drops them (counted) when the queue is full.
    pub fn push(&self, bytes: Vec<u8>, spans: usize) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.spans + spans > self.max_queue {
                drop(pending);
                self.counts
                    .dropped
                    .fetch_add(spans as u64, Ordering::Relaxed);
                return;
            }
            pending.requests.push((bytes, spans));
            pending.spans += spans;
            pending.spans >= self.max_batch
        };
        if full {
            self.full.notify_one();
        }
    }

    pub fn counts(&self) -> &ExportCounts {
        &self.counts
    }

    /// Everything pending.
    fn take(&self) -> Vec<(Vec<u8>, usize)> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner)).requests
    }
}

/// The running exporter.
pub struct Exporter {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Exporter {
    /// Sends what is still queued (within `DRAIN_LIMIT`; a collector still busy then is
    /// abandoned), then stops.
    pub async fn finish(mut self) {
        self.stop.cancel();
        match tokio::time::timeout(DRAIN_LIMIT, &mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the span exporter ended badly"),
            Err(_) => {
                tracing::warn!("spans still queued at shutdown were dropped");
                self.task.abort();
            }
        }
    }
}

/// Starts the exporter task; `resource` is the encoded resource every batch names.
pub fn spawn(
    settings: &TraceSettings,
    resource: Vec<u8>,
) -> Result<(Arc<SpanQueue>, Exporter), String> {
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
    let queue = Arc::new(SpanQueue {
        pending: Mutex::new(Pending::default()),
        full: Notify::new(),
        max_queue: settings.max_queue,
        max_batch: settings.max_batch,
        counts: ExportCounts::default(),
    });
    let stop = CancellationToken::new();
    let target = Target {
        client,
        url: settings.endpoint.clone(),
        protocol: settings.protocol,
        headers,
        resource,
    };
    let task = tokio::spawn(run(queue.clone(), target, settings.delay, stop.clone()));
    Ok((queue, Exporter { stop, task }))
}

struct Target {
    client: reqwest::Client,
    url: String,
    protocol: OtlpProtocol,
    headers: reqwest::header::HeaderMap,
    resource: Vec<u8>,
}

async fn run(queue: Arc<SpanQueue>, target: Target, delay: Duration, stop: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            () = queue.full.notified() => false,
            () = tokio::time::sleep(delay) => false,
            () = stop.cancelled() => true,
        };
        // Batches of at most max_batch spans (a request's spans stay together).
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut in_batch = 0;
        for (bytes, spans) in queue.take() {
            batch.push(bytes);
            in_batch += spans;
            if in_batch >= queue.max_batch {
                export(&target, &queue.counts, &batch, in_batch).await;
                batch.clear();
                in_batch = 0;
            }
        }
        if !batch.is_empty() {
            export(&target, &queue.counts, &batch, in_batch).await;
        }
        if stopping {
            return;
        }
    }
}

async fn export(target: &Target, counts: &ExportCounts, batch: &[Vec<u8>], spans: usize) {
    if send(target, batch).await {
        counts.exported.fetch_add(spans as u64, Ordering::Relaxed);
    } else {
        counts.failed_exports.fetch_add(1, Ordering::Relaxed);
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
