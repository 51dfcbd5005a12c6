//! `/key/generate`, `/key/info`, `/key/list`, `/key/update`, `/key/delete`, `/key/block`,
//! `/key/unblock` and `/key/regenerate` in LiteLLM's request and response shapes.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::budgets::BudgetLimits;
use app::db::keys::{
    self, CreateKeyError, KeyChange, KeyListFilter, KeyRow, KeySpec, ModelBudgets, RateLimits,
};
use app::db::{members, users};
use app::model::{micros_to_dollars, parse_duration_seconds, KeyStatus};

use super::access::{actor, Actor};
use super::audit::{self, Change};
use super::live_team;
use super::{
    budget_limits, json_body, metadata_object, rfc3339, token_hash_of, ApiQuery, BudgetUpdate,
    LimitFields,
};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::policy::keys::model_allowed;
use crate::policy::routes::check_entries;
use crate::state::SharedGateway;

#[derive(Deserialize)]
pub struct GenerateKeyRequest {
    #[serde(default)]
    models: Vec<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    team_id: Option<String>,
    user_id: Option<String>,
    #[serde(flatten)]
    limits: LimitFields,
    duration: Option<String>,
    key_alias: Option<String>,
    metadata: Option<Value>,
    key: Option<String>,
    project_id: Option<String>,
    model_max_budget: Option<Value>,
    allowed_routes: Option<Vec<String>>,
}

/// `model_max_budget` in LiteLLM's shape, `{model: {"budget_limit" (or "max_budget"): dollars,
/// "time_period" (or "budget_duration"): "1d"}}`: as stored, and each model's limits.
fn model_budgets(value: Option<Value>) -> Result<Option<ModelBudgets>, ApiError> {
    let field = "model_max_budget";
    let invalid =
        |detail: String| ApiError::bad_request(format!("`{field}`: {detail}"), Some(field));
    let models = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(models)) => models,
        Some(_) => return Err(invalid("must map model names to budgets.".into())),
    };
    let mut declared = serde_json::Map::new();
    let mut limits = Vec::with_capacity(models.len());
    for (model, budget) in models {
        let Value::Object(budget) = budget else {
            return Err(invalid(format!(
                "`{model}` must be an object with `budget_limit` and optionally `time_period`."
            )));
        };
        let pick = |names: [&str; 2]| names.iter().find_map(|name| budget.get(*name).cloned());
        let dollars = match pick(["budget_limit", "max_budget"]) {
            Some(Value::Number(number)) => number.as_f64(),
            Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(format!("`{model}` needs a number `budget_limit`.")))?;
        let period = match pick(["time_period", "budget_duration"]) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(_) => return Err(invalid(format!("`{model}`: `time_period` must be text."))),
        };
        let in_model = |message: String| invalid(format!("`{model}`: {message}"));
        let model_limits = BudgetLimits {
            max_micros: Some(app::model::dollars_to_micros(dollars).map_err(in_model)?),
            soft_micros: None,
            duration: period
                .as_deref()
                .map(|text| {
                    parse_duration_seconds(text).map(|seconds| (text.trim().to_string(), seconds))
                })
                .transpose()
                .map_err(in_model)?,
        };
        declared.insert(
            model.clone(),
            json!({ "budget_limit": dollars, "time_period": period }),
        );
        limits.push((model, model_limits));
    }
    Ok(Some(ModelBudgets {
        declared: Value::Object(declared),
        limits,
    }))
}

/// `allowed_routes`, checked.
fn allowed_routes(value: Option<Vec<String>>) -> Result<Option<Vec<String>>, ApiError> {
    if let Some(entries) = &value {
        check_entries(entries)
            .map_err(|message| ApiError::bad_request(message, Some("allowed_routes")))?;
    }
    Ok(value)
}

