//! `GET /v1/models`: the models the calling key may use, in OpenAI's list format.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::policy::auth::authenticate;
use crate::state::SharedGateway;

pub async fn list_models(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&gateway.keys, gateway.master_key.as_ref(), &headers).await?;
    let data: Vec<Value> = gateway
        .models
        .names()
        .filter(|name| caller.may_use(name))
        .map(|name| {
            json!({
                "id": name,
                "object": "model",
                "created": gateway.started_unix,
                "owned_by": "gatehouse",
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}
