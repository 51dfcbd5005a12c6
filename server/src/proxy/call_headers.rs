//! The headers every completion response carries: the call id, its cost, and how it was
//! routed (the deployment that served it, retries and fallbacks taken, the gateway's own
//! share of the time), under LiteLLM's `x-litellm-*` names and Gatehouse's `x-gatehouse-*`.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::providers::Deployment;
use crate::routing::attempts::Trail;

/// The call id, as `x-request-id` and LiteLLM's `x-litellm-call-id`.
pub fn insert_call_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value.clone());
        headers.insert("x-litellm-call-id", value);
    }
}

/// The call's cost in dollars, LiteLLM-style.
pub fn insert_cost(headers: &mut HeaderMap, cost_micros: i64) {
    if let Ok(cost) = HeaderValue::from_str(&app::model::micros_to_dollars(cost_micros).to_string())
    {
        headers.insert("x-litellm-response-cost", cost);
    }
}

/// How a call was routed, as it stands when its response starts.
#[derive(Debug, Clone)]
pub struct RouteHeaders {
    model_id: Option<HeaderValue>,
    model_group: Option<HeaderValue>,
    api_base: Option<HeaderValue>,
    attempts: usize,
    retries: u32,
    fallbacks: u32,
    overhead_ms: u128,
    duration_ms: u128,
    request_class: Option<HeaderValue>,
    degraded: bool,
}

/// A number as a header value.
fn number(value: impl TryInto<u64>) -> HeaderValue {
    HeaderValue::from(value.try_into().unwrap_or(u64::MAX))
}

impl RouteHeaders {
    pub fn of(deployment: &Deployment, trail: &Trail, started: Instant) -> Self {
        let elapsed = started.elapsed();
        let text = |value: &str| HeaderValue::from_str(value).ok();
        RouteHeaders {
            model_id: text(&deployment.id),
            model_group: text(&deployment.model_group),
            api_base: text(&deployment.api_base),
            attempts: trail.attempts.len(),
            retries: trail.retries,
            fallbacks: trail.fallbacks,
            overhead_ms: elapsed.saturating_sub(trail.upstream_time).as_millis(),
            duration_ms: elapsed.as_millis(),
            request_class: trail
                .request_class
                .as_ref()
                .and_then(|chosen| text(&chosen.class.name)),
            degraded: trail
                .request_class
                .as_ref()
                .is_some_and(|chosen| chosen.degraded),
        }
    }

    pub fn insert(&self, headers: &mut HeaderMap) {
        headers.reserve(11);
        let both = |headers: &mut HeaderMap, names: [&'static str; 2], value: &HeaderValue| {
            headers.insert(HeaderName::from_static(names[0]), value.clone());
            headers.insert(HeaderName::from_static(names[1]), value.clone());
        };
        if let Some(id) = &self.model_id {
            both(
                headers,
                ["x-litellm-model-id", "x-gatehouse-deployment"],
                id,
            );
        }
        if let Some(group) = &self.model_group {
            both(
                headers,
                ["x-litellm-model-group", "x-gatehouse-model-group"],
                group,
            );
        }
        if let Some(api_base) = &self.api_base {
            headers.insert(
                HeaderName::from_static("x-litellm-model-api-base"),
                api_base.clone(),
            );
        }
        both(
            headers,
            ["x-litellm-overhead-duration-ms", "x-gatehouse-overhead-ms"],
            &number(self.overhead_ms),
        );
        for (name, value) in [
            ("x-litellm-attempted-retries", number(self.retries)),
            ("x-litellm-attempted-fallbacks", number(self.fallbacks)),
            ("x-litellm-response-duration-ms", number(self.duration_ms)),
            ("x-gatehouse-attempts", number(self.attempts)),
        ] {
            headers.insert(HeaderName::from_static(name), value);
        }
        if let Some(class) = &self.request_class {
            headers.insert(
                HeaderName::from_static("x-gatehouse-request-class"),
                class.clone(),
            );
            if self.degraded {
                headers.insert(
                    HeaderName::from_static("x-gatehouse-degraded"),
                    HeaderValue::from_static("true"),
                );
            }
        }
    }
}