pub fn create_error(error: CreateKeyError) -> ApiError {
    match error {
        CreateKeyError::BadCustomKey | CreateKeyError::Duplicate => {
            ApiError::bad_request(error.to_string(), None)
        }
        CreateKeyError::UnknownTeam => {
            ApiError::bad_request("`team_id` names no live team.", Some("team_id"))
        }
        CreateKeyError::UnknownUser => {
            ApiError::bad_request("`user_id` names no user.", Some("user_id"))
        }
        CreateKeyError::UnknownProject => {
            ApiError::bad_request("`project_id` names no project.", Some("project_id"))
        }
        CreateKeyError::ProjectOutsideTeam => ApiError::bad_request(
            "`project_id` names a project of another team than the key's `team_id`.",
            Some("project_id"),
        ),
        CreateKeyError::Database(ref database) if app::db::is_invalid_value(database) => {
            ApiError::bad_request(app::db::INVALID_VALUE_MESSAGE, None)
        }
        CreateKeyError::Random(_) | CreateKeyError::Database(_) => {
            tracing::error!(%error, "key change failed");
            ApiError::Internal
        }
    }
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
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let request: GenerateKeyRequest = json_body(body).await?;
    let budget = budget_limits(
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?;
    let limits = request.limits.rate_limits()?;
    if !caller.is_admin() {
        let team_id = request.team_id.as_deref().ok_or_else(|| {
            ApiError::Forbidden(
                "Only an admin creates keys outside a team; pass the `team_id` you administer."
                    .into(),
            )
        })?;
        caller.require_manages_team(team_id, "create keys in this team")?;
        let scope = AskedOfTeam {
            models: Some(&request.models),
            max_budget_micros: budget.max_micros,
            limits: &limits,
        };
        check_within_team(&gateway, team_id, &scope).await?;
        if let Some(user_id) = &request.user_id {
            if members::find(&gateway.pool, team_id, user_id)
                .await?
                .is_none()
            {
                return Err(ApiError::Forbidden(format!(
                    "A team admin creates keys only for members of the team; `{user_id}` is not one."
                )));
            }
            let user = users::find_by_user_id(&gateway.pool, user_id).await?;
            caller.require_outranks(user.as_ref().and_then(users::UserRow::role), user_id)?;
        }
    }
    let duration_seconds = request
        .duration
        .as_deref()
        .map(parse_duration_seconds)
        .transpose()
        .map_err(|message| ApiError::bad_request(message, None))?;
    let metadata = metadata_object(request.metadata)?.unwrap_or_else(|| json!({}));
    check_request_class(&gateway, &metadata)?;
    let spec = KeySpec {
        secret: request.key,
        key_alias: request.key_alias,
        models: request.models,
        budget,
        duration_seconds,
        metadata,
        team_id: request.team_id,
        user_id: request.user_id,
        limits,
        model_rpm_limit: request
            .limits
            .model_rpm_limit()?
            .unwrap_or_else(|| json!({})),
        model_tpm_limit: request
            .limits
            .model_tpm_limit()?
            .unwrap_or_else(|| json!({})),
        project_id: request.project_id,
        model_budgets: model_budgets(request.model_max_budget)?.unwrap_or_default(),
        allowed_routes: allowed_routes(request.allowed_routes)?.unwrap_or_default(),
        created_by: caller.name.clone(),
        role_ceiling: caller.minted_role_ceiling(),
    };
    let (secret, row) = keys::create(&gateway.pool, spec)
        .await
        .map_err(create_error)?;
    let mut body = key_fields(&row);
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: "key.generate",
            target_type: "key",
            target_id: &row.token_hash,
            before: None,
            after: Some(body.clone()),
        },
    )
    .await;
    body["key"] = json!(secret);
    body["token_id"] = json!(row.token_hash);
    body["duration"] = json!(request.duration);
    Ok(Json(body))
}

/// What a team admin asks a key or project of its team to be allowed.
pub(super) struct AskedOfTeam<'a> {
    pub models: Option<&'a [String]>,
    pub max_budget_micros: Option<i64>,
    pub limits: &'a RateLimits,
}

