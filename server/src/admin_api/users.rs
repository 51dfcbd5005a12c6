//! `/user/new`, `/user/info`, `/user/list`, `/user/update`, `/user/delete` in LiteLLM's shapes.
//! Users are the console's users too: a role (LiteLLM's `proxy_admin`, `proxy_admin_viewer`,
//! `internal_user` or Gatehouse's `finance`), an optional login, keys, a budget and rate limits.
//! Only admins create, change or delete users; nobody changes their own role.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::keys::{self, KeyListFilter, KeySpec, KeyVisibility};
use app::db::members::{self, MemberRole};
use app::db::users::{self, UserChange, UserError, UserRow, UserSpec};
use app::model::{micros_to_dollars, Role};

use super::access::actor;
use super::audit::{self, Change};
use super::keys::{create_error, key_fields};
use super::{
    admin, budget_limits, json_body, metadata_object, rfc3339, ApiQuery, BudgetUpdate, LimitFields,
};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

/// A role from LiteLLM's `user_role` (or Gatehouse's own names).
fn role_of(text: &str) -> Result<Role, ApiError> {
    match text {
        "proxy_admin" | "admin" => Ok(Role::Admin),
        "proxy_admin_viewer" | "viewer" => Ok(Role::Viewer),
        "internal_user" | "internal_user_viewer" | "team_admin" => Ok(Role::TeamAdmin),
        "finance" => Ok(Role::Finance),
        other => Err(ApiError::bad_request(
            format!(
                "`user_role` `{other}` is not a role: use proxy_admin, proxy_admin_viewer, \
                 internal_user or finance."
            ),
            Some("user_role"),
        )),
    }
}

/// LiteLLM's name of a role.
fn litellm_role(role: Option<Role>) -> &'static str {
    match role {
        Some(Role::Admin) => "proxy_admin",
        Some(Role::Viewer) => "proxy_admin_viewer",
        Some(Role::TeamAdmin) => "internal_user",
        Some(Role::Finance) => "finance",
        None => "none",
    }
}

fn user_error(error: UserError) -> ApiError {
    match error {
        UserError::Duplicate => ApiError::bad_request(error.to_string(), Some("user_id")),
        UserError::Database(error) => ApiError::from(error),
    }
}

/// A user in LiteLLM's shape (never its password hash).
fn user_fields(row: &UserRow) -> Value {
    json!({
        "user_id": row.user_id,
        "user_email": row.email,
        "user_alias": row.user_alias,
        "user_role": litellm_role(row.role()),
        "role": row.role,
        "models": row.models,
        "metadata": row.metadata,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "rpm_limit": row.rpm_limit,
        "tpm_limit": row.tpm_limit,
        "max_parallel_requests": row.max_parallel_requests,
        "can_log_in": row.email.is_some() && row.password_hash.is_some(),
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
    })
}

/// An Argon2 hash of a new password (at least 12 characters).
async fn password_hash(password: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(password) = password else {
        return Ok(None);
    };
    if password.chars().count() < 12 {
        return Err(ApiError::bad_request(
            "`password` must be at least 12 characters.",
            Some("password"),
        ));
    }
    match app::api::password_guard::hash_password(password).await {
        Ok(hash) => Ok(Some(hash)),
        Err(app::error::ConsoleError::Busy) => Err(ApiError::Busy),
        Err(_) => Err(ApiError::Internal),
    }
}

fn text_field(value: Option<String>, field: &'static str) -> Result<Option<String>, ApiError> {
    match value.map(|text| text.trim().to_string()) {
        Some(text) if text.is_empty() || text.len() > 200 => Err(ApiError::bad_request(
            format!("`{field}` must be 1 to 200 characters."),
            Some(field),
        )),
        other => Ok(other),
    }
}

