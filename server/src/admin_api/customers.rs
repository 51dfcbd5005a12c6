//! `/customer/new`, `/customer/info`, `/customer/list`, `/customer/update`, `/customer/delete`,
//! `/customer/block`, `/customer/unblock` in LiteLLM's shapes: end users, named by the `user`
//! field of requests, with their own budget and a block switch. Admins change them; roles that
//! read everything read them.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::end_users::{self, EndUserChange, EndUserError, EndUserRow, EndUserSpec};
use app::model::micros_to_dollars;

use super::access::{actor, Actor};
use super::audit::{self, Change};
use super::{
    admin, budget_limits, budget_link, json_body, metadata_object, rfc3339, ApiQuery, BudgetUpdate,
};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

/// An end user in LiteLLM's shape.
fn end_user_fields(row: &EndUserRow) -> Value {
    json!({
        "user_id": row.user_id,
        "alias": row.alias,
        "blocked": row.blocked,
        "metadata": row.metadata,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "budget_id": row.budget_id,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
    })
}

#[derive(Deserialize)]
pub struct NewEndUserRequest {
    user_id: String,
    alias: Option<String>,
    #[serde(default)]
    blocked: bool,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    budget_id: Option<String>,
    metadata: Option<Value>,
}

fn end_user_error(error: EndUserError) -> ApiError {
    match error {
        EndUserError::Duplicate => ApiError::bad_request(error.to_string(), Some("user_id")),
        EndUserError::UnknownBudget => ApiError::bad_request(error.to_string(), Some("budget_id")),
        EndUserError::Database(error) => ApiError::from(error),
    }
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: NewEndUserRequest = json_body(body).await?;
    if request.user_id.trim().is_empty() || request.user_id.len() > 200 {
        return Err(ApiError::bad_request(
            "`user_id` must be 1 to 200 characters.",
            Some("user_id"),
        ));
    }
    let budget_id = budget_link(
        request.budget_id,
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?
    .flatten();
    let spec = EndUserSpec {
        user_id: request.user_id,
        budget_id,
        alias: request.alias,
        blocked: request.blocked,
        metadata: metadata_object(request.metadata)?.unwrap_or_else(|| json!({})),
        budget: budget_limits(
            request.max_budget,
            request.soft_budget,
            request.budget_duration.as_deref(),
        )?,
        created_by: actor.name.clone(),
    };
    let row = end_users::create(&gateway.pool, spec)
        .await
        .map_err(end_user_error)?;
    gateway.end_users.forget(&row.user_id);
    let after = end_user_fields(&row);
    changed(&gateway, &actor, "customer.new", &row.user_id, None, &after).await;
    Ok(Json(after))
}

async fn changed(
    gateway: &SharedGateway,
    actor: &Actor,
    action: &str,
    user_id: &str,
    before: Option<Value>,
    after: &Value,
) {
    audit::changed(
        gateway,
        actor,
        Change {
            action,
            target_type: "customer",
            target_id: user_id,
            before,
            after: Some(after.clone()),
        },
    )
    .await;
}

#[derive(Deserialize)]
pub struct EndUserInfoQuery {
    end_user_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<EndUserInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("read end users")?;
    let row = end_users::find(&gateway.pool, &query.end_user_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("End user `{}` not found.", query.end_user_id))
        })?;
    Ok(Json(end_user_fields(&row)))
}

#[derive(Deserialize)]
pub struct ListEndUsersQuery {
    after: Option<String>,
    limit: Option<i64>,
}

/// Largest `/customer/list` page.
const MAX_LIMIT: i64 = 1_000;

/// End users by id; `after` (the last id of the previous page) pages on.
pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<ListEndUsersQuery>,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("list end users")?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            format!("`limit` must be 1 to {MAX_LIMIT}."),
            Some("limit"),
        ));
    }
    let rows = end_users::list_page(&gateway.pool, query.after.as_deref(), limit).await?;
    Ok(Json(Value::Array(
        rows.iter().map(end_user_fields).collect(),
    )))
}

#[derive(Deserialize)]
pub struct UpdateEndUserRequest {
    user_id: String,
    alias: Option<String>,
    blocked: Option<bool>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    budget_id: Option<String>,
    metadata: Option<Value>,
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: UpdateEndUserRequest = json_body(body).await?;
    let current = end_users::find(&gateway.pool, &request.user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("End user not found.".into()))?;
    let budget_link = budget_link(
        request.budget_id,
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?;
    let budget = BudgetUpdate {
        max_budget: request.max_budget,
        soft_budget: request.soft_budget,
        budget_duration: request.budget_duration,
        current_max_micros: current.max_budget_micros,
        current_soft_micros: current.soft_budget_micros,
        current_duration: current.budget_duration.as_deref(),
    }
    .limits()?;
    let change = EndUserChange {
        alias: request.alias,
        blocked: request.blocked,
        metadata: metadata_object(request.metadata)?,
        budget,
        budget_link,
    };
    let row = end_users::update(&gateway.pool, &request.user_id, change)
        .await
        .map_err(end_user_error)?
        .ok_or_else(|| ApiError::NotFound("End user not found.".into()))?;
    gateway.end_users.forget(&row.user_id);
    let after = end_user_fields(&row);
    let before = Some(end_user_fields(&current));
    changed(
        &gateway,
        &actor,
        "customer.update",
        &row.user_id,
        before,
        &after,
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct EndUserIdsRequest {
    user_ids: Vec<String>,
}

pub async fn block(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    set_blocked(gateway, headers, origin, body, true).await
}

pub async fn unblock(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    set_blocked(gateway, headers, origin, body, false).await
}

/// Blocks or unblocks end users: their requests are refused (`403`, `blocked_end_user`) here at
/// once and within a second elsewhere.
async fn set_blocked(
    gateway: SharedGateway,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
    blocked: bool,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: EndUserIdsRequest = json_body(body).await?;
    let changed_ids = end_users::set_blocked(&gateway.pool, &request.user_ids, blocked).await?;
    if changed_ids.is_empty() {
        return Err(ApiError::NotFound("None of those end users exist.".into()));
    }
    let action = if blocked {
        "customer.block"
    } else {
        "customer.unblock"
    };
    for user_id in &changed_ids {
        gateway.end_users.forget(user_id);
        let after = json!({ "blocked": blocked });
        changed(&gateway, &actor, action, user_id, None, &after).await;
    }
    Ok(Json(json!({ "user_ids": changed_ids, "blocked": blocked })))
}

/// Deletes end users and their budgets; their spend rows stay.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: EndUserIdsRequest = json_body(body).await?;
    let deleted = end_users::delete(&gateway.pool, &request.user_ids).await?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound("None of those end users exist.".into()));
    }
    for user_id in &deleted {
        gateway.end_users.forget(user_id);
        let after = json!({ "deleted": true });
        changed(&gateway, &actor, "customer.delete", user_id, None, &after).await;
    }
    Ok(Json(json!({ "deleted_customers": deleted })))
}