/// What a team admin asks of its team stays within what the team has: models the team allows, a budget and
/// rate limits no larger than the team's. (Admins are not limited.)
pub(super) async fn check_within_team(
    gateway: &SharedGateway,
    team_id: &str,
    scope: &AskedOfTeam<'_>,
) -> Result<(), ApiError> {
    let team = live_team(gateway, team_id).await?;
    let groups = gateway.models.groups();
    if let Some(model) = scope
        .models
        .into_iter()
        .flatten()
        .find(|model| !model_allowed(&team.models, model, groups.access()))
    {
        return Err(ApiError::Forbidden(format!(
            "A team admin cannot grant model `{model}`, which team `{team_id}` may not use."
        )));
    }
    let above = |asked: Option<i64>, team_has: Option<i64>| matches!((asked, team_has), (Some(asked), Some(limit)) if asked > limit);
    let checks = [
        (
            "max_budget",
            scope.max_budget_micros,
            team.max_budget_micros,
        ),
        ("rpm_limit", scope.limits.rpm_limit, team.rpm_limit),
        ("tpm_limit", scope.limits.tpm_limit, team.tpm_limit),
        (
            "max_parallel_requests",
            scope.limits.max_parallel_requests,
            team.max_parallel_requests,
        ),
    ];
    match checks
        .iter()
        .find(|(_, asked, team_has)| above(*asked, *team_has))
    {
        Some((field, _, _)) => Err(ApiError::Forbidden(format!(
            "A team admin cannot grant a larger `{field}` than team `{team_id}` has."
        ))),
        None => Ok(()),
    }
}

/// The LiteLLM fields of a key (never its secret).
pub fn key_fields(row: &KeyRow) -> Value {
    let status = row.status(time::OffsetDateTime::now_utc());
    json!({
        "token": row.token_hash,
        "key_name": row.key_name,
        "key_alias": row.key_alias,
        "models": row.models,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "expires": row.expires_at.map(rfc3339),
        "metadata": row.metadata,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "status": status.label(),
        "budget_duration": row.budget_duration,
        "rpm_limit": row.rpm_limit,
        "tpm_limit": row.tpm_limit,
        "max_parallel_requests": row.max_parallel_requests,
        "model_rpm_limit": row.model_rpm_limit,
        "model_tpm_limit": row.model_tpm_limit,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "blocked": row.blocked || status != KeyStatus::Active,
        "user_id": row.user_id,
        "team_id": row.team_id,
        "project_id": row.project_id,
        "model_max_budget": row.model_max_budget,
        "allowed_routes": row.allowed_routes,
    })
}

#[derive(Deserialize)]
pub struct KeyInfoQuery {
    key: Option<String>,
}

/// A key's details and spend: for roles that read everything, the key itself, its user and
/// the admins of its team.
pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<KeyInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let token_hash = match &query.key {
        Some(key) => resolve(&gateway, key).await?,
        None if caller.caller.is_master() => {
            return Err(ApiError::bad_request(
                "Pass the key to look up as `?key=`.",
                Some("key"),
            ))
        }
        None => caller.caller.token_hash().to_string(),
    };
    let row = keys::find_by_hash(&gateway.pool, &token_hash)
        .await?
        .filter(|row| row.revoked_at.is_none());
    let row = match row {
        Some(row) if caller.sees_key(&row) => row,
        // Whether another key exists is not told to a caller who may not read it.
        Some(_) => {
            return Err(ApiError::Forbidden(
                "Your role may not read this key.".into(),
            ))
        }
        None if caller.reads_everything() => {
            return Err(ApiError::NotFound("Key not found.".into()))
        }
        None => {
            return Err(ApiError::Forbidden(
                "Your role may not read this key.".into(),
            ))
        }
    };
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
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let request: DeleteKeysRequest = json_body(body).await?;
    if request.keys.is_empty() && request.key_aliases.is_empty() {
        return Err(ApiError::bad_request(
            "Pass `keys` or `key_aliases` to delete.",
            Some("keys"),
        ));
    }
    let mut hashes = Vec::with_capacity(request.keys.len());
    for key in &request.keys {
        hashes.push(resolve(&gateway, key).await?);
    }
    if !caller.is_admin() {
        for hash in &hashes {
            if let Some(row) = keys::find_by_hash(&gateway.pool, hash).await? {
                caller.require_manages_key(&row, "delete this key")?;
            }
        }
        for row in keys::find_live_by_aliases(&gateway.pool, &request.key_aliases).await? {
            caller.require_manages_key(&row, "delete this key")?;
        }
    }
    let revoked = keys::revoke(&gateway.pool, &hashes, &request.key_aliases).await?;
    if revoked.is_empty() {
        return Err(ApiError::NotFound("None of those keys exist.".into()));
    }
    for key in &revoked {
        gateway.keys.evict(&key.token_hash);
        audit::changed(
            &gateway,
            &caller,
            Change {
                action: "key.delete",
                target_type: "key",
                target_id: &key.token_hash,
                before: Some(json!({ "key_alias": key.key_alias })),
                after: Some(json!({ "revoked": true })),
            },
        )
        .await;
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

/// The `token` of a key named by a secret (current or rotated out) or by its token.
async fn resolve(gateway: &SharedGateway, given: &str) -> Result<String, ApiError> {
    let hash = token_hash_of(given);
    Ok(keys::resolve_token(&gateway.pool, &hash)
        .await?
        .unwrap_or(hash))
}

/// Refuses a caller who may not change the key.
async fn require_manages(
    gateway: &SharedGateway,
    caller: &Actor,
    token_hash: &str,
    what: &str,
) -> Result<(), ApiError> {
    if caller.is_admin() {
        return Ok(());
    }
    let row = keys::find_by_hash(&gateway.pool, token_hash)
        .await?
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))?;
    Ok(caller.require_manages_key(&row, what)?)
}

