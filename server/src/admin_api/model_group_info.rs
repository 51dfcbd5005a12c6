//! `GET /model_group/info` (LiteLLM's shape, extended): each model group the caller may use, with
//! what its deployments declare (limits, prices, capabilities) and — the backend capability
//! table — what was measured of each over the last minutes: latency and time to first token
//! (p50, p95), attempts and failures by kind, $/1M tokens declared and observed, configured and
//! observed concurrency, cooldown state, the last health check, and a point per minute.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::access::Actor;
use super::model_info::dollars_per_token;
use crate::core::deployment_stats::{StatsSummary, FAILURE_KINDS};
use crate::core::error::ApiError;
use crate::providers::{openai_params, Deployment, Upstream};
use crate::routing::health_checks::{HealthReport, Outcome};
use crate::state::SharedGateway;

/// Minutes measured unless the query asks for another window.
const DEFAULT_WINDOW: usize = 15;

#[derive(Deserialize)]
pub struct GroupQuery {
    /// Only this model group.
    model_group: Option<String>,
    /// Minutes measured (1 to 30).
    minutes: Option<usize>,
}

pub async fn model_group_info(
    State(gateway): State<SharedGateway>,
    actor: Actor,
    Query(query): Query<GroupQuery>,
) -> Result<Json<Value>, ApiError> {
    let window = query.minutes.unwrap_or(DEFAULT_WINDOW);
    if !(1..=crate::core::deployment_stats::MINUTES).contains(&window) {
        return Err(ApiError::bad_request(
            "`minutes` is a whole number from 1 to 30.",
            Some("minutes"),
        ));
    }
    let shown = Shown {
        window,
        address: actor.is_admin(),
        // What every tenant's traffic did is for those who read everything.
        measured: actor.reads_everything(),
    };
    let groups = gateway.models.groups();
    let health = gateway.health.latest();
    let data: Vec<Value> = groups
        .names()
        .filter(|name| {
            query
                .model_group
                .as_deref()
                .is_none_or(|wanted| wanted == *name)
        })
        .filter(|name| actor.caller.may_use(name, groups.access()))
        .filter_map(|name| groups.named(name).map(|group| (name, group)))
        .map(|(name, group)| group_entry(name, group.deployments(), shown, health.as_deref()))
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// What the caller may see of each deployment.
#[derive(Clone, Copy)]
struct Shown {
    window: usize,
    /// Its `api_base` (admins).
    address: bool,
    /// What was measured of every tenant's traffic (those who read everything).
    measured: bool,
}

fn group_entry(
    name: &str,
    deployments: &[std::sync::Arc<Deployment>],
    shown: Shown,
    health: Option<&HealthReport>,
) -> Value {
    let mut providers: Vec<&str> = deployments.iter().map(|d| d.provider.as_str()).collect();
    providers.sort_unstable();
    providers.dedup();
    let first = deployments.first();
    let capability = |read: fn(&Deployment) -> bool| deployments.iter().any(|d| read(d));
    // The group's limit: what its deployments with one allow together.
    let sum_limits = |read: fn(&Deployment) -> Option<u64>| -> Option<u64> {
        deployments
            .iter()
            .filter_map(|d| read(d))
            .reduce(u64::saturating_add)
    };
    let params =
        openai_params::supported(first.and_then(|deployment| match &deployment.upstream {
            Upstream::Http(adapter) => adapter.openai_params(),
            _ => None,
        }));
    json!({
        "model_group": name,
        "providers": providers,
        "max_input_tokens": first.and_then(|d| d.capabilities.max_input_tokens),
        "max_output_tokens": first.and_then(|d| d.capabilities.max_output_tokens),
        "input_cost_per_token": first.map(|d| dollars_per_token(d.prices.input_micros_per_mtok)),
        "output_cost_per_token": first.map(|d| dollars_per_token(d.prices.output_micros_per_mtok)),
        "mode": first.and_then(|d| d.capabilities.mode.map(|mode| mode.as_str())),
        "tpm": sum_limits(|d| d.balance.tpm),
        "rpm": sum_limits(|d| d.balance.rpm),
        "supports_parallel_function_calling": capability(|d| d.capabilities.parallel_tool_calls),
        "supports_vision": capability(|d| d.capabilities.vision),
        "supports_function_calling": capability(|d| d.capabilities.tools),
        "supports_reasoning": capability(|d| d.capabilities.reasoning),
        "supports_response_schema": capability(|d| d.capabilities.json_schema),
        "supported_openai_params": params,
        "deployments": deployments
            .iter()
            .map(|deployment| deployment_entry(deployment, shown, health))
            .collect::<Vec<Value>>(),
    })
}

/// Milliseconds, rounded to a tenth.
fn millis(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |ms| json!((ms * 10.0).round() / 10.0))
}

