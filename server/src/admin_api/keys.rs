//! `/key/generate`, `/key/info`, `/key/delete` in LiteLLM's request and response shapes.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::keys::{self, CreateKeyError, KeyRow, KeySpec};
use app::model::{micros_to_dollars, parse_duration_seconds, KeyStatus};

use super::{budget_limits, json_body, master, rfc3339, token_hash_of, ApiQuery};
use crate::error::ApiError;
use crate::policy::auth::{authenticate, Caller};
use crate::state::SharedGateway;

/// LiteLLM fields whose policy Gatehouse does not enforce yet: refused rather than silently
/// ignored, so nobody believes a limit holds when it does not.
const NOT_YET_ENFORCED: &[&str] = &[
    "tpm_limit",
    "rpm_limit",
    "max_parallel_requests",
    "soft_budget",
    "model_max_budget",
    "model_rpm_limit",
    "model_tpm_limit",
    "allowed_routes",
];

#[derive(Deserialize)]
pub struct GenerateKeyRequest {
    #[serde(default)]
    models: Vec<String>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    team_id: Option<String>,
    duration: Option<String>,
    key_alias: Option<String>,
    metadata: Option<Value>,
    key: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// Refuses a `metadata.request_class` that names no request class: every request of the key
/// would fail.
fn check_request_class(gateway: &SharedGateway, metadata: &Value) -> Result<(), ApiError> {
    let Some(class) = metadata.get("request_class") else {
        return Ok(());
    };
    let name = class.as_str().ok_or_else(|| {
        ApiError::bad_request(
            "`metadata.request_class` must be a request class's name.",
            None,
        )
    })?;
    if gateway.models.router().classes.get(name).is_none() {
        return Err(ApiError::bad_request(
            format!("`metadata.request_class`: `{name}` is not a request class."),
            None,
        ));
    }
    Ok(())
}

pub async fn generate(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    master(&gateway, &headers).await?;
    let request: GenerateKeyRequest = json_body(body).await?;
    if let Some(field) = NOT_YET_ENFORCED.iter().find(|field| {
        request
            .other
            .get(**field)
            .is_some_and(|value| !value.is_null())
    }) {
        return Err(ApiError::bad_request(
            format!("`{field}` is not supported by this version of Gatehouse yet."),
            None,
        ));
    }
    let budget = budget_limits(request.max_budget, None, request.budget_duration.as_deref())?;
    let duration_seconds = request
        .duration
        .as_deref()
        .map(parse_duration_seconds)
        .transpose()
        .map_err(|message| ApiError::bad_request(message, None))?;
    let metadata = match request.metadata {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(object)) => Value::Object(object),
        Some(_) => return Err(ApiError::bad_request("`metadata` must be an object.", None)),
    };
    check_request_class(&gateway, &metadata)?;
    let spec = KeySpec {
        secret: request.key,
        key_alias: request.key_alias,
        models: request.models,
        budget,
        duration_seconds,
        metadata,
        team_id: request.team_id,
        created_by: "master_key".into(),
    };
    let (secret, row) = keys::create(&gateway.pool, spec)
        .await
        .map_err(|error| match error {
            CreateKeyError::BadCustomKey | CreateKeyError::Duplicate => {
                ApiError::bad_request(error.to_string(), None)
            }
            CreateKeyError::UnknownTeam => {
                ApiError::bad_request("`team_id` names no live team.", Some("team_id"))
            }
            CreateKeyError::Random(_) | CreateKeyError::Database(_) => {
                tracing::error!(%error, "key generation failed");
                ApiError::Internal
            }
        })?;
    let mut body = key_fields(&row);
    body["key"] = json!(secret);
    body["token_id"] = json!(row.token_hash);
    body["duration"] = json!(request.duration);
    Ok(Json(body))
}

/// The LiteLLM fields of a key (never its secret).
fn key_fields(row: &KeyRow) -> Value {
    let status = row.status(time::OffsetDateTime::now_utc());
    json!({
        "token": row.token_hash,
        "key_name": row.key_name,
        "key_alias": row.key_alias,
        "models": row.models,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "expires": row.expires_at.map(rfc3339),
        "metadata": row.metadata,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "status": status.label(),
        "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "blocked": row.blocked || status != KeyStatus::Active,
        "user_id": null,
        "team_id": row.team_id,
    })
}

#[derive(Deserialize)]
pub struct KeyInfoQuery {
    key: Option<String>,
}

/// A key's details and spend. The master key may read any key; a key may read itself.
pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<KeyInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&gateway, &headers).await?;
    let token_hash = match (&query.key, &caller) {
        (Some(key), _) => token_hash_of(key),
        (None, Caller::Key { key, .. }) => key.token_hash.to_string(),
        (None, Caller::Master { .. }) => {
            return Err(ApiError::bad_request(
                "Pass the key to look up as `?key=`.",
                Some("key"),
            ))
        }
    };
    if !caller.is_master() && caller.token_hash().as_ref() != token_hash {
        return Err(ApiError::MasterKeyRequired);
    }
    let row = keys::find_by_hash(&gateway.pool, &token_hash)
        .await?
        .filter(|row| row.revoked_at.is_none())
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))?;
    Ok(Json(
        json!({ "key": row.token_hash, "info": key_fields(&row) }),
    ))
}

#[derive(Deserialize)]
pub struct DeleteKeysRequest {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    key_aliases: Vec<String>,
}

/// Revokes keys by secret, hash or alias; refused at once here and within a second elsewhere.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    master(&gateway, &headers).await?;
    let request: DeleteKeysRequest = json_body(body).await?;
    if request.keys.is_empty() && request.key_aliases.is_empty() {
        return Err(ApiError::bad_request(
            "Pass `keys` or `key_aliases` to delete.",
            Some("keys"),
        ));
    }
    let hashes: Vec<String> = request.keys.iter().map(|key| token_hash_of(key)).collect();
    let revoked = keys::revoke(&gateway.pool, &hashes, &request.key_aliases).await?;
    if revoked.is_empty() {
        return Err(ApiError::NotFound("None of those keys exist.".into()));
    }
    for key in &revoked {
        gateway.keys.evict(&key.token_hash);
    }
    let deleted: Vec<&String> = request
        .keys
        .iter()
        .zip(&hashes)
        .filter(|(_, hash)| revoked.iter().any(|key| &key.token_hash == *hash))
        .map(|(given, _)| given)
        .chain(request.key_aliases.iter().filter(|alias| {
            revoked
                .iter()
                .any(|key| key.key_alias.as_ref() == Some(*alias))
        }))
        .collect();
    Ok(Json(json!({ "deleted_keys": deleted })))
}
