//! Stored deployments (the console's Models page and LiteLLM's `/model/new`): a public model
//! name, LiteLLM's `litellm_params` and `model_info`, with the secret params split off and
//! sealed in their own column.

use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::sealing::{SealError, Sealer};

/// `litellm_params` that are credentials: never stored in the clear, never shown.
pub const SECRET_PARAMS: &[&str] = &[
    "api_key",
    "azure_ad_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "vertex_credentials",
];

pub type Params = Map<String, Value>;

/// `litellm_params` that say where credentials are sent: the provider and model, the base URL,
/// the region, the project.
pub const DESTINATION_PARAMS: &[&str] = &[
    "model",
    "api_base",
    "aws_bedrock_runtime_endpoint",
    "aws_region_name",
    "vertex_project",
    "vertex_location",
];

/// The params of an edited deployment, from the stored ones and the edit: the credentials the
/// edit does not give again are kept only while the destination stays the same, so stored
/// keys never follow a changed `api_base`, provider or model. `edited` holds what the edit
/// sets (`Value::Null` removes a param).
pub fn edited_params(before: &Params, edited: Params) -> Params {
    let mut after = before.clone();
    let given: Vec<&str> = SECRET_PARAMS
        .iter()
        .copied()
        .filter(|name| edited.get(*name).is_some_and(|value| !value.is_null()))
        .collect();
    for (name, value) in edited {
        match value {
            Value::Null => after.remove(&name),
            value => after.insert(name, value),
        };
    }
    let moved = DESTINATION_PARAMS
        .iter()
        .any(|name| before.get(*name) != after.get(*name));
    if moved {
        for name in SECRET_PARAMS {
            if !given.contains(name) {
                after.remove(*name);
            }
        }
    }
    after
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredDeployment {
    pub id: Uuid,
    pub model_name: String,
    /// Without the secret params.
    pub litellm_params: Value,
    pub model_info: Value,
    pub sealed_secrets: Option<Vec<u8>>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A deployment as LiteLLM's API describes it, secrets included.
#[derive(Debug, Clone, Default)]
pub struct DeploymentSpec {
    pub model_name: String,
    pub litellm_params: Params,
    pub model_info: Params,
}

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(
        "set GATEHOUSE_SECRETS_KEY (at least 32 characters) to store provider credentials; \
         without it Gatehouse will not keep them"
    )]
    NoSecretsKey,
    #[error("the stored credentials cannot be opened: {0}")]
    Seal(#[from] SealError),
    #[error("the stored credentials are not a JSON object")]
    Unreadable,
    #[error("a deployment with this id already exists")]
    DuplicateId,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

macro_rules! deployment_columns {
    () => {
        "id, model_name, litellm_params, model_info, sealed_secrets, created_by, created_at, \
         updated_at"
    };
}

impl StoredDeployment {
    /// The public `litellm_params` and the opened secrets, as one object.
    pub fn full_params(&self, sealer: Option<&Sealer>) -> Result<Params, DeploymentError> {
        let mut params = match &self.litellm_params {
            Value::Object(params) => params.clone(),
            _ => Params::new(),
        };
        if let Some(sealed) = &self.sealed_secrets {
            let sealer = sealer.ok_or(DeploymentError::NoSecretsKey)?;
            let opened = sealer.open(sealed, self.id.as_bytes())?;
            let secrets: Params =
                serde_json::from_slice(&opened).map_err(|_| DeploymentError::Unreadable)?;
            params.extend(secrets);
        }
        Ok(params)
    }

    pub fn spec(&self, sealer: Option<&Sealer>) -> Result<DeploymentSpec, DeploymentError> {
        Ok(DeploymentSpec {
            model_name: self.model_name.clone(),
            litellm_params: self.full_params(sealer)?,
            model_info: match &self.model_info {
                Value::Object(info) => info.clone(),
                _ => Params::new(),
            },
        })
    }

    /// `litellm_params` as stored: without the secret params.
    pub fn public_params(&self) -> Params {
        match &self.litellm_params {
            Value::Object(params) => params.clone(),
            _ => Params::new(),
        }
    }
}

/// Splits the secret params off `params` and seals them for row `id` (`None` when there are
/// none). A reference to an environment variable (`os.environ/NAME`) is not a secret and stays.
fn seal_secrets(
    sealer: Option<&Sealer>,
    id: Uuid,
    params: &mut Params,
) -> Result<Option<Vec<u8>>, DeploymentError> {
    let mut secrets = Params::new();
    for name in SECRET_PARAMS {
        let is_reference = params
            .get(*name)
            .and_then(Value::as_str)
            .is_some_and(|value| value.starts_with("os.environ/"));
        if is_reference {
            continue;
        }
        if let Some(value) = params.remove(*name) {
            if !value.is_null() {
                secrets.insert((*name).to_string(), value);
            }
        }
    }
    if secrets.is_empty() {
        return Ok(None);
    }
    let sealer = sealer.ok_or(DeploymentError::NoSecretsKey)?;
    let plaintext = serde_json::to_vec(&secrets).map_err(|_| DeploymentError::Unreadable)?;
    Ok(Some(sealer.seal(&plaintext, id.as_bytes())?))
}

pub async fn list(pool: &PgPool) -> Result<Vec<StoredDeployment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments ORDER BY model_name, created_at, id"
    ))
    .fetch_all(pool)
    .await
}