#[derive(Deserialize)]
pub struct NewUserRequest {
    user_id: Option<String>,
    user_email: Option<String>,
    user_alias: Option<String>,
    user_role: Option<String>,
    password: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    teams: Vec<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
    /// LiteLLM creates a key for a new user unless told not to.
    auto_create_key: Option<bool>,
    key_alias: Option<String>,
    #[serde(flatten)]
    limits: LimitFields,
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: NewUserRequest = json_body(body).await?;
    let role = request
        .user_role
        .as_deref()
        .map(role_of)
        .transpose()?
        .unwrap_or(Role::TeamAdmin);
    let spec = UserSpec {
        user_id: text_field(request.user_id, "user_id")?,
        email: text_field(request.user_email, "user_email")?,
        password_hash: password_hash(request.password).await?,
        role,
        user_alias: request.user_alias,
        models: request.models,
        metadata: metadata_object(request.metadata)?.unwrap_or_else(|| json!({})),
        budget: budget_limits(
            request.max_budget,
            request.soft_budget,
            request.budget_duration.as_deref(),
        )?,
        limits: team_free_limits(&request.limits)?,
        created_by: actor.name.clone(),
    };
    let row = users::create(&gateway.pool, spec)
        .await
        .map_err(user_error)?;
    for team_id in &request.teams {
        members::add(
            &gateway.pool,
            team_id,
            &row.user_id,
            MemberRole::User,
            None,
            &actor.name,
        )
        .await
        .map_err(super::members::member_error)?;
    }
    let mut body = user_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "user.new",
            target_type: "user",
            target_id: &row.user_id,
            before: None,
            after: Some(body.clone()),
        },
    )
    .await;
    body["teams"] = json!(request.teams);
    if request.auto_create_key.unwrap_or(true) {
        let spec = KeySpec {
            secret: None,
            key_alias: request.key_alias,
            models: Vec::new(),
            budget: Default::default(),
            duration_seconds: None,
            metadata: json!({}),
            team_id: None,
            user_id: Some(row.user_id.clone()),
            limits: Default::default(),
            model_rpm_limit: json!({}),
            model_tpm_limit: json!({}),
            project_id: None,
            model_budgets: Default::default(),
            allowed_routes: Vec::new(),
            created_by: actor.name.clone(),
            // `/user/new` is for admins only.
            role_ceiling: None,
        };
        let (secret, key) = keys::create(&gateway.pool, spec)
            .await
            .map_err(create_error)?;
        audit::changed(
            &gateway,
            &actor,
            Change {
                action: "key.generate",
                target_type: "key",
                target_id: &key.token_hash,
                before: None,
                after: Some(key_fields(&key)),
            },
        )
        .await;
        body["key"] = json!(secret);
        body["token"] = json!(key.token_hash);
    }
    Ok(Json(body))
}

/// A user's rate limits; per-model limits belong to keys.
fn team_free_limits(fields: &LimitFields) -> Result<app::db::keys::RateLimits, ApiError> {
    if fields.has_model_limits() {
        return Err(ApiError::bad_request(
            "Per-model limits are set on keys, not users.",
            Some("model_rpm_limit"),
        ));
    }
    fields.rate_limits()
}

#[derive(Deserialize)]
pub struct UserInfoQuery {
    user_id: Option<String>,
}

/// A user with its keys and teams. Roles that read everything read anyone; a user reads itself.
pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<UserInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let user_id = match (query.user_id, &actor.user_id) {
        (Some(asked), _) => asked,
        (None, Some(own)) => own.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "Pass the user to look up as `?user_id=`.",
                Some("user_id"),
            ))
        }
    };
    if !actor.reads_everything() && actor.user_id.as_deref() != Some(user_id.as_str()) {
        return Err(ApiError::Forbidden(
            "Your role may read only your own user.".into(),
        ));
    }
    let row = users::find_by_user_id(&gateway.pool, &user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("User `{user_id}` not found.")))?;
    let (keys, _) = keys::list_page(
        &gateway.pool,
        KeyListFilter {
            team_id: None,
            key_alias: None,
            user_id: Some(&row.user_id),
            visibility: KeyVisibility::All,
        },
        1,
        100,
    )
    .await?;
    let teams: Vec<Value> = users::memberships(&gateway.pool, &row.user_id)
        .await?
        .into_iter()
        .map(|membership| json!({ "team_id": membership.team_id, "role": membership.role }))
        .collect();
    Ok(Json(json!({
        "user_id": row.user_id,
        "user_info": user_fields(&row),
        "keys": keys.iter().map(key_fields).collect::<Vec<_>>(),
        "teams": teams,
    })))
}

