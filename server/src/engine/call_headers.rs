//! The headers every completion response carries: the call id, its cost, and how it was
//! routed (the deployment that served it, retries and fallbacks taken, the gateway's own
//! share of the time) under LiteLLM's `x-litellm-*` names, and what only Gatehouse knows
//! (attempts in all, the request class) under `x-gatehouse-*`.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::core::limits::Remaining;
use crate::providers::identity::IdentityHeaders;
use crate::providers::Deployment;
use crate::routing::attempts::Trail;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const CALL_ID: HeaderName = HeaderName::from_static("x-litellm-call-id");
const RESPONSE_COST: HeaderName = HeaderName::from_static("x-litellm-response-cost");

/// The call id, as `x-request-id` and LiteLLM's `x-litellm-call-id`.
pub fn insert_call_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value.clone());
        headers.insert(CALL_ID, value);
    }
}

/// The call's cost in dollars, LiteLLM-style.
pub fn insert_cost(headers: &mut HeaderMap, cost_micros: i64) {
    if let Ok(cost) = HeaderValue::from_str(&app::model::micros_to_dollars(cost_micros).to_string())
    {
        headers.insert(RESPONSE_COST, cost);
    }
}

/// OpenAI's `x-ratelimit-*` names: limit, remaining and reset, of requests and of tokens.
const REQUEST_LIMIT_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
];
const TOKEN_LIMIT_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

/// What the key's rate limits have left, under OpenAI's `x-ratelimit-*` names.
pub fn insert_rate_limits(headers: &mut HeaderMap, remaining: &Remaining) {
    let mut insert = |[limit_name, left_name, reset_name]: [HeaderName; 3],
                      (limit, left, reset): (u64, u64, Duration)| {
        headers.insert(limit_name, number(limit));
        headers.insert(left_name, number(left));
        if let Ok(reset) = HeaderValue::from_str(&reset_text(reset)) {
            headers.insert(reset_name, reset);
        }
    };
    if let Some(requests) = remaining.requests {
        insert(REQUEST_LIMIT_HEADERS, requests);
    }
    if let Some(tokens) = remaining.tokens {
        insert(TOKEN_LIMIT_HEADERS, tokens);
    }
}

/// A reset delay as OpenAI writes it: `250ms`, `12s`.
fn reset_text(reset: Duration) -> String {
    if reset < Duration::from_secs(1) {
        format!("{}ms", reset.as_millis())
    } else {
        format!("{}s", reset.as_secs() + u64::from(reset.subsec_nanos() > 0))
    }
}

/// Headers a whole reply carries at most: its type, call id, cost, route and rate limits.
pub const RESPONSE_HEADERS: usize = 24;

const MODEL_ID: HeaderName = HeaderName::from_static("x-litellm-model-id");
const MODEL_GROUP: HeaderName = HeaderName::from_static("x-litellm-model-group");
const API_BASE: HeaderName = HeaderName::from_static("x-litellm-model-api-base");
const OVERHEAD: HeaderName = HeaderName::from_static("x-litellm-overhead-duration-ms");
/// Headers `RouteHeaders::insert` adds at most.
const ROUTE_HEADERS: usize = 10;
const RETRIES: HeaderName = HeaderName::from_static("x-litellm-attempted-retries");
const FALLBACKS: HeaderName = HeaderName::from_static("x-litellm-attempted-fallbacks");
const DURATION: HeaderName = HeaderName::from_static("x-litellm-response-duration-ms");
const ATTEMPTS: HeaderName = HeaderName::from_static("x-gatehouse-attempts");
const REQUEST_CLASS: HeaderName = HeaderName::from_static("x-gatehouse-request-class");
const DEGRADED: HeaderName = HeaderName::from_static("x-gatehouse-degraded");

/// How a call was routed, as it stands when its response starts.
#[derive(Debug, Clone)]
pub struct RouteHeaders {
    identity: IdentityHeaders,
    attempts: usize,
    retries: u32,
    fallbacks: u32,
    overhead_ms: u128,
    duration_ms: u128,
    request_class: Option<HeaderValue>,
    degraded: bool,
}

/// A number as a header value (the small ones every response carries without allocating).
fn number(value: impl TryInto<u64>) -> HeaderValue {
    const SMALL: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let value = value.try_into().unwrap_or(u64::MAX);
    match usize::try_from(value)
        .ok()
        .and_then(|index| SMALL.get(index))
    {
        Some(text) => HeaderValue::from_static(text),
        None => HeaderValue::from(value),
    }
}

impl RouteHeaders {
    /// The headers of a routed call; `x-litellm-model-api-base` only when `api_base_header`
    /// (the upstream's address is the operator's to disclose).
    pub fn of(
        deployment: &Deployment,
        trail: &Trail,
        started: Instant,
        api_base_header: bool,
    ) -> Self {
        let elapsed = started.elapsed();
        let mut identity = deployment.identity_headers().clone();
        if !api_base_header {
            identity.api_base = None;
        }
        RouteHeaders {
            identity,
            attempts: trail.attempts.len(),
            retries: trail.retries,
            fallbacks: trail.fallbacks,
            overhead_ms: elapsed.saturating_sub(trail.upstream_time).as_millis(),
            duration_ms: elapsed.as_millis(),
            request_class: trail
                .request_class
                .as_ref()
                .and_then(|chosen| HeaderValue::from_str(&chosen.class.name).ok()),
            degraded: trail
                .request_class
                .as_ref()
                .is_some_and(|chosen| chosen.degraded),
        }
    }

    pub fn insert(&self, headers: &mut HeaderMap) {
        headers.reserve(ROUTE_HEADERS);
        if let Some(id) = &self.identity.model_id {
            headers.insert(MODEL_ID, id.clone());
        }
        if let Some(group) = &self.identity.model_group {
            headers.insert(MODEL_GROUP, group.clone());
        }
        if let Some(api_base) = &self.identity.api_base {
            headers.insert(API_BASE, api_base.clone());
        }
        headers.insert(OVERHEAD, number(self.overhead_ms));
        headers.insert(RETRIES, number(self.retries));
        headers.insert(FALLBACKS, number(self.fallbacks));
        headers.insert(DURATION, number(self.duration_ms));
        headers.insert(ATTEMPTS, number(self.attempts));
        if let Some(class) = &self.request_class {
            headers.insert(REQUEST_CLASS, class.clone());
            if self.degraded {
                headers.insert(DEGRADED, HeaderValue::from_static("true"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_delays_read_like_openais() {
        assert_eq!(reset_text(Duration::from_millis(250)), "250ms");
        assert_eq!(reset_text(Duration::from_millis(12_001)), "13s");
        assert_eq!(reset_text(Duration::from_secs(60)), "60s");
    }

    #[test]
    fn numbers_render_as_decimal_text() {
        for value in [0u64, 1, 9, 10, 1234, u64::MAX] {
            assert_eq!(number(value).to_str().unwrap(), value.to_string());
        }
    }
}
