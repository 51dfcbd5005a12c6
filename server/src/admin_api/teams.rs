//! `/team/new`, `/team/info`, `/team/list`, `/team/update`, `/team/delete`, `/team/block`,
//! `/team/unblock` in LiteLLM's request and response shapes.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::keys::RateLimits;
use app::db::organizations;
use app::db::teams::{self, TeamChange, TeamError, TeamRow, TeamSpec};
use app::model::micros_to_dollars;

use super::access::actor;
use super::audit::{self, Change};
use super::live_team;
use super::members::{member_error, member_user_id, members_of, NewMember};
use super::{
    admin, budget_limits, json_body, metadata_object, rfc3339, ApiQuery, BudgetUpdate, LimitFields,
};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::policy::keys::model_allowed;
use crate::state::SharedGateway;

/// LiteLLM team fields whose policy Gatehouse does not enforce yet: refused rather than
/// silently ignored.
const NOT_YET_ENFORCED: &[&str] = &[
    "model_max_budget",
    "model_rpm_limit",
    "model_tpm_limit",
    "members",
];

fn refuse_unenforced(other: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    match NOT_YET_ENFORCED
        .iter()
        .find(|field| other.get(**field).is_some_and(|value| !value.is_null()))
    {
        Some(field) => Err(ApiError::bad_request(
            format!("`{field}` is not supported by this version of Gatehouse yet."),
            None,
        )),
        None => Ok(()),
    }
}

/// A team's rate limits; per-model limits belong to keys.
fn team_limits(fields: &LimitFields) -> Result<RateLimits, ApiError> {
    if fields.has_model_limits() {
        return Err(ApiError::bad_request(
            "Per-model limits are set on keys, not teams.",
            Some("model_rpm_limit"),
        ));
    }
    fields.rate_limits()
}

fn team_error(error: TeamError) -> ApiError {
    match error {
        TeamError::Duplicate => ApiError::bad_request(error.to_string(), Some("team_id")),
        TeamError::UnknownOrganization => {
            ApiError::bad_request(error.to_string(), Some("organization_id"))
        }
        TeamError::Database(error) => ApiError::from(error),
    }
}

/// A team in LiteLLM's shape.
fn team_fields(row: &TeamRow) -> Value {
    json!({
        "team_id": row.team_id,
        "team_alias": row.team_alias,
        "organization_id": row.organization_id,
        "models": row.models,
        "blocked": row.blocked,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "rpm_limit": row.rpm_limit,
        "tpm_limit": row.tpm_limit,
        "max_parallel_requests": row.max_parallel_requests,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "metadata": row.metadata,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
    })
}

