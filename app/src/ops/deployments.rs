//! Stored deployments (`/model/*` and the console's Models page): admins add, change and delete
//! them; their credentials are sealed at rest and never shown; every instance serves a change
//! once it is committed (the caller reloads its own at once).

use serde_json::{json, Map, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::deployments::{self, DeploymentError, DeploymentSpec, StoredDeployment};
use crate::ops::record::{record, Change};
use crate::ops::{rfc3339, Actor, Catalog, OpsError};
use crate::sealing::Sealer;

/// A deployment in LiteLLM's shape; sealed credentials are never shown.
pub fn view(row: &StoredDeployment) -> Value {
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

fn refused(error: DeploymentError) -> OpsError {
    match error {
        DeploymentError::Database(error) => OpsError::Database(error),
        DeploymentError::DuplicateId => OpsError::conflict(
            "A deployment with this `model_info.id` already exists; use /model/update.",
            "model_info",
        ),
        DeploymentError::NoSecretsKey => OpsError::conflict(
            "This gateway cannot store credentials: set GATEHOUSE_SECRETS_KEY (at least 32 \
             characters) on every instance, or give the credential as os.environ/NAME in a \
             variable every instance has.",
            "litellm_params",
        ),
        other => OpsError::Internal(format!("stored deployment credentials unusable: {other}")),
    }
}

fn not_found(id: Uuid) -> OpsError {
    OpsError::NotFound(format!("No stored deployment has id {id}."))
}

/// Refuses a deployment the gateway could not serve, naming the field.
fn check(catalog: &dyn Catalog, spec: &DeploymentSpec) -> Result<(), OpsError> {
    if spec.model_name.trim().is_empty() {
        return Err(OpsError::conflict(
            "`model_name` must not be empty.",
            "model_name",
        ));
    }
    catalog
        .check_deployment(spec)
        .map_err(|message| OpsError::conflict(format!("{message}."), "litellm_params"))
}

/// Stores a new deployment under `id`.
pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    sealer: Option<&Sealer>,
    id: Uuid,
    spec: DeploymentSpec,
) -> Result<Value, OpsError> {
    actor.require_admin("change deployments")?;
    check(catalog, &spec)?;
    let mut transaction = pool.begin().await?;
    let row = deployments::insert(&mut transaction, sealer, id, spec, &actor.name)
        .await
        .map_err(refused)?;
    let after = view(&row);
    let change = Change {
        action: "model.new",
        target_type: "model",
        target_id: &row.id.to_string(),
        before: None,
        after: Some(after.clone()),
    };
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(after)
}

/// Changes a stored deployment: `edit` turns its current definition (credentials opened) into
/// the new one.
pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    sealer: Option<&Sealer>,
    id: Uuid,
    edit: impl FnOnce(DeploymentSpec) -> Result<DeploymentSpec, OpsError>,
) -> Result<Value, OpsError> {
    actor.require_admin("change deployments")?;
    let mut transaction = pool.begin().await?;
    let current = deployments::find_for_change(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let spec = edit(current.spec(sealer).map_err(refused)?)?;
    check(catalog, &spec)?;
    let row = deployments::replace(&mut transaction, sealer, id, spec)
        .await
        .map_err(refused)?
        .ok_or_else(|| not_found(id))?;
    let after = view(&row);
    let change = Change {
        action: "model.update",
        target_type: "model",
        target_id: &id.to_string(),
        before: Some(view(&current)),
        after: Some(after.clone()),
    };
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(after)
}

pub async fn delete(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Value, OpsError> {
    actor.require_admin("change deployments")?;
    let mut transaction = pool.begin().await?;
    if !deployments::delete(&mut transaction, id).await? {
        return Err(not_found(id));
    }
    let after = json!({ "message": format!("Model {id} deleted"), "id": id });
    let change = Change {
        action: "model.delete",
        target_type: "model",
        target_id: &id.to_string(),
        before: None,
        after: Some(after.clone()),
    };
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(after)
}
