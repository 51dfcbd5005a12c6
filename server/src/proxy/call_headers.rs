//! The headers every completion response carries: the call id, its cost, and how it was
//! routed (the deployment that served it, retries and fallbacks taken, the gateway's own
//! share of the time), under LiteLLM's `x-litellm-*` names and Gatehouse's `x-gatehouse-*`.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};

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
    model_id: String,
    model_group: String,
    api_base: String,
    attempts: usize,
    retries: u32,
    fallbacks: u32,
    overhead_ms: u128,
    duration_ms: u128,
}

impl RouteHeaders {
    pub fn of(deployment: &Deployment, trail: &Trail, started: Instant) -> Self {
        let elapsed = started.elapsed();
        RouteHeaders {
            model_id: deployment.id.clone(),
            model_group: deployment.model_group.clone(),
            api_base: deployment.api_base.clone(),
            attempts: trail.attempts.len(),
            retries: trail.retries,
            fallbacks: trail.fallbacks,
            overhead_ms: elapsed.saturating_sub(trail.upstream_time).as_millis(),
            duration_ms: elapsed.as_millis(),
        }
    }

    pub fn insert(&self, headers: &mut HeaderMap) {
        let overhead = self.overhead_ms.to_string();
        let pairs: [(&'static str, String); 11] = [
            ("x-litellm-model-id", self.model_id.clone()),
            ("x-litellm-model-group", self.model_group.clone()),
            ("x-litellm-model-api-base", self.api_base.clone()),
            ("x-litellm-attempted-retries", self.retries.to_string()),
            ("x-litellm-attempted-fallbacks", self.fallbacks.to_string()),
            ("x-litellm-overhead-duration-ms", overhead.clone()),
            (
                "x-litellm-response-duration-ms",
                self.duration_ms.to_string(),
            ),
            ("x-gatehouse-deployment", self.model_id.clone()),
            ("x-gatehouse-model-group", self.model_group.clone()),
            ("x-gatehouse-attempts", self.attempts.to_string()),
            ("x-gatehouse-overhead-ms", overhead),
        ];
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}
