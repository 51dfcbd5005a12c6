//! LiteLLM's deployment management: `/model/new`, `/model/update` (and
//! `PATCH /model/{id}/update`), `/model/delete`, over `app::ops::deployments`. Deployments are
//! stored in Postgres with their credentials sealed; this instance serves a change before
//! answering, every other one once it is committed.

use axum::extract::Path;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use app::db::deployments::{self, DeploymentSpec};
use app::ops::deployments as operations;
use app::ops::OpsError;

use super::extract::{Admin, Answer, Input};
use crate::core::error::ApiError;

#[derive(Deserialize)]
pub struct NewModel {
    model_name: String,
    litellm_params: Map<String, Value>,
    #[serde(default)]
    model_info: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct ModelUpdate {
    model_name: Option<String>,
    #[serde(default)]
    litellm_params: Map<String, Value>,
    #[serde(default)]
    model_info: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct ModelId {
    id: String,
}

pub async fn create(admin: Admin, Input(request): Input<NewModel>) -> Answer<Value> {
    let NewModel {
        model_name,
        litellm_params,
        mut model_info,
    } = request;
    let id = match model_info.remove("id") {
        None | Some(Value::Null) => Uuid::new_v4(),
        Some(given) => parse_id(given.as_str().unwrap_or_default())?,
    };
    let spec = DeploymentSpec {
        model_name,
        litellm_params,
        model_info,
    };
    let sealer = admin.gateway.models.sealer();
    let created =
        operations::create(admin.pool(), &admin, admin.catalog(), sealer, id, spec).await?;
    applied(&admin, created).await
}

/// `/model/update`: the deployment named by `model_info.id`; given params replace stored ones.
pub async fn update(admin: Admin, Input(mut changes): Input<ModelUpdate>) -> Answer<Value> {
    let id = match changes.model_info.remove("id") {
        Some(Value::String(id)) => parse_id(&id)?,
        _ => {
            return Err(ApiError::bad_request(
                "`model_info.id` names the deployment to update.",
                Some("model_info"),
            ))
        }
    };
    apply_update(admin, id, changes).await
}

/// `PATCH /model/{model_id}/update`.
pub async fn patch(
    admin: Admin,
    Path(model_id): Path<String>,
    Input(mut changes): Input<ModelUpdate>,
) -> Answer<Value> {
    let id = parse_id(&model_id)?;
    changes.model_info.remove("id");
    apply_update(admin, id, changes).await
}

pub async fn delete(admin: Admin, Input(ModelId { id }): Input<ModelId>) -> Answer<Value> {
    let deleted = operations::delete(admin.pool(), &admin, parse_id(&id)?).await?;
    applied(&admin, deleted).await
}

async fn apply_update(admin: Admin, id: Uuid, changes: ModelUpdate) -> Answer<Value> {
    let edit = |mut spec: DeploymentSpec| -> Result<DeploymentSpec, OpsError> {
        if let Some(name) = changes.model_name {
            spec.model_name = name;
        }
        spec.litellm_params =
            deployments::edited_params(&spec.litellm_params, changes.litellm_params);
        for (name, value) in changes.model_info {
            match value {
                Value::Null => spec.model_info.remove(&name),
                value => spec.model_info.insert(name, value),
            };
        }
        Ok(spec)
    };
    let sealer = admin.gateway.models.sealer();
    let updated =
        operations::update(admin.pool(), &admin, admin.catalog(), sealer, id, edit).await?;
    applied(&admin, updated).await
}

/// Serves the change on this instance before answering (the others follow the NOTIFY).
async fn applied(admin: &Admin, answer: Value) -> Answer<Value> {
    if let Err(error) = admin.gateway.models.reload().await {
        tracing::warn!(%error, "stored deployments reload failed; the next reload retries");
    }
    Ok(Json(answer))
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        ApiError::bad_request(
            format!("`{text}` is not a deployment id (they are UUIDs)."),
            Some("id"),
        )
    })
}
