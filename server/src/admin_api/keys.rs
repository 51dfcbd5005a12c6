//! `/key/generate`, `/key/info`, `/key/list`, `/key/update`, `/key/delete`, `/key/block`,
//! `/key/unblock` and `/key/regenerate` in LiteLLM's request and response shapes, over
//! `app::ops::keys`. A key changed here is refreshed in this instance's cache at once (the
//! others follow the NOTIFY within a second).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::KeyDetails;
use app::ops::keys::{self, IssuedKey, KeyListQuery, KeyUpdate, NewKey};

use super::access::Actor;
use super::{answer, json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

/// An issued key: its fields, its secret and its token.
fn issued(issued: IssuedKey) -> Value {
    let mut body = answer(&issued.details);
    body["key"] = json!(issued.secret);
    body["token_id"] = json!(issued.details.token);
    body
}

pub async fn generate(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: NewKey = json_body(body).await?;
    let duration = request.duration.clone();
    let created = keys::generate(&gateway.pool, &caller, &*gateway.models, request).await?;
    let mut body = issued(created);
    body["duration"] = json!(duration);
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct KeyInfoQuery {
    key: Option<String>,
}

/// A key's details and spend; without `?key=`, the calling key's.
pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<KeyInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let given = match query.key {
        Some(key) => key,
        None if caller.caller.is_master() => {
            return Err(ApiError::bad_request(
                "Pass the key to look up as `?key=`.",
                Some("key"),
            ))
        }
        None => caller.caller.token_hash().to_string(),
    };
    let details: KeyDetails = keys::info(&gateway.pool, &caller, &given).await?;
    Ok(Json(json!({ "key": details.token, "info": details })))
}

#[derive(Deserialize)]
pub struct DeleteKeysRequest {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    key_aliases: Vec<String>,
}

pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: DeleteKeysRequest = json_body(body).await?;
    let revoked = keys::delete(&gateway.pool, &caller, &request.keys, &request.key_aliases).await?;
    for token in &revoked.tokens {
        gateway.keys.evict(token);
    }
    Ok(Json(json!({ "deleted_keys": revoked.named })))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: KeyUpdate = json_body(body).await?;
    let details = keys::update(&gateway.pool, &caller, &*gateway.models, request).await?;
    gateway.keys.refresh(&details.token).await?;
    Ok(Json(answer(&details)))
}

#[derive(Deserialize)]
pub struct BlockKeyRequest {
    key: String,
}

pub async fn block(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    set_blocked(gateway, caller, body, true).await
}

pub async fn unblock(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    set_blocked(gateway, caller, body, false).await
}

async fn set_blocked(
    gateway: SharedGateway,
    caller: Actor,
    body: Body,
    blocked: bool,
) -> Result<Json<Value>, ApiError> {
    let request: BlockKeyRequest = json_body(body).await?;
    let details = keys::set_blocked(&gateway.pool, &caller, &request.key, blocked).await?;
    gateway.keys.refresh(&details.token).await?;
    Ok(Json(answer(&details)))
}

#[derive(Deserialize)]
pub struct ListKeysQuery {
    team_id: Option<String>,
    key_alias: Option<String>,
    user_id: Option<String>,
    page: Option<i64>,
    size: Option<i64>,
    #[serde(default)]
    return_full_object: bool,
}

/// Keys that are not revoked, newest first (LiteLLM's paging: `page` from 1, `size`).
pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<ListKeysQuery>,
) -> Result<Json<Value>, ApiError> {
    let asked = KeyListQuery {
        team_id: query.team_id,
        key_alias: query.key_alias,
        user_id: query.user_id,
        page: query.page,
        size: query.size,
    };
    let page = keys::list(&gateway.pool, &caller, asked).await?;
    let listed: Vec<Value> = page
        .keys
        .iter()
        .map(|details| {
            if query.return_full_object {
                answer(details)
            } else {
                json!(details.token)
            }
        })
        .collect();
    Ok(Json(json!({
        "keys": listed,
        "total_count": page.total,
        "current_page": page.page,
        "total_pages": (page.total + page.size - 1) / page.size,
    })))
}

#[derive(Deserialize)]
pub struct RegenerateKeyRequest {
    key: Option<String>,
    /// A caller-chosen new secret (`sk-…`).
    new_key: Option<String>,
    /// How long the old secret keeps working (`30s`, `1h`, `1d`, …); none: it stops now.
    grace_period: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// `POST /key/regenerate` with `key` in the body.
pub async fn regenerate(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    rotate(gateway, caller, None, body).await
}

/// `POST /key/{key}/regenerate`.
pub async fn regenerate_path(
    State(gateway): State<SharedGateway>,
    Path(key): Path<String>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    rotate(gateway, caller, Some(key), body).await
}

/// Regenerates a key; an empty body is allowed when the key is in the path.
async fn rotate(
    gateway: SharedGateway,
    caller: Actor,
    key_in_path: Option<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = crate::core::body::read_body(body).await?;
    let request: RegenerateKeyRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        RegenerateKeyRequest {
            key: None,
            new_key: None,
            grace_period: None,
            other: serde_json::Map::new(),
        }
    } else {
        serde_json::from_slice(&bytes).map_err(|error| {
            ApiError::bad_request(format!("The request body is not valid: {error}."), None)
        })?
    };
    if let Some(field) = request.other.keys().find(|field| field.as_str() != "key") {
        return Err(ApiError::bad_request(
            format!("`{field}` cannot change while regenerating; use /key/update."),
            None,
        ));
    }
    let given = key_in_path
        .or(request.key)
        .ok_or_else(|| ApiError::bad_request("Pass the `key` to regenerate.", Some("key")))?;
    let created = keys::regenerate(
        &gateway.pool,
        &caller,
        &given,
        request.new_key,
        request.grace_period.as_deref(),
    )
    .await?;
    gateway.keys.refresh(&created.details.token).await?;
    Ok(Json(issued(created)))
}
