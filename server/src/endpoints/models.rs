//! The model listings in OpenAI's format: `GET /v1/models` and `/v1/models/{id}`, each showing
//! only the models the calling key may use.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::policy::auth::authenticate;
use crate::state::SharedGateway;

fn model_object(gateway: &SharedGateway, name: &str) -> Value {
    json!({
        "id": name,
        "object": "model",
        "created": gateway.started_unix,
        "owned_by": "gatehouse",
    })
}

pub async fn list_models(
    State(gateway): State<SharedGateway>,
    origin: Origin,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&gateway.authenticator(), &headers, &origin).await?;
    let groups = gateway.models.groups();
    let data: Vec<Value> = groups
        .names()
        .filter(|name| caller.may_use(name, groups.access()))
        .map(|name| model_object(&gateway, name))
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

pub async fn retrieve_model(
    State(gateway): State<SharedGateway>,
    Path(model): Path<String>,
    origin: Origin,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&gateway.authenticator(), &headers, &origin).await?;
    let groups = gateway.models.groups();
    if !groups.serves(&model) || !caller.may_use(&model, groups.access()) {
        return Err(ApiError::UnknownModel(model));
    }
    Ok(Json(model_object(&gateway, &model)))
}
