//! Health, LiteLLM's paths: `/health` (each deployment probed, healthy and unhealthy endpoints
//! with the error), and the probes a load balancer calls without a key — `/health/liveliness`
//! (and `/health/liveness`) and `/health/readiness` (Postgres, Redis when configured, the spend
//! queue).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::access::Actor;
use crate::core::error::ApiError;
use crate::routing::health_checks::{EndpointHealth, Outcome};
use crate::state::SharedGateway;

/// The spend queue's fill past which readiness says `degraded`.
const QUEUE_DEGRADED_SHARE: f64 = 0.9;

pub async fn liveliness() -> Json<&'static str> {
    Json("I'm alive!")
}

/// Ready while Postgres answers (503 otherwise); `degraded` (still 200: every instance shares
/// them, so taking this one out would not help) while Redis does not answer or the spend queue
/// is nearly full.
pub async fn readiness(State(gateway): State<SharedGateway>) -> (StatusCode, Json<Value>) {
    let db = sqlx::query("SELECT 1").execute(&gateway.pool).await;
    if let Err(error) = &db {
        tracing::warn!(%error, "readiness: database unavailable");
    }
    let redis = match &gateway.redis {
        None => None,
        Some(link) => Some(link.ping().await),
    };
    let depth = gateway.meter.queue_depth();
    let capacity = crate::metering::writer::QUEUE_CAPACITY;
    let queue_full = depth as f64 >= capacity as f64 * QUEUE_DEGRADED_SHARE;
    let status = if db.is_err() {
        "unhealthy"
    } else if redis == Some(false) || queue_full {
        "degraded"
    } else {
        "healthy"
    };
    let body = json!({
        "status": status,
        "db": if db.is_ok() { "connected" } else { "disconnected" },
        "cache": gateway.redis.as_ref().map(|_| "redis"),
        "redis": redis.map(|up| if up { "connected" } else { "disconnected" }),
        "spend_queue": { "depth": depth, "capacity": capacity },
        "litellm_version": env!("CARGO_PKG_VERSION"),
    });
    let code = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

#[derive(Deserialize)]
pub struct HealthQuery {
    /// Only this model group's deployments.
    model: Option<String>,
}

/// `GET /health`: every deployment probed with the smallest real request (at most once every
/// ten seconds; with `background_health_checks`, the background's latest round). For those who
/// read everything; the address a deployment's credentials go to only for admins.
pub async fn health(
    State(gateway): State<SharedGateway>,
    actor: Actor,
    Query(query): Query<HealthQuery>,
) -> Result<Json<Value>, ApiError> {
    actor.require_reads_everything("check the deployments' health")?;
    let report = gateway.health.report().await.ok_or(ApiError::Internal)?;
    let details = gateway.health.settings().details;
    let show_address = actor.is_admin();
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    let mut unchecked = Vec::new();
    for endpoint in report.endpoints.iter().filter(|endpoint| {
        query
            .model
            .as_deref()
            .is_none_or(|model| endpoint.deployment.model_group == model)
    }) {
        let mut entry = endpoint_entry(endpoint, details, show_address);
        match &endpoint.outcome {
            Outcome::Healthy(_) => healthy.push(Value::Object(entry)),
            Outcome::Unhealthy { error, status, .. } => {
                entry.insert("error".into(), json!(error));
                if details {
                    entry.insert("exception_status".into(), json!(status));
                }
                unhealthy.push(Value::Object(entry));
            }
            Outcome::NotProbed(reason) => {
                entry.insert("reason".into(), json!(reason));
                unchecked.push(Value::Object(entry));
            }
        }
    }
    Ok(Json(json!({
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "unchecked_endpoints": unchecked,
        "checked_at": report.checked_at.unix_timestamp(),
    })))
}

/// An endpoint as LiteLLM lists it (`health_check_details: false`: its model only).
fn endpoint_entry(
    endpoint: &EndpointHealth,
    details: bool,
    show_address: bool,
) -> Map<String, Value> {
    let deployment = &endpoint.deployment;
    let mut entry = Map::new();
    entry.insert("model".into(), json!(deployment.model_group));
    if !details {
        return entry;
    }
    entry.insert("model_id".into(), json!(deployment.id));
    entry.insert("custom_llm_provider".into(), json!(deployment.provider));
    entry.insert(
        "litellm_model".into(),
        json!(format!(
            "{}/{}",
            deployment.provider, deployment.upstream_model
        )),
    );
    entry.insert(
        "mode".into(),
        json!(deployment.capabilities.mode.map(|mode| mode.as_str())),
    );
    entry.insert(
        "latency_ms".into(),
        json!(u64::try_from(endpoint.latency.as_millis()).unwrap_or(u64::MAX)),
    );
    if show_address {
        entry.insert("api_base".into(), json!(deployment.api_base));
    }
    entry
}
