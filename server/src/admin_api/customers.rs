//! `/customer/new`, `/customer/info`, `/customer/list`, `/customer/update`, `/customer/delete`,
//! `/customer/block`, `/customer/unblock` in LiteLLM's shapes, over `app::ops::end_users`. A
//! change drops what this instance holds of the end user at once.

use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::EndUserView;
use app::ops::end_users::{self, EndUserUpdate, NewEndUser};

use super::extract::{answer, Admin, Answer, Input, Manager};
use super::ApiQuery;

/// Answers with an end user just changed, first dropping what this instance holds of it.
fn changed(admin: &Admin, view: EndUserView) -> Answer<EndUserView> {
    admin.gateway.end_users.forget(&view.user_id);
    Ok(view.into())
}

pub async fn create(admin: Admin, Input(input): Input<NewEndUser>) -> Answer<EndUserView> {
    changed(
        &admin,
        end_users::create(admin.pool(), &admin, input).await?,
    )
}

#[derive(Deserialize)]
pub struct EndUserInfoQuery {
    end_user_id: String,
}

pub async fn info(
    manager: Manager,
    ApiQuery(query): ApiQuery<EndUserInfoQuery>,
) -> Answer<EndUserView> {
    answer(end_users::find(manager.pool(), &manager, &query.end_user_id).await)
}

#[derive(Deserialize)]
pub struct ListEndUsersQuery {
    after: Option<String>,
    limit: Option<i64>,
}

/// End users by id; `after` (the last id of the previous page) pages on.
pub async fn list(
    manager: Manager,
    ApiQuery(query): ApiQuery<ListEndUsersQuery>,
) -> Answer<Vec<EndUserView>> {
    let limit = query.limit.unwrap_or(100);
    answer(end_users::list(manager.pool(), &manager, query.after.as_deref(), limit).await)
}

pub async fn update(admin: Admin, Input(input): Input<EndUserUpdate>) -> Answer<EndUserView> {
    changed(
        &admin,
        end_users::update(admin.pool(), &admin, input).await?,
    )
}

#[derive(Deserialize)]
pub struct EndUserIdsRequest {
    user_ids: Vec<String>,
}

/// `/customer/block` (`BLOCKED`) and `/customer/unblock`: the end users' requests are refused
/// (`403`, `blocked_end_user`) here at once and within a second elsewhere, until unblocked.
pub async fn set_blocked<const BLOCKED: bool>(
    admin: Admin,
    Input(request): Input<EndUserIdsRequest>,
) -> Answer<Value> {
    let changed = end_users::set_blocked(admin.pool(), &admin, &request.user_ids, BLOCKED).await?;
    for user_id in &changed {
        admin.gateway.end_users.forget(user_id);
    }
    Ok(json!({ "user_ids": changed, "blocked": BLOCKED }).into())
}

/// Deletes end users and their budgets; their spend rows stay.
pub async fn delete(admin: Admin, Input(request): Input<EndUserIdsRequest>) -> Answer<Value> {
    let deleted = end_users::delete(admin.pool(), &admin, &request.user_ids).await?;
    for user_id in &deleted {
        admin.gateway.end_users.forget(user_id);
    }
    Ok(json!({ "deleted_customers": deleted }).into())
}
