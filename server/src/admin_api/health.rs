//! Liveness and readiness probes (LiteLLM's paths).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::SharedGateway;

pub async fn liveliness() -> Json<&'static str> {
    Json("I'm alive!")
}

/// Ready when Postgres answers.
pub async fn readiness(State(gateway): State<SharedGateway>) -> (StatusCode, Json<Value>) {
    match sqlx::query("SELECT 1").execute(&gateway.pool).await {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({ "status": "healthy", "db": "connected" })),
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unhealthy", "db": "disconnected" })),
            )
        }
    }
}