#[derive(Deserialize)]
pub struct NewTeamRequest {
    team_id: Option<String>,
    team_alias: Option<String>,
    organization_id: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    blocked: bool,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
    #[serde(default)]
    members_with_roles: Vec<NewMember>,
    #[serde(flatten)]
    limits: LimitFields,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = admin(&gateway, &headers, &origin).await?;
    let request: NewTeamRequest = json_body(body).await?;
    refuse_unenforced(&request.other)?;
    let mut members = Vec::with_capacity(request.members_with_roles.len());
    for member in &request.members_with_roles {
        members.push((member_user_id(&gateway, member).await?, member.role()?));
    }
    if request
        .team_id
        .as_deref()
        .is_some_and(|id| id.trim().is_empty() || id.len() > 200)
    {
        return Err(ApiError::bad_request(
            "`team_id` must be 1 to 200 characters.",
            Some("team_id"),
        ));
    }
    if let Some(organization_id) = &request.organization_id {
        check_within_organization(&gateway, organization_id, &request.models).await?;
    }
    let spec = TeamSpec {
        team_id: request.team_id,
        team_alias: request.team_alias,
        organization_id: request.organization_id,
        models: request.models,
        blocked: request.blocked,
        budget: budget_limits(
            request.max_budget,
            request.soft_budget,
            request.budget_duration.as_deref(),
        )?,
        limits: team_limits(&request.limits)?,
        metadata: metadata_object(request.metadata)?.unwrap_or_else(|| json!({})),
        created_by: caller.name.clone(),
    };
    let row = teams::create(&gateway.pool, spec)
        .await
        .map_err(team_error)?;
    for (user_id, role) in members {
        app::db::members::add(
            &gateway.pool,
            &row.team_id,
            &user_id,
            role,
            None,
            &caller.name,
        )
        .await
        .map_err(member_error)?;
    }
    let mut after = team_fields(&row);
    after["members_with_roles"] = members_of(&gateway, &row.team_id).await?;
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: "team.new",
            target_type: "team",
            target_id: &row.team_id,
            before: None,
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct TeamInfoQuery {
    team_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<TeamInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    if !actor.sees_team(&query.team_id) {
        return Err(ApiError::Forbidden(format!(
            "Only members of team `{}` and roles that read every team may read it.",
            query.team_id
        )));
    }
    let row = live_team(&gateway, &query.team_id).await?;
    let mut info = team_fields(&row);
    info["members_with_roles"] = members_of(&gateway, &row.team_id).await?;
    Ok(Json(json!({ "team_id": row.team_id, "team_info": info })))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    if !actor.reads_everything() && actor.user_id.is_none() {
        return Err(ApiError::Forbidden(
            "A key without a user may not list teams.".into(),
        ));
    }
    let rows = teams::list_live(&gateway.pool).await?;
    Ok(Json(Value::Array(
        rows.iter()
            .filter(|row| actor.sees_team(&row.team_id))
            .map(team_fields)
            .collect(),
    )))
}

#[derive(Deserialize)]
pub struct UpdateTeamRequest {
    team_id: String,
    team_alias: Option<String>,
    organization_id: Option<String>,
    models: Option<Vec<String>>,
    blocked: Option<bool>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
    #[serde(flatten)]
    limits: LimitFields,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// A team in an organization that limits models uses only those models (and must list them).
async fn check_within_organization(
    gateway: &SharedGateway,
    organization_id: &str,
    models: &[String],
) -> Result<(), ApiError> {
    let organization = organizations::find(&gateway.pool, organization_id)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                format!("`organization_id`: no organization `{organization_id}` exists."),
                Some("organization_id"),
            )
        })?;
    if organization.models.is_empty() {
        return Ok(());
    }
    if models.is_empty() {
        return Err(ApiError::bad_request(
            format!(
                "Organization `{organization_id}` allows only {}: list the team's `models`.",
                organization.models.join(", ")
            ),
            Some("models"),
        ));
    }
    let groups = gateway.models.groups();
    match models
        .iter()
        .find(|model| !model_allowed(&organization.models, model, groups.access()))
    {
        Some(model) => Err(ApiError::bad_request(
            format!("Model `{model}` is not allowed in organization `{organization_id}`."),
            Some("models"),
        )),
        None => Ok(()),
    }
}

