//! `/user/new`, `/user/info`, `/user/list`, `/user/update`, `/user/delete` in LiteLLM's shapes,
//! over `app::ops::users`. Keys revoked with a user are dropped from this instance's cache at
//! once.

use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::users as user_rows;
use app::ops::keys::{self, KeyListQuery};
use app::ops::users::{self, NewUser, UserUpdate};

use super::extract::{Admin, Answer, Input, Manager};
use super::ApiQuery;
use crate::core::error::ApiError;

pub async fn create(admin: Admin, Input(request): Input<NewUser>) -> Answer<Value> {
    let created = users::create(admin.pool(), &admin, request).await?;
    let mut body = json!(created.details);
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
pub async fn info(manager: Manager, ApiQuery(query): ApiQuery<UserInfoQuery>) -> Answer<Value> {
    let user_id = match (query.user_id, &manager.user_id) {
        (Some(asked), _) => asked,
        (None, Some(own)) => own.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "Pass the user to look up as `?user_id=`.",
                Some("user_id"),
            ))
        }
    };
    let details = users::find(manager.pool(), &manager, &user_id).await?;
    let owned_keys = KeyListQuery {
        user_id: Some(details.user_id.clone()),
        size: Some(keys::MAX_PAGE_SIZE),
        ..KeyListQuery::default()
    };
    let keys = keys::list(manager.pool(), &manager, owned_keys).await?.keys;
    let teams: Vec<Value> = user_rows::memberships(manager.pool(), &details.user_id)
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

pub async fn list(manager: Manager, ApiQuery(query): ApiQuery<ListUsersQuery>) -> Answer<Value> {
    let (page, size) = (query.page.unwrap_or(1), query.page_size.unwrap_or(25));
    let role = query.role.as_deref();
    let listed = users::list(manager.pool(), &manager, role, page, size).await?;
    Ok(Json(json!({
        "users": listed.users,
        "total": listed.total,
        "page": listed.page,
        "page_size": listed.size,
        "total_pages": (listed.total + listed.size - 1) / listed.size,
    })))
}

/// Changes a user; only those fields given change.
pub async fn update(admin: Admin, Input(request): Input<UserUpdate>) -> Answer<Value> {
    let password_changed = request.password.is_some();
    let row = users::update(admin.pool(), &admin, request).await?;
    let mut body = json!(users::view(&row));
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
pub async fn delete(admin: Admin, Input(request): Input<DeleteUsersRequest>) -> Answer<Value> {
    let deleted = users::delete(admin.pool(), &admin, &request.user_ids).await?;
    for token_hash in &deleted.revoked_keys {
        admin.gateway.keys.evict(token_hash);
    }
    Ok(Json(json!({
        "deleted_users": deleted.user_ids,
        "keys_revoked": deleted.revoked_keys.len(),
    })))
}
