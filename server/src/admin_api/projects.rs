//! `/project/new`, `/project/info`, `/project/list`, `/project/update`, `/project/delete` in
//! LiteLLM's shapes. A project is a cost-attribution unit keys belong to (`project_id` on
//! `/key/generate`); its budget binds them and its models bound theirs. Admins and the admins of
//! a project's team change it (within the team's models and budget); the team's members and
//! roles that read everything read it; only admins delete.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::keys::RateLimits;
use app::db::projects::{self, ProjectChange, ProjectError, ProjectRow, ProjectSpec};
use app::model::micros_to_dollars;

use super::access::{actor, Actor};
use super::audit::{self, Change};
use super::keys::{check_within_team, AskedOfTeam};
use super::{admin, budget_limits, json_body, metadata_object, rfc3339, ApiQuery, BudgetUpdate};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

fn project_error(error: ProjectError) -> ApiError {
    match error {
        ProjectError::Duplicate => ApiError::bad_request(error.to_string(), Some("project_id")),
        ProjectError::UnknownTeam => ApiError::bad_request(error.to_string(), Some("team_id")),
        ProjectError::HasKeys => ApiError::bad_request(error.to_string(), Some("project_ids")),
        ProjectError::Database(error) => ApiError::from(error),
    }
}

/// A project in LiteLLM's shape.
fn project_fields(row: &ProjectRow) -> Value {
    json!({
        "project_id": row.project_id,
        "project_alias": row.project_alias,
        "description": row.description,
        "team_id": row.team_id,
        "models": row.models,
        "metadata": row.metadata,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "keys": row.keys,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

/// A team admin's project stays within its team's models and budget.
async fn check_team_share(
    gateway: &SharedGateway,
    actor: &Actor,
    team_id: Option<&str>,
    models: Option<&[String]>,
    max_budget_micros: Option<i64>,
) -> Result<(), ApiError> {
    if actor.is_admin() {
        return Ok(());
    }
    let team_id = team_id.ok_or_else(|| {
        ApiError::Forbidden(
            "Only an admin manages projects outside a team; pass the `team_id` you administer."
                .into(),
        )
    })?;
    actor.require_manages_team(team_id, "manage projects of this team")?;
    let asked = AskedOfTeam {
        models,
        max_budget_micros,
        limits: &RateLimits::default(),
    };
    check_within_team(gateway, team_id, &asked).await
}

/// Fields outside these are refused rather than ignored: LiteLLM's per-project rate limits,
/// guardrails and tags are not enforced here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProjectRequest {
    project_id: Option<String>,
    project_alias: Option<String>,
    description: Option<String>,
    team_id: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let request: NewProjectRequest = json_body(body).await?;
    if request
        .project_id
        .as_deref()
        .is_some_and(|id| id.trim().is_empty() || id.len() > 200)
    {
        return Err(ApiError::bad_request(
            "`project_id` must be 1 to 200 characters.",
            Some("project_id"),
        ));
    }
    let budget = budget_limits(
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?;
    check_team_share(
        &gateway,
        &actor,
        request.team_id.as_deref(),
        Some(&request.models),
        budget.max_micros,
    )
    .await?;
    let spec = ProjectSpec {
        project_id: request.project_id,
        project_alias: request.project_alias,
        description: request.description,
        team_id: request.team_id,
        models: request.models,
        metadata: metadata_object(request.metadata)?.unwrap_or_else(|| json!({})),
        budget,
        created_by: actor.name.clone(),
    };
    let row = projects::create(&gateway.pool, spec)
        .await
        .map_err(project_error)?;
    let after = project_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "project.new",
            target_type: "project",
            target_id: &row.project_id,
            before: None,
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

/// Reads the project: roles that read everything, members of its team, and its own keys.
fn sees_project(actor: &Actor, row: &ProjectRow) -> bool {
    actor.reads_everything()
        || row
            .team_id
            .as_deref()
            .is_some_and(|team_id| actor.sees_team(team_id))
        || actor.caller.project_id().map(AsRef::as_ref) == Some(row.project_id.as_str())
}

#[derive(Deserialize)]
pub struct ProjectInfoQuery {
    project_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<ProjectInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let row = projects::find(&gateway.pool, &query.project_id).await?;
    match row {
        Some(row) if sees_project(&actor, &row) => Ok(Json(project_fields(&row))),
        None if actor.reads_everything() => Err(ApiError::NotFound(format!(
            "Project `{}` not found.",
            query.project_id
        ))),
        // Whether another project exists is not told to a caller who may not read it.
        _ => Err(ApiError::Forbidden(
            "Your role may not read this project.".into(),
        )),
    }
}

/// Every project for roles that read everything; otherwise those of the caller's teams.
pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let rows = if actor.reads_everything() {
        projects::list(&gateway.pool, None).await?
    } else if actor.user_id.is_some() {
        let teams: Vec<String> = actor.member_of.union(&actor.admin_of).cloned().collect();
        projects::list(&gateway.pool, Some(&teams)).await?
    } else {
        return Err(ApiError::Forbidden(
            "A key without a user may not list projects.".into(),
        ));
    };
    Ok(Json(Value::Array(
        rows.iter().map(project_fields).collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    project_id: String,
    project_alias: Option<String>,
    description: Option<String>,
    models: Option<Vec<String>>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let request: UpdateProjectRequest = json_body(body).await?;
    let current = projects::find(&gateway.pool, &request.project_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Project not found.".into()))?;
    let budget = BudgetUpdate {
        max_budget: request.max_budget,
        soft_budget: request.soft_budget,
        budget_duration: request.budget_duration,
        current_max_micros: current.max_budget_micros,
        current_soft_micros: current.soft_budget_micros,
        current_duration: current.budget_duration.as_deref(),
    }
    .limits()?;
    check_team_share(
        &gateway,
        &actor,
        current.team_id.as_deref(),
        request.models.as_deref(),
        budget.as_ref().and_then(|budget| budget.max_micros),
    )
    .await?;
    let change = ProjectChange {
        project_alias: request.project_alias,
        description: request.description,
        models: request.models,
        metadata: metadata_object(request.metadata)?,
        budget,
    };
    let row = projects::update(&gateway.pool, &request.project_id, change)
        .await
        .map_err(project_error)?
        .ok_or_else(|| ApiError::NotFound("Project not found.".into()))?;
    let after = project_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "project.update",
            target_type: "project",
            target_id: &row.project_id,
            before: Some(project_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct DeleteProjectsRequest {
    project_ids: Vec<String>,
}

/// Deletes projects that have no live keys: admins only.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: DeleteProjectsRequest = json_body(body).await?;
    if request.project_ids.is_empty() {
        return Err(ApiError::bad_request(
            "Pass the `project_ids` to delete.",
            Some("project_ids"),
        ));
    }
    let deleted = projects::delete(&gateway.pool, &request.project_ids)
        .await
        .map_err(project_error)?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound("None of those projects exist.".into()));
    }
    for project_id in &deleted {
        audit::changed(
            &gateway,
            &actor,
            Change {
                action: "project.delete",
                target_type: "project",
                target_id: project_id,
                before: None,
                after: Some(json!({ "deleted": true })),
            },
        )
        .await;
    }
    Ok(Json(json!({ "deleted_projects": deleted })))
}
