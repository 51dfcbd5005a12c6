//! OpenTelemetry traces over OTLP: which requests are traced (the sampler, a client's
//! `traceparent`), and the spans a traced call leaves — the request (`SERVER`), its
//! authentication, its rate limits and reservation, each upstream attempt (`CLIENT`: retries
//! and fallbacks are spans of their own), a stream's body, and metering — with OpenTelemetry's
//! GenAI attributes. Spans are encoded when the call ends and sent in batches off the request
//! path (`export`).

pub mod encode;
pub mod export;

use std::sync::Mutex;
use std::time::Instant;

use time::OffsetDateTime;

use crate::config::{Sampler, TraceSettings};
use crate::core::trace_context::Incoming;
use crate::providers::Deployment;
use encode::{key, Span, SpanBuffer, SpanKind, Value};
use export::{ExportCounts, Exporter, SpanQueue};

/// A traced request: its ids and when its early stages ended.
#[derive(Debug, Clone, Copy)]
pub struct CallTrace {
    pub trace_id: u128,
    /// The request's own span.
    pub span_id: u64,
    /// The client's span it is a child of (0: none).
    pub parent_span_id: u64,
    /// When authentication ended.
    pub admitted: Option<Instant>,
    /// When the limits and the reservation started and ended.
    pub reserved: Option<(Instant, Instant)>,
    /// When the request arrived.
    pub started: Instant,
    pub started_at: OffsetDateTime,
}

/// Room for a typical request's spans (about 1.3 KB for five), so the buffer is allocated once.
const SPAN_BYTES: usize = 2_048;

pub struct Tracer {
    sampler: Sampler,
    queue: std::sync::Arc<SpanQueue>,
    exporter: Mutex<Option<Exporter>>,
}

/// What a trace's spans are made of, as the observe stage has it.
pub struct TracedCall<'a> {
    pub trace: &'a CallTrace,
    pub operation: &'static str,
    pub requested_model: &'a str,
    /// The deployment that answered (or was tried last).
    pub deployment: &'a Deployment,
    pub request_id: &'a str,
    pub status: u16,
    pub error: Option<&'static str>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub spend_usd: f64,
    pub attempts: &'a [crate::routing::attempts::AttemptRecord],
    pub is_stream: bool,
    /// When metering began (the stream, if any, ended then).
    pub metered_from: Option<Instant>,
    /// The redacted request and reply, when prompts are logged.
    pub messages: Option<(String, String)>,
}

impl Tracer {
    pub fn new(settings: &TraceSettings) -> Result<Tracer, String> {
        let mut attributes: Vec<(&str, &str)> = vec![
            ("service.name", &settings.service_name),
            ("service.version", env!("CARGO_PKG_VERSION")),
            ("telemetry.sdk.name", "gatehouse"),
            ("telemetry.sdk.language", "rust"),
        ];
        for (key, value) in &settings.resource_attributes {
            if key != "service.name" {
                attributes.push((key, value));
            }
        }
        let (queue, exporter) = export::spawn(settings, encode::resource(&attributes))?;
        Ok(Tracer {
            sampler: settings.sampler,
            queue,
            exporter: Mutex::new(Some(exporter)),
        })
    }

    /// The trace a new request joins, or `None` when it is not sampled.
    pub fn start(&self, incoming: Option<Incoming>) -> Option<CallTrace> {
        let (trace_id, parent_span_id, sampled) = match incoming {
            Some(parent) if self.sampler.parent_based => {
                (parent.trace_id, parent.parent_span, parent.sampled)
            }
            Some(parent) => (
                parent.trace_id,
                parent.parent_span,
                keeps(self.sampler.ratio, parent.trace_id),
            ),
            None => {
                let trace_id = fastrand::u128(1..);
                (trace_id, 0, keeps(self.sampler.ratio, trace_id))
            }
        };
        sampled.then(|| CallTrace {
            trace_id,
            span_id: fastrand::u64(1..),
            parent_span_id,
            admitted: None,
            reserved: None,
            started: Instant::now(),
            started_at: OffsetDateTime::now_utc(),
        })
    }