/// A team admin changes its team's alias and metadata only: the budget, limits, models and
/// blocking that bind the team are an admin's.
fn refuse_admin_only_fields(request: &UpdateTeamRequest) -> Result<(), ApiError> {
    let given = [
        ("organization_id", request.organization_id.is_some()),
        ("models", request.models.is_some()),
        ("blocked", request.blocked.is_some()),
        ("max_budget", request.max_budget.is_some()),
        ("soft_budget", request.soft_budget.is_some()),
        ("budget_duration", request.budget_duration.is_some()),
        ("rpm_limit", request.limits.rpm_limit.is_some()),
        ("tpm_limit", request.limits.tpm_limit.is_some()),
        (
            "max_parallel_requests",
            request.limits.max_parallel_requests.is_some(),
        ),
    ];
    match given.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(ApiError::Forbidden(format!(
            "Only an admin may change a team's `{field}`; a team admin may change its \
             `team_alias` and `metadata`."
        ))),
        None => Ok(()),
    }
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = actor(&gateway, &headers, &origin).await?;
    let request: UpdateTeamRequest = json_body(body).await?;
    refuse_unenforced(&request.other)?;
    caller.require_manages_team(&request.team_id, "change this team")?;
    if !caller.is_admin() {
        refuse_admin_only_fields(&request)?;
    }
    let current = live_team(&gateway, &request.team_id).await?;
    // A budget field given replaces the team's budget; absent, the budget stays.
    let budget = BudgetUpdate {
        max_budget: request.max_budget,
        soft_budget: request.soft_budget,
        budget_duration: request.budget_duration,
        current_max_micros: current.max_budget_micros,
        current_soft_micros: current.soft_budget_micros,
        current_duration: current.budget_duration.as_deref(),
    }
    .limits()?;
    if let Some(organization_id) = request
        .organization_id
        .as_ref()
        .or(current.organization_id.as_ref())
    {
        let models = request.models.as_ref().unwrap_or(&current.models);
        check_within_organization(&gateway, organization_id, models).await?;
    }
    let change = TeamChange {
        team_alias: request.team_alias,
        organization_id: request.organization_id,
        models: request.models,
        blocked: request.blocked,
        metadata: metadata_object(request.metadata)?,
        budget,
        limits: team_limits(&request.limits)?,
    };
    let row = teams::update(&gateway.pool, &request.team_id, change)
        .await
        .map_err(team_error)?
        .ok_or_else(|| ApiError::NotFound(format!("Team `{}` not found.", request.team_id)))?;
    gateway.teams.refresh(&row.team_id).await?;
    let after = team_fields(&row);
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: "team.update",
            target_type: "team",
            target_id: &row.team_id,
            before: Some(team_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(json!({ "team_id": row.team_id, "data": after })))
}

#[derive(Deserialize)]
pub struct DeleteTeamsRequest {
    team_ids: Vec<String>,
}

/// Deletes teams and revokes their keys, here at once and within a second elsewhere.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let caller = admin(&gateway, &headers, &origin).await?;
    let request: DeleteTeamsRequest = json_body(body).await?;
    if request.team_ids.is_empty() {
        return Err(ApiError::bad_request(
            "Pass the `team_ids` to delete.",
            Some("team_ids"),
        ));
    }
    let deleted = teams::delete(&gateway.pool, &request.team_ids).await?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound("None of those teams exist.".into()));
    }
    for team_id in &deleted {
        gateway.teams.refresh(team_id).await?;
        audit::changed(
            &gateway,
            &caller,
            Change {
                action: "team.delete",
                target_type: "team",
                target_id: team_id,
                before: None,
                after: Some(json!({ "deleted": true, "keys_revoked": true })),
            },
        )
        .await;
    }
    Ok(Json(json!({ "deleted_teams": deleted })))
}

#[derive(Deserialize)]
pub struct BlockTeamRequest {
    team_id: String,
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

async fn set_blocked(
    gateway: SharedGateway,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
    blocked: bool,
) -> Result<Json<Value>, ApiError> {
    let caller = admin(&gateway, &headers, &origin).await?;
    let request: BlockTeamRequest = json_body(body).await?;
    let change = TeamChange {
        blocked: Some(blocked),
        ..TeamChange::default()
    };
    let row = teams::update(&gateway.pool, &request.team_id, change)
        .await
        .map_err(team_error)?
        .ok_or_else(|| ApiError::NotFound(format!("Team `{}` not found.", request.team_id)))?;
    gateway.teams.refresh(&row.team_id).await?;
    audit::changed(
        &gateway,
        &caller,
        Change {
            action: if blocked {
                "team.block"
            } else {
                "team.unblock"
            },
            target_type: "team",
            target_id: &row.team_id,
            before: Some(json!({ "blocked": !blocked })),
            after: Some(json!({ "blocked": blocked })),
        },
    )
    .await;
    Ok(Json(team_fields(&row)))
}
