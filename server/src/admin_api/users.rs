//! `/user/new`, `/user/info`, `/user/list`, `/user/update`, `/user/delete` in LiteLLM's shapes,
//! over `app::ops::users`. Keys revoked with a user are dropped from this instance's cache at
//! once.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::users as user_rows;
use app::ops::keys::{self, KeyListQuery};
use app::ops::users::{self, NewUser, UserUpdate};

use super::access::Actor;
use super::{answer, json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: NewUser = json_body(body).await?;
    let created = users::create(&gateway.pool, &caller, request).await?;
    let mut body = answer(&created.details);
    body["teams"] = json!(created.teams);
    if let Some(key) = created.key {
        body["key"] = json!(key.secret);
        body["token"] = json!(key.details.token);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct UserInfoQuery {
    user_id: Option<String>,
}

/// A user with its keys and teams. Roles that read everything read anyone; a user reads itself.
pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<UserInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let user_id = match (query.user_id, &caller.user_id) {
        (Some(asked), _) => asked,
        (None, Some(own)) => own.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "Pass the user to look up as `?user_id=`.",
                Some("user_id"),
            ))
        }
    };
    let details = users::find(&gateway.pool, &caller, &user_id).await?;
    let owned_keys = KeyListQuery {
        user_id: Some(details.user_id.clone()),
        size: Some(keys::MAX_PAGE_SIZE),
        ..KeyListQuery::default()
    };
    let keys = keys::list(&gateway.pool, &caller, owned_keys).await?.keys;
    let teams: Vec<Value> = user_rows::memberships(&gateway.pool, &details.user_id)
        .await?
        .into_iter()
        .map(|membership| json!({ "team_id": membership.team_id, "role": membership.role }))
        .collect();
    Ok(Json(json!({
        "user_id": details.user_id,
        "user_info": details,
        "keys": keys,
        "teams": teams,
    })))
}

#[derive(Deserialize)]
pub struct ListUsersQuery {
    role: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<ListUsersQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = users::list(
        &gateway.pool,
        &caller,
        query.role.as_deref(),
        query.page.unwrap_or(1),
        query.page_size.unwrap_or(25),
    )
    .await?;
    Ok(Json(json!({
        "users": page.users,
        "total": page.total,
        "page": page.page,
        "page_size": page.size,
        "total_pages": (page.total + page.size - 1) / page.size,
    })))
}

/// Changes a user; only those fields given change.
pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: UserUpdate = json_body(body).await?;
    let password_changed = request.password.is_some();
    let row = users::update(&gateway.pool, &caller, request).await?;
    let mut body = answer(&users::view(&row));
    if password_changed {
        body["password_changed"] = json!(true);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct DeleteUsersRequest {
    user_ids: Vec<String>,
}

/// Deletes users; their keys are revoked with them, here at once and within a second elsewhere.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: DeleteUsersRequest = json_body(body).await?;
    let deleted = users::delete(&gateway.pool, &caller, &request.user_ids).await?;
    for token_hash in &deleted.revoked_keys {
        gateway.keys.evict(token_hash);
    }
    Ok(Json(json!({
        "deleted_users": deleted.user_ids,
        "keys_revoked": deleted.revoked_keys.len(),
    })))
}
