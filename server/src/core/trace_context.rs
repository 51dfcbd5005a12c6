//! W3C trace context (`traceparent`): read from a client's request, and carried to each
//! upstream call of an attempt through a task-local, so every transport sends it without each
//! endpoint passing it along.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

tokio::task_local! {
    /// The `traceparent` the upstream calls of the current attempt send.
    static UPSTREAM_TRACEPARENT: HeaderValue;
}

/// A client's trace: its id, the span the request is a child of, and whether it is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming {
    pub trace_id: u128,
    pub parent_span: u64,
    pub sampled: bool,
}

/// The request's `traceparent`, if it carries a valid one (version 00's layout; a later
/// version's first four fields, as the specification asks).
pub fn incoming(headers: &HeaderMap) -> Option<Incoming> {
    let text = headers.get(TRACEPARENT)?.to_str().ok()?.trim();
    let mut fields = text.split('-');
    let version = fields.next()?;
    let trace = fields.next()?;
    let parent = fields.next()?;
    let flags = fields.next()?;
    if version.len() != 2
        || version == "ff"
        || trace.len() != 32
        || parent.len() != 16
        || flags.len() != 2
    {
        return None;
    }
    if version == "00" && fields.next().is_some() {
        return None;
    }
    let hex = |text: &str| {
        text.bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    };
    if ![version, trace, parent, flags].into_iter().all(hex) {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok().filter(|id| *id != 0)?;
    let parent_span = u64::from_str_radix(parent, 16).ok().filter(|id| *id != 0)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Incoming {
        trace_id,
        parent_span,
        sampled: flags & 1 == 1,
    })
}

/// `traceparent` for a span of a trace (written digit by digit: it is made for every traced
/// attempt).
pub fn traceparent(trace_id: u128, span_id: u64, sampled: bool) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
    let (trace_part, span_part) = text.split_at_mut(36);
    let digits = trace_id
        .to_be_bytes()
        .into_iter()
        .zip(trace_part[3..35].chunks_exact_mut(2))
        .chain(
            span_id
                .to_be_bytes()
                .into_iter()
                .zip(span_part[..16].chunks_exact_mut(2)),
        );
    for (byte, pair) in digits {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    if sampled {
        text[54] = b'1';
    }
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a request's upstream calls carry of its trace.
#[derive(Debug, Clone, Default)]
pub enum Propagation {
    /// Nothing: the client sent no trace and the request is not traced.
    #[default]
    None,
    /// The client's `traceparent`, unchanged (the request is not traced here).
    PassThrough(HeaderValue),
    /// Traced here: each attempt's calls are children of the attempt's span.
    Traced { trace_id: u128 },
}

impl Propagation {
    /// The `traceparent` an attempt with span `span_id` sends.
    pub fn for_attempt(&self, span_id: u64) -> Option<HeaderValue> {
        match self {
            Propagation::None => None,
            Propagation::PassThrough(value) => Some(value.clone()),
            Propagation::Traced { trace_id } => Some(traceparent(*trace_id, span_id, true)),
        }
    }

    pub fn is_traced(&self) -> bool {
        matches!(self, Propagation::Traced { .. })
    }
}

/// Runs `attempt` with `traceparent` sent on each of its upstream calls.
pub async fn with_upstream<F: std::future::Future>(
    traceparent: Option<HeaderValue>,
    attempt: F,
) -> F::Output {
    match traceparent {
        Some(value) => UPSTREAM_TRACEPARENT.scope(value, attempt).await,
        None => attempt.await,
    }
}

/// Adds the current attempt's `traceparent`, if it has one, to an upstream call's headers.
pub fn add_to(headers: &mut HeaderMap) {
    if let Ok(value) = UPSTREAM_TRACEPARENT.try_with(HeaderValue::clone) {
        headers.insert(TRACEPARENT, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_the_specifications_example_and_refuses_malformed_ones() {
        let parsed = incoming(&with(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .unwrap();
        assert_eq!(parsed.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(parsed.parent_span, 0x00f067aa0ba902b7);
        assert!(parsed.sampled);
        let unsampled = incoming(&with(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ))
        .unwrap();
        assert!(!unsampled.sampled);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(incoming(&with(bad)), None, "{bad}");
        }
        // A later version may add fields after the four it shares.
        assert!(incoming(&with(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"
        ))
        .is_some());
    }

    #[test]
    fn writes_the_header_it_reads() {
        let value = traceparent(0xab, 0xcd, true);
        assert_eq!(
            value,
            "00-000000000000000000000000000000ab-00000000000000cd-01"
        );
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, value);
        assert_eq!(
            incoming(&headers),
            Some(Incoming {
                trace_id: 0xab,
                parent_span: 0xcd,
                sampled: true
            })
        );
    }

    #[tokio::test]
    async fn an_attempts_upstream_calls_carry_its_traceparent() {
        let value = traceparent(1, 2, true);
        let sent = with_upstream(Some(value.clone()), async {
            let mut headers = HeaderMap::new();
            add_to(&mut headers);
            headers
        })
        .await;
        assert_eq!(sent.get(TRACEPARENT), Some(&value));
        let mut outside = HeaderMap::new();
        add_to(&mut outside);
        assert!(outside.is_empty());
    }
}