fn deployment_entry(deployment: &Deployment, shown: Shown, health: Option<&HealthReport>) -> Value {
    let window = shown.window;
    let state = &deployment.state;
    let stats: StatsSummary = state.stats.summary(window);
    let cooling = state.cooling_for();
    let failures: Map<String, Value> = FAILURE_KINDS
        .iter()
        .zip(stats.failures)
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| (kind.to_string(), json!(count)))
        .collect();
    let prices = &deployment.prices;
    let checked = health.and_then(|report| {
        report
            .endpoints
            .iter()
            .find(|endpoint| endpoint.deployment.id == deployment.id)
            .map(|endpoint| (report, endpoint))
    });
    let mut entry = json!({
        "model_id": deployment.id,
        "provider": deployment.provider,
        "model": deployment.upstream_model,
        "declared": {
            "input_usd_per_1m_tokens": prices.input_micros_per_mtok as f64 / 1e6,
            "output_usd_per_1m_tokens": prices.output_micros_per_mtok as f64 / 1e6,
            "rpm": deployment.balance.rpm,
            "tpm": deployment.balance.tpm,
            "timeout_seconds": deployment.timeout.as_secs_f64(),
        },
        "measured": {
            "window_minutes": window,
            "attempts": stats.attempts(),
            "successes": stats.successes,
            "failures": failures,
            "failure_rate": stats.failure_rate(),
            "p50_latency_ms": millis(stats.p50_latency_ms),
            "p95_latency_ms": millis(stats.p95_latency_ms),
            "p50_time_to_first_token_ms": millis(stats.p50_first_token_ms),
            "p95_time_to_first_token_ms": millis(stats.p95_first_token_ms),
            "input_tokens": stats.input_tokens,
            "output_tokens": stats.output_tokens,
            "spend_usd": stats.cost_micros as f64 / 1e6,
            "observed_usd_per_1m_tokens": stats.observed_usd_per_mtok(),
            "in_flight": state.in_flight(),
            "peak_in_flight": stats.peak_in_flight,
            "minutes": stats.minutes.iter().map(|point| json!({
                "minute": point.minute,
                "attempts": point.attempts,
                "failures": point.failures,
                "p50_latency_ms": millis(point.p50_ms),
            })).collect::<Vec<Value>>(),
        },
        "cooldown": {
            "state": if cooling.is_some() { "cooling_down" } else if state.is_failing() { "failing" } else { "healthy" },
            "seconds_left": cooling.map(|left| left.as_secs_f64()),
            "cooldowns_started": state.cooldowns_started(),
        },
        "health_status": checked.map(|(_, endpoint)| match &endpoint.outcome {
            Outcome::Healthy(_) => "healthy",
            Outcome::Unhealthy { .. } => "unhealthy",
            Outcome::NotProbed(_) => "unchecked",
        }),
        "health_response_time": checked.map(|(_, endpoint)| endpoint.latency.as_secs_f64() * 1e3),
        "health_checked_at": checked.map(|(report, _)| report.checked_at.unix_timestamp()),
    });
    if shown.address {
        entry["api_base"] = json!(deployment.api_base);
    }
    if !shown.measured {
        if let Some(fields) = entry.as_object_mut() {
            fields.remove("measured");
        }
    }
    entry
}