#[derive(Deserialize)]
pub struct ListUsersQuery {
    role: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// Largest `/user/list` page.
const MAX_PAGE_SIZE: i64 = 100;

pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<ListUsersQuery>,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("list users")?;
    let page = query.page.unwrap_or(1);
    let size = query.page_size.unwrap_or(25);
    if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::bad_request(
            format!("`page` starts at 1 and `page_size` is 1 to {MAX_PAGE_SIZE}."),
            Some("page_size"),
        ));
    }
    let role = query.role.as_deref().map(role_of).transpose()?;
    let (rows, total) = users::list_page(&gateway.pool, role, page, size).await?;
    Ok(Json(json!({
        "users": rows.iter().map(user_fields).collect::<Vec<_>>(),
        "total": total,
        "page": page,
        "page_size": size,
        "total_pages": (total + size - 1) / size,
    })))
}

#[derive(Deserialize)]
pub struct UpdateUserRequest {
    user_id: Option<String>,
    user_email: Option<String>,
    user_alias: Option<String>,
    user_role: Option<String>,
    password: Option<String>,
    models: Option<Vec<String>>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
    #[serde(flatten)]
    limits: LimitFields,
}

/// Changes a user (admins only; an admin cannot change its own role, so the last admin cannot
/// demote itself by mistake).
pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: UpdateUserRequest = json_body(body).await?;
    let current = match (&request.user_id, &request.user_email) {
        (Some(user_id), _) => users::find_by_user_id(&gateway.pool, user_id).await?,
        (None, Some(email)) => users::find_by_email(&gateway.pool, email).await?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "Name the user by `user_id` or `user_email`.",
                Some("user_id"),
            ))
        }
    }
    .ok_or_else(|| ApiError::NotFound("User not found.".into()))?;
    let role = request.user_role.as_deref().map(role_of).transpose()?;
    if role.is_some() && actor.user_id.as_deref() == Some(current.user_id.as_str()) {
        return Err(ApiError::Forbidden(
            "Nobody changes their own role; ask another admin.".into(),
        ));
    }
    let budget = BudgetUpdate {
        max_budget: request.max_budget,
        soft_budget: request.soft_budget,
        budget_duration: request.budget_duration,
        current_max_micros: current.max_budget_micros,
        current_soft_micros: current.soft_budget_micros,
        current_duration: current.budget_duration.as_deref(),
    }
    .limits()?;
    let change = UserChange {
        // The email names the user when no user_id is given; it changes only alongside one.
        email: request
            .user_id
            .as_ref()
            .and(text_field(request.user_email, "user_email")?),
        password_hash: password_hash(request.password).await?,
        role,
        user_alias: request.user_alias,
        models: request.models,
        metadata: metadata_object(request.metadata)?,
        budget,
        limits: team_free_limits(&request.limits)?,
    };
    let password_changed = change.password_hash.is_some();
    let row = users::update(&gateway.pool, &current.user_id, change)
        .await
        .map_err(user_error)?
        .ok_or_else(|| ApiError::NotFound("User not found.".into()))?;
    let mut after = user_fields(&row);
    if password_changed {
        after["password_changed"] = json!(true);
    }
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "user.update",
            target_type: "user",
            target_id: &row.user_id,
            before: Some(user_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct DeleteUsersRequest {
    user_ids: Vec<String>,
}

/// Deletes users; their keys are revoked with them, here at once and within a second elsewhere.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: DeleteUsersRequest = json_body(body).await?;
    if request.user_ids.is_empty() {
        return Err(ApiError::bad_request(
            "Pass the `user_ids` to delete.",
            Some("user_ids"),
        ));
    }
    if actor
        .user_id
        .as_ref()
        .is_some_and(|own| request.user_ids.contains(own))
    {
        return Err(ApiError::Forbidden("Nobody deletes their own user.".into()));
    }
    let deleted = users::delete(&gateway.pool, &request.user_ids).await?;
    if deleted.user_ids.is_empty() {
        return Err(ApiError::NotFound("None of those users exist.".into()));
    }
    for token_hash in &deleted.revoked_keys {
        gateway.keys.evict(token_hash);
    }
    for user_id in &deleted.user_ids {
        audit::changed(
            &gateway,
            &actor,
            Change {
                action: "user.delete",
                target_type: "user",
                target_id: user_id,
                before: None,
                after: Some(json!({ "deleted": true })),
            },
        )
        .await;
    }
    Ok(Json(json!({
        "deleted_users": deleted.user_ids,
        "keys_revoked": deleted.revoked_keys.len(),
    })))
}
