//! LiteLLM's deployment management: `/model/new`, `/model/update` (and
//! `PATCH /model/{id}/update`), `/model/delete`. Deployments are stored in Postgres with their
//! credentials sealed; every instance serves them once the change is committed.

use axum::extract::Path;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use app::db::deployments::{self, DeploymentError, DeploymentSpec, StoredDeployment};

use super::access::Actor;
use super::audit::{self, Change};
use super::extract::{Admin, Answer, Input};
use super::rfc3339;
use crate::core::error::ApiError;
use crate::state::SharedGateway;

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

pub async fn create(Admin(admin): Admin, Input(request): Input<NewModel>) -> Answer<Value> {
    let (gateway, caller) = (&admin.gateway, &admin.actor);
    let NewModel {
        model_name,
        litellm_params,
        mut model_info,
    } = request;
    let id = match model_info.remove("id") {
        None | Some(Value::Null) => Uuid::new_v4(),
        Some(given) => parse_id(given.as_str().unwrap_or_default())?,
    };
    let spec = checked(
        gateway,
        DeploymentSpec {
            model_name,
            litellm_params,
            model_info,
        },
    )?;
    let row = deployments::insert(
        &gateway.pool,
        gateway.models.sealer(),
        id,
        spec,
        "master_key",
    )
    .await
    .map_err(storage_error)?;
    let after = applied(gateway, &row).await;
    audited(gateway, caller, "model.new", row.id, None, &after).await;
    Ok(Json(after))
}

/// `/model/update`: the deployment named by `model_info.id`; given params replace stored ones.
pub async fn update(Admin(admin): Admin, Input(mut changes): Input<ModelUpdate>) -> Answer<Value> {
    let id = match changes.model_info.remove("id") {
        Some(Value::String(id)) => parse_id(&id)?,
        _ => {
            return Err(ApiError::bad_request(
                "`model_info.id` names the deployment to update.",
                Some("model_info"),
            ))
        }
    };
    apply_update(&admin.gateway, &admin.actor, id, changes).await
}

/// `PATCH /model/{model_id}/update`.
pub async fn patch(
    Admin(admin): Admin,
    Path(model_id): Path<String>,
    Input(mut changes): Input<ModelUpdate>,
) -> Answer<Value> {
    let id = parse_id(&model_id)?;
    changes.model_info.remove("id");
    apply_update(&admin.gateway, &admin.actor, id, changes).await
}

pub async fn delete(Admin(admin): Admin, Input(ModelId { id }): Input<ModelId>) -> Answer<Value> {
    let (gateway, caller) = (&admin.gateway, &admin.actor);
    let id = parse_id(&id)?;
    if !deployments::delete(&gateway.pool, id)
        .await
        .map_err(|error| storage_error(error.into()))?
    {
        return Err(not_found(id));
    }
    reload(gateway).await;
    let after = json!({ "message": format!("Model {id} deleted"), "id": id });
    audited(gateway, caller, "model.delete", id, None, &after).await;
    Ok(Json(after))
}

async fn apply_update(
    gateway: &SharedGateway,
    caller: &Actor,
    id: Uuid,
    changes: ModelUpdate,
) -> Result<Json<Value>, ApiError> {
    let row = deployments::find(&gateway.pool, id)
        .await
        .map_err(|error| storage_error(error.into()))?
        .ok_or_else(|| not_found(id))?;
    let before = public_view(&row);
    let mut spec = row.spec(gateway.models.sealer()).map_err(storage_error)?;
    if let Some(name) = changes.model_name {
        spec.model_name = name;
    }
    spec.litellm_params = deployments::edited_params(&spec.litellm_params, changes.litellm_params);
    for (name, value) in changes.model_info {
        match value {
            Value::Null => spec.model_info.remove(&name),
            value => spec.model_info.insert(name, value),
        };
    }
    let spec = checked(gateway, spec)?;
    let row = deployments::replace(&gateway.pool, gateway.models.sealer(), id, spec)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| not_found(id))?;
    let after = applied(gateway, &row).await;
    audited(gateway, caller, "model.update", id, Some(before), &after).await;
    Ok(Json(after))
}

/// Records a change to a deployment (its public view: never credentials).
async fn audited(
    gateway: &SharedGateway,
    caller: &Actor,
    action: &str,
    id: Uuid,
    before: Option<Value>,
    after: &Value,
) {
    let change = Change {
        action,
        target_type: "model",
        target_id: &id.to_string(),
        before,
        after: Some(after.clone()),
    };
    audit::changed(gateway, caller, change).await;
}

/// Refuses a deployment the gateway could not serve, naming the field.
fn checked(gateway: &SharedGateway, spec: DeploymentSpec) -> Result<DeploymentSpec, ApiError> {
    if spec.model_name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`model_name` must not be empty.",
            Some("model_name"),
        ));
    }
    gateway
        .models
        .build_stored("new", &spec)
        .map_err(|message| ApiError::bad_request(format!("{message}."), Some("litellm_params")))?;
    Ok(spec)
}

/// Serves the change on this instance before answering (the others follow the NOTIFY); the
/// deployment as answered.
async fn applied(gateway: &SharedGateway, row: &StoredDeployment) -> Value {
    reload(gateway).await;
    public_view(row)
}

/// A deployment in LiteLLM's shape; sealed credentials are never shown.
fn public_view(row: &StoredDeployment) -> Value {
    let mut model_info = match &row.model_info {
        Value::Object(info) => info.clone(),
        _ => Map::new(),
    };
    model_info.insert("id".into(), json!(row.id));
    model_info.insert("db_model".into(), json!(true));
    json!({
        "model_id": row.id,
        "model_name": row.model_name,
        "litellm_params": row.public_params(),
        "model_info": model_info,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

async fn reload(gateway: &SharedGateway) {
    if let Err(error) = gateway.models.reload().await {
        tracing::warn!(%error, "stored deployments reload failed; the next reload retries");
    }
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        ApiError::bad_request(
            format!("`{text}` is not a deployment id (they are UUIDs)."),
            Some("id"),
        )
    })
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("No stored deployment has id {id}."))
}

fn storage_error(error: DeploymentError) -> ApiError {
    match error {
        DeploymentError::Database(error) => {
            tracing::error!(%error, "deployment storage failed");
            ApiError::Internal
        }
        DeploymentError::DuplicateId => ApiError::bad_request(
            "A deployment with this `model_info.id` already exists; use /model/update.",
            Some("model_info"),
        ),
        DeploymentError::NoSecretsKey => ApiError::bad_request(
            "This gateway cannot store credentials: set GATEHOUSE_SECRETS_KEY (at least 32 \
             characters) on every instance, or give the credential as os.environ/NAME in \
             a variable every instance has.",
            Some("litellm_params"),
        ),
        other => {
            tracing::error!(error = %other, "stored deployment credentials unusable");
            ApiError::Internal
        }
    }
}