    pub fn counts(&self) -> &ExportCounts {
        self.queue.counts()
    }

    /// Sends what is queued and stops the exporter.
    pub async fn finish(&self) {
        let exporter = self
            .exporter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(exporter) = exporter {
            exporter.finish().await;
        }
    }

    /// A request refused before any upstream was called: its span.
    pub fn refused(&self, trace: &CallTrace, route: &str, status: u16, error: &'static str) {
        let clock = Clock::of(trace);
        let mut spans = SpanBuffer::with_capacity(256);
        spans.push(&Span {
            trace_id: trace.trace_id,
            span_id: trace.span_id,
            parent_span_id: trace.parent_span_id,
            name: &["POST ", route],
            kind: SpanKind::Server,
            start_unix_nanos: clock.at(trace.started),
            end_unix_nanos: clock.at(Instant::now()),
            attributes: &[
                (
                    key!("http.response.status_code"),
                    Value::Int(i64::from(status)),
                ),
                (key!("error.type"), Value::Str(error)),
            ],
            encoded_attributes: &[],
            error: Some(error),
        });
        self.queue.push(spans.bytes, spans.spans);
    }

    /// The spans of a call that reached (or was meant to reach) an upstream.
    pub fn record(&self, call: &TracedCall<'_>) {
        let trace = call.trace;
        let clock = Clock::of(trace);
        let now = Instant::now();
        let mut spans = SpanBuffer::with_capacity(SPAN_BYTES);
        let mut attributes = [(key!("unset"), Value::Int(0)); 12];
        let base = [
            (key!("gen_ai.operation.name"), Value::Str(call.operation)),
            (
                key!("gen_ai.request.model"),
                Value::Str(call.requested_model),
            ),
            (
                key!("gen_ai.usage.input_tokens"),
                Value::Int(saturating(call.input_tokens)),
            ),
            (
                key!("gen_ai.usage.output_tokens"),
                Value::Int(saturating(call.output_tokens)),
            ),
            (
                key!("http.response.status_code"),
                Value::Int(i64::from(call.status)),
            ),
            (key!("gatehouse.request_id"), Value::Str(call.request_id)),
            (key!("gatehouse.spend_usd"), Value::Double(call.spend_usd)),
        ];
        attributes[..base.len()].copy_from_slice(&base);
        let mut count = base.len();
        let mut add = |attribute| {
            attributes[count] = attribute;
            count += 1;
        };
        if call.cached_tokens > 0 {
            add((
                key!("gen_ai.usage.cache_read.input_tokens"),
                Value::Int(saturating(call.cached_tokens)),
            ));
        }
        if let Some(error) = call.error {
            add((key!("error.type"), Value::Str(error)));
        }
        if let Some((input, output)) = &call.messages {
            add((key!("gen_ai.input.messages"), Value::Str(input)));
            add((key!("gen_ai.output.messages"), Value::Str(output)));
        }
        spans.push(&Span {
            trace_id: trace.trace_id,
            span_id: trace.span_id,
            parent_span_id: trace.parent_span_id,
            name: &[call.operation, " ", call.requested_model],
            kind: SpanKind::Server,
            start_unix_nanos: clock.at(trace.started),
            end_unix_nanos: clock.at(now),
            attributes: &attributes[..count],
            // The answering deployment's provider and model.
            encoded_attributes: &deployment_attributes(call.deployment)[1],
            error: call.error,
        });
        let mut stage = |name: &'static str, from: Instant, to: Instant| {
            spans.push(&Span {
                trace_id: trace.trace_id,
                span_id: fastrand::u64(1..),
                parent_span_id: trace.span_id,
                name: &[name],
                kind: SpanKind::Internal,
                start_unix_nanos: clock.at(from),
                end_unix_nanos: clock.at(to),
                attributes: &[],
                encoded_attributes: &[],
                error: None,
            });
        };
        if let Some(admitted) = trace.admitted {
            stage("gatehouse.auth", trace.started, admitted);
        }
        if let Some((from, to)) = trace.reserved {
            stage("gatehouse.reserve", from, to);
        }
        let metered_from = call.metered_from.unwrap_or(now);
        if let (true, Some(last)) = (call.is_stream, call.attempts.last()) {
            if last.outcome == "success" {
                stage(
                    "gatehouse.stream",
                    last.started + last.latency,
                    metered_from,
                );
            }
        }
        stage("gatehouse.meter", metered_from, now);
        for (index, attempt) in call.attempts.iter().enumerate() {
            let failed = attempt.outcome != "success";
            let deployment = &attempt.deployment;
            let attributes = [
                (
                    key!("gatehouse.attempt"),
                    Value::Int(i64::try_from(index).unwrap_or(i64::MAX)),
                ),
                (
                    key!("http.response.status_code"),
                    Value::Int(i64::from(attempt.status)),
                ),
                (key!("error.type"), Value::Str(attempt.outcome)),
            ];
            // The error's type only on a failed attempt.
            let kept = if failed { 3 } else { 2 };
            spans.push(&Span {
                trace_id: trace.trace_id,
                span_id: if attempt.span_id == 0 {
                    fastrand::u64(1..)
                } else {
                    attempt.span_id
                },
                parent_span_id: trace.span_id,
                name: &[call.operation, " ", &deployment.upstream_model],
                kind: SpanKind::Client,
                start_unix_nanos: clock.at(attempt.started),
                end_unix_nanos: clock.at(attempt.started + attempt.latency),
                attributes: &attributes[..kept],
                encoded_attributes: &deployment_attributes(deployment)[0],
                error: failed.then_some(attempt.outcome),
            });
        }
        self.queue.push(spans.bytes, spans.spans);
    }
}

