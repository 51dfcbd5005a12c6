//! `/key/generate`, `/key/info`, `/key/list`, `/key/update`, `/key/delete`, `/key/block`,
//! `/key/unblock` and `/key/regenerate` in LiteLLM's request and response shapes, over
//! `app::ops::keys`. A key changed here is refreshed in this instance's cache at once (the
//! others follow the NOTIFY within a second).

use axum::body::Body;
use axum::extract::Path;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::KeyDetails;
use app::ops::keys::{self, IssuedKey, KeyListQuery, KeyUpdate, NewKey};

use super::extract::{Answer, Input, Manager};
use super::ApiQuery;
use crate::core::error::ApiError;

/// An issued key: its fields, its secret and its token.
fn issued(issued: IssuedKey) -> Json<Value> {
    let mut body = json!(issued.details);
    body["key"] = json!(issued.secret);
    body["token_id"] = json!(issued.details.token);
    Json(body)
}

/// The key's details, once this instance's cache holds the change.
async fn refreshed(manager: &Manager, details: KeyDetails) -> Answer<KeyDetails> {
    manager.gateway.keys.refresh(&details.token).await?;
    Ok(Json(details))
}

pub async fn generate(manager: Manager, Input(request): Input<NewKey>) -> Answer<Value> {
    let duration = request.duration.clone();
    let created = keys::generate(manager.pool(), &manager, manager.catalog(), request).await?;
    let Json(mut body) = issued(created);
    body["duration"] = json!(duration);
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct KeyInfoQuery {
    key: Option<String>,
}

/// A key's details and spend; without `?key=`, the calling key's.
pub async fn info(manager: Manager, ApiQuery(query): ApiQuery<KeyInfoQuery>) -> Answer<Value> {
    let given = match query.key {
        Some(key) => key,
        None if manager.caller.is_master() => {
            return Err(ApiError::bad_request(
                "Pass the key to look up as `?key=`.",
                Some("key"),
            ))
        }
        None => manager.caller.token_hash().to_string(),
    };
    let details = keys::info(manager.pool(), &manager, &given).await?;
    Ok(Json(json!({ "key": details.token, "info": details })))
}

#[derive(Deserialize)]
pub struct DeleteKeysRequest {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    key_aliases: Vec<String>,
}

pub async fn delete(manager: Manager, Input(request): Input<DeleteKeysRequest>) -> Answer<Value> {
    let revoked = keys::delete(
        manager.pool(),
        &manager,
        &request.keys,
        &request.key_aliases,
    )
    .await?;
    for token in &revoked.tokens {
        manager.gateway.keys.evict(token);
    }
    Ok(Json(json!({ "deleted_keys": revoked.named })))
}

pub async fn update(manager: Manager, Input(request): Input<KeyUpdate>) -> Answer<KeyDetails> {
    let details = keys::update(manager.pool(), &manager, manager.catalog(), request).await?;
    refreshed(&manager, details).await
}

#[derive(Deserialize)]
pub struct BlockKeyRequest {
    key: String,
}

/// `/key/block` (`BLOCKED`) and `/key/unblock`: refused here at once and within a second
/// elsewhere, until unblocked.
pub async fn set_blocked<const BLOCKED: bool>(
    manager: Manager,
    Input(request): Input<BlockKeyRequest>,
) -> Answer<KeyDetails> {
    let details = keys::set_blocked(manager.pool(), &manager, &request.key, BLOCKED).await?;
    refreshed(&manager, details).await
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
pub async fn list(manager: Manager, ApiQuery(query): ApiQuery<ListKeysQuery>) -> Answer<Value> {
    let asked = KeyListQuery {
        team_id: query.team_id,
        key_alias: query.key_alias,
        user_id: query.user_id,
        page: query.page,
        size: query.size,
    };
    let page = keys::list(manager.pool(), &manager, asked).await?;
    let listed: Vec<Value> = page
        .keys
        .iter()
        .map(|details| match query.return_full_object {
            true => json!(details),
            false => json!(details.token),
        })
        .collect();
    Ok(Json(json!({
        "keys": listed,
        "total_count": page.total,
        "current_page": page.page,
        "total_pages": (page.total + page.size - 1) / page.size,
    })))
}

#[derive(Deserialize, Default)]
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
pub async fn regenerate(manager: Manager, body: Body) -> Answer<Value> {
    rotate(manager, None, body).await
}

/// `POST /key/{key}/regenerate`.
pub async fn regenerate_path(
    manager: Manager,
    Path(key): Path<String>,
    body: Body,
) -> Answer<Value> {
    rotate(manager, Some(key), body).await
}

/// Regenerates a key; an empty body is allowed when the key is in the path.
async fn rotate(manager: Manager, key_in_path: Option<String>, body: Body) -> Answer<Value> {
    let bytes = crate::core::body::read_body(body).await?;
    let request: RegenerateKeyRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        RegenerateKeyRequest::default()
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
    let grace = request.grace_period.as_deref();
    let created =
        keys::regenerate(manager.pool(), &manager, &given, request.new_key, grace).await?;
    manager.gateway.keys.refresh(&created.details.token).await?;
    Ok(issued(created))
}
