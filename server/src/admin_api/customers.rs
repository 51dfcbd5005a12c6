//! `/customer/new`, `/customer/info`, `/customer/list`, `/customer/update`, `/customer/delete`,
//! `/customer/block`, `/customer/unblock` in LiteLLM's shapes, over `app::ops::end_users`. A
//! change drops what this instance holds of the end user at once.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::EndUserView;
use app::ops::end_users::{self, EndUserUpdate, NewEndUser};

use super::access::Actor;
use super::{json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<EndUserView>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: NewEndUser = json_body(body).await?;
    let view = end_users::create(&gateway.pool, &actor, input).await?;
    gateway.end_users.forget(&view.user_id);
    Ok(Json(view))
}

#[derive(Deserialize)]
pub struct EndUserInfoQuery {
    end_user_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<EndUserInfoQuery>,
) -> Result<Json<EndUserView>, ApiError> {
    let actor = caller;
    Ok(Json(
        end_users::find(&gateway.pool, &actor, &query.end_user_id).await?,
    ))
}

#[derive(Deserialize)]
pub struct ListEndUsersQuery {
    after: Option<String>,
    limit: Option<i64>,
}

/// End users by id; `after` (the last id of the previous page) pages on.
pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<ListEndUsersQuery>,
) -> Result<Json<Vec<EndUserView>>, ApiError> {
    let actor = caller;
    let limit = query.limit.unwrap_or(100);
    Ok(Json(
        end_users::list(&gateway.pool, &actor, query.after.as_deref(), limit).await?,
    ))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<EndUserView>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: EndUserUpdate = json_body(body).await?;
    let view = end_users::update(&gateway.pool, &actor, input).await?;
    gateway.end_users.forget(&view.user_id);
    Ok(Json(view))
}

#[derive(Deserialize)]
pub struct EndUserIdsRequest {
    user_ids: Vec<String>,
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

/// Blocks or unblocks end users: their requests are refused (`403`, `blocked_end_user`) here at
/// once and within a second elsewhere.
async fn set_blocked(
    gateway: SharedGateway,
    caller: Actor,
    body: Body,
    blocked: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let request: EndUserIdsRequest = json_body(body).await?;
    let changed = end_users::set_blocked(&gateway.pool, &actor, &request.user_ids, blocked).await?;
    for user_id in &changed {
        gateway.end_users.forget(user_id);
    }
    Ok(Json(json!({ "user_ids": changed, "blocked": blocked })))
}

/// Deletes end users and their budgets; their spend rows stay.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let request: EndUserIdsRequest = json_body(body).await?;
    let deleted = end_users::delete(&gateway.pool, &actor, &request.user_ids).await?;
    for user_id in &deleted {
        gateway.end_users.forget(user_id);
    }
    Ok(Json(json!({ "deleted_customers": deleted })))
}