/// A team admin who changes or rotates a key takes it into its own scope: the key's role
/// ceiling is lowered to the admin's (and so it acts within its team only), so the new secret
/// or settings never carry what the key's user may do in other teams.
async fn take_into_scope(
    gateway: &SharedGateway,
    caller: &Actor,
    token_hash: &str,
) -> Result<(), ApiError> {
    let Some(ceiling) = caller.minted_role_ceiling() else {
        return Ok(());
    };
    keys::cap_role_ceiling(&gateway.pool, token_hash, ceiling).await?;
    gateway.keys.refresh(token_hash).await?;
    Ok(())
}

/// The live key named by `given`, or a 404.
async fn live_token(gateway: &SharedGateway, given: &str) -> Result<String, ApiError> {
    let token_hash = resolve(gateway, given).await?;
    keys::find_by_hash(&gateway.pool, &token_hash)
        .await?
        .filter(|row| row.revoked_at.is_none())
        .map(|row| row.token_hash)
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))
}

#[derive(Deserialize)]
pub struct UpdateKeyRequest {
    key: String,
    key_alias: Option<String>,
    models: Option<Vec<String>>,
    metadata: Option<Value>,
    blocked: Option<bool>,
    duration: Option<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    #[serde(flatten)]
    limits: LimitFields,
    model_max_budget: Option<Value>,
    allowed_routes: Option<Vec<String>>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// Changes a key's fields; only those given change. A budget field given replaces the key's
/// budget (the other budget field kept as it was).
pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let request: UpdateKeyRequest = json_body(body).await?;
    if let Some(field) = ["team_id", "project_id"].into_iter().find(|field| {
        request
            .other
            .get(*field)
            .is_some_and(|value| !value.is_null())
    }) {
        return Err(ApiError::bad_request(
            format!("A key's `{field}` cannot change; create a key there instead."),
            Some(field),
        ));
    }
    let token_hash = live_token(&gateway, &request.key).await?;
    let metadata = metadata_object(request.metadata)?;
    if let Some(metadata) = &metadata {
        check_request_class(&gateway, metadata)?;
    }
    let current = keys::find_by_hash(&gateway.pool, &token_hash)
        .await?
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))?;
    caller.require_manages_key(&current, "change this key")?;
    take_into_scope(&gateway, &caller, &token_hash).await?;
    let limits = request.limits.rate_limits()?;
    if let (false, Some(team_id)) = (caller.is_admin(), current.team_id.as_deref()) {
        let scope = AskedOfTeam {
            models: request.models.as_deref(),
            max_budget_micros: request
                .max_budget
                .map(app::model::dollars_to_micros)
                .transpose()
                .map_err(|message| {
                    ApiError::bad_request(format!("`max_budget`: {message}"), Some("max_budget"))
                })?,
            limits: &limits,
        };
        check_within_team(&gateway, team_id, &scope).await?;
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
    let change = KeyChange {
        key_alias: request.key_alias,
        models: request.models,
        metadata,
        blocked: request.blocked,
        duration_seconds: request
            .duration
            .as_deref()
            .map(parse_duration_seconds)
            .transpose()
            .map_err(|message| ApiError::bad_request(message, Some("duration")))?,
        budget,
        limits,
        model_rpm_limit: request.limits.model_rpm_limit()?,
        model_tpm_limit: request.limits.model_tpm_limit()?,
        model_budgets: model_budgets(request.model_max_budget)?,
        allowed_routes: allowed_routes(request.allowed_routes)?,
    };
    let row = keys::update(&gateway.pool, &token_hash, change)
        .await
        .map_err(create_error)?
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))?;
    gateway.keys.refresh(&row.token_hash).await?;
    let after = key_fields(&row);
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: "key.update",
            target_type: "key",
            target_id: &row.token_hash,
            before: Some(key_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct BlockKeyRequest {
    key: String,
}

/// Blocks a key: refused here at once and within a second elsewhere, until unblocked.
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

async fn set_blocked(
    gateway: SharedGateway,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
    blocked: bool,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let request: BlockKeyRequest = json_body(body).await?;
    let token_hash = live_token(&gateway, &request.key).await?;
    require_manages(&gateway, &caller, &token_hash, "block or unblock this key").await?;
    let change = KeyChange {
        blocked: Some(blocked),
        ..KeyChange::default()
    };
    let row = keys::update(&gateway.pool, &token_hash, change)
        .await
        .map_err(create_error)?
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))?;
    gateway.keys.refresh(&row.token_hash).await?;
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: if blocked { "key.block" } else { "key.unblock" },
            target_type: "key",
            target_id: &row.token_hash,
            before: Some(json!({ "blocked": !blocked })),
            after: Some(json!({ "blocked": blocked })),
        },
    )
    .await;
    Ok(Json(key_fields(&row)))
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