/// A stored deployment, locked until the caller's transaction ends.
pub async fn find_for_change(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<StoredDeployment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(connection)
    .await
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<StoredDeployment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn insert(
    connection: &mut PgConnection,
    sealer: Option<&Sealer>,
    id: Uuid,
    spec: DeploymentSpec,
    created_by: &str,
) -> Result<StoredDeployment, DeploymentError> {
    let insert = sqlx::query_as(concat!(
        "INSERT INTO deployments (id, model_name, litellm_params, model_info, sealed_secrets, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        deployment_columns!()
    ));
    bind_definition(insert, sealer, id, spec)?
        .bind(created_by)
        .fetch_one(connection)
        .await
        .map_err(|error| match error {
            sqlx::Error::Database(db) if db.is_unique_violation() => DeploymentError::DuplicateId,
            other => DeploymentError::Database(other),
        })
}

/// Replaces a deployment's definition (secrets re-sealed under the current key); `None` when
/// it does not exist.
pub async fn replace(
    connection: &mut PgConnection,
    sealer: Option<&Sealer>,
    id: Uuid,
    spec: DeploymentSpec,
) -> Result<Option<StoredDeployment>, DeploymentError> {
    let update = sqlx::query_as(concat!(
        "UPDATE deployments SET model_name = $2, litellm_params = $3, model_info = $4, \
         sealed_secrets = $5, updated_at = now() WHERE id = $1 RETURNING ",
        deployment_columns!()
    ));
    Ok(bind_definition(update, sealer, id, spec)?
        .fetch_optional(connection)
        .await?)
}

/// A statement that writes a deployment, with its definition bound as `$1` to `$5` (id,
/// name, parameters without their secrets, model info, the secrets sealed).
fn bind_definition<'q>(
    statement: DeploymentQuery<'q>,
    sealer: Option<&Sealer>,
    id: Uuid,
    mut spec: DeploymentSpec,
) -> Result<DeploymentQuery<'q>, DeploymentError> {
    let sealed = seal_secrets(sealer, id, &mut spec.litellm_params)?;
    Ok(statement
        .bind(id)
        .bind(spec.model_name.trim().to_string())
        .bind(Value::Object(spec.litellm_params))
        .bind(Value::Object(spec.model_info))
        .bind(sealed))
}

/// A statement that answers with a stored deployment.
type DeploymentQuery<'q> =
    sqlx::query::QueryAs<'q, sqlx::Postgres, StoredDeployment, sqlx::postgres::PgArguments>;

/// Deletes a deployment; whether it existed.
pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM deployments WHERE id = $1")
        .bind(id)
        .execute(connection)
        .await?;
    Ok(result.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_split_off_and_sealed_to_the_row() {
        let sealer = Sealer::new("0123456789abcdef0123456789abcdef", None).unwrap();
        let id = Uuid::new_v4();
        let mut params = json!({
            "model": "openai/gpt-4o",
            "api_key": "sk-upstream-secret",
            "aws_session_token": null,
        })
        .as_object()
        .unwrap()
        .clone();
        let sealed = seal_secrets(Some(&sealer), id, &mut params)
            .unwrap()
            .unwrap();
        assert_eq!(
            Value::Object(params.clone()),
            json!({"model": "openai/gpt-4o"})
        );
        let row = StoredDeployment {
            id,
            model_name: "gpt".into(),
            litellm_params: Value::Object(params),
            model_info: json!({}),
            sealed_secrets: Some(sealed),
            created_by: "test".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(
            Value::Object(row.full_params(Some(&sealer)).unwrap()),
            json!({"model": "openai/gpt-4o", "api_key": "sk-upstream-secret"})
        );
        assert!(matches!(
            row.full_params(None),
            Err(DeploymentError::NoSecretsKey)
        ));
        let moved = StoredDeployment {
            id: Uuid::new_v4(),
            ..row
        };
        assert!(matches!(
            moved.full_params(Some(&sealer)),
            Err(DeploymentError::Seal(SealError::Corrupt))
        ));
    }

    #[test]
    fn without_a_secrets_key_only_secretless_deployments_are_stored() {
        let mut plain = json!({"model": "ollama/llama3", "api_key": "os.environ/OLLAMA_KEY"})
            .as_object()
            .unwrap()
            .clone();
        assert!(seal_secrets(None, Uuid::new_v4(), &mut plain)
            .unwrap()
            .is_none());
        assert_eq!(plain["api_key"], "os.environ/OLLAMA_KEY");
        let mut keyed = json!({"model": "openai/x", "api_key": "sk-1"})
            .as_object()
            .unwrap()
            .clone();
        assert!(matches!(
            seal_secrets(None, Uuid::new_v4(), &mut keyed),
            Err(DeploymentError::NoSecretsKey)
        ));
    }
}