/// A deployment's attributes, encoded on its first traced call: an attempt's (its provider,
/// model, id and group) and a reply's (the provider and model that answered).
fn deployment_attributes(deployment: &Deployment) -> &[Box<[u8]>; 2] {
    deployment.span_attributes.get_or_init(|| {
        let provider = Value::Str(super::provider_name(&deployment.provider));
        let model = Value::Str(&deployment.upstream_model);
        [
            encode::attribute_fields(&[
                (key!("gen_ai.provider.name"), provider),
                (key!("gen_ai.request.model"), model),
                (key!("gatehouse.deployment_id"), Value::Str(&deployment.id)),
                (
                    key!("gatehouse.model_group"),
                    Value::Str(&deployment.model_group),
                ),
            ]),
            encode::attribute_fields(&[
                (key!("gen_ai.provider.name"), provider),
                (key!("gen_ai.response.model"), model),
            ]),
        ]
    })
}

/// Whether a ratio sampler keeps `trace_id` (its lower 64 bits, as OpenTelemetry's does).
fn keeps(ratio: f64, trace_id: u128) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let bound = (ratio * u64::MAX as f64) as u64;
    (trace_id as u64) < bound
}

fn saturating(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Turns the call's instants into Unix nanoseconds.
struct Clock {
    started: Instant,
    /// `started` in Unix nanoseconds.
    base: u64,
}

impl Clock {
    fn of(trace: &CallTrace) -> Clock {
        Clock {
            started: trace.started,
            base: u64::try_from(trace.started_at.unix_timestamp_nanos()).unwrap_or(0),
        }
    }

    fn at(&self, instant: Instant) -> u64 {
        let nanos =
            |duration: std::time::Duration| u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        match instant.checked_duration_since(self.started) {
            Some(after) => self.base.saturating_add(nanos(after)),
            None => self
                .base
                .saturating_sub(nanos(self.started.duration_since(instant))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_keeps_its_share_of_traces() {
        let kept = (0..10_000)
            .filter(|_| keeps(0.25, fastrand::u128(1..)))
            .count();
        assert!((2_000..3_000).contains(&kept), "{kept}");
        assert!(keeps(1.0, u128::MAX));
        assert!(!keeps(0.0, 1));
    }
}