/// Largest `/key/list` page.
const MAX_PAGE_SIZE: i64 = 100;

/// Keys that are not revoked, newest first (LiteLLM's paging: `page` from 1, `size`).
pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<ListKeysQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let admin_teams: Vec<String> = caller.admin_of.iter().cloned().collect();
    let visibility = caller
        .key_visibility(&admin_teams)
        .ok_or_else(|| ApiError::Forbidden("A key without a user may not list keys.".into()))?;
    let page = query.page.unwrap_or(1);
    let size = query.size.unwrap_or(10);
    if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::bad_request(
            format!("`page` starts at 1 and `size` is 1 to {MAX_PAGE_SIZE}."),
            Some("size"),
        ));
    }
    let filter = KeyListFilter {
        team_id: query.team_id.as_deref(),
        key_alias: query.key_alias.as_deref(),
        user_id: query.user_id.as_deref(),
        visibility,
    };
    let (rows, total) = keys::list_page(&gateway.pool, filter, page, size).await?;
    let listed: Vec<Value> = rows
        .iter()
        .map(|row| {
            if query.return_full_object {
                key_fields(row)
            } else {
                json!(row.token_hash)
            }
        })
        .collect();
    Ok(Json(json!({
        "keys": listed,
        "total_count": total,
        "current_page": page,
        "total_pages": (total + size - 1) / size,
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
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    rotate(gateway, headers, origin, None, body).await
}

/// `POST /key/{key}/regenerate`.
pub async fn regenerate_path(
    State(gateway): State<SharedGateway>,
    Path(key): Path<String>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    rotate(gateway, headers, origin, Some(key), body).await
}

/// Gives a key a new secret, shown once. Its budget, spend, limits and `token` stay; the old
/// secret works for the grace period, then (or at once) stops everywhere.
async fn rotate(
    gateway: SharedGateway,
    headers: HeaderMap,
    origin: Origin,
    key_in_path: Option<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
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
    let grace_seconds = request
        .grace_period
        .as_deref()
        .map(parse_duration_seconds)
        .transpose()
        .map_err(|message| ApiError::bad_request(message, Some("grace_period")))?
        .unwrap_or(0);
    let token_hash = live_token(&gateway, &given).await?;
    require_manages(&gateway, &caller, &token_hash, "regenerate this key").await?;
    take_into_scope(&gateway, &caller, &token_hash).await?;
    let (secret, row) = keys::rotate(&gateway.pool, &token_hash, grace_seconds, request.new_key)
        .await
        .map_err(create_error)?
        .ok_or_else(|| ApiError::NotFound("Key not found.".into()))?;
    gateway.keys.refresh(&row.token_hash).await?;
    let mut body = key_fields(&row);
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: "key.regenerate",
            target_type: "key",
            target_id: &row.token_hash,
            before: None,
            after: Some(json!({ "key_name": row.key_name, "grace_seconds": grace_seconds })),
        },
    )
    .await;
    body["key"] = json!(secret);
    body["token_id"] = json!(row.token_hash);
    Ok(Json(body))
}
