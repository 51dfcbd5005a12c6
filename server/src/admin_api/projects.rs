//! `/project/new`, `/project/info`, `/project/list`, `/project/update`, `/project/delete` in
//! LiteLLM's shapes, over `app::ops::projects`.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::ops::projects::{self, NewProject, ProjectUpdate};

use super::access::Actor;
use super::{answer, json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: NewProject = json_body(body).await?;
    let created = projects::create(&gateway.pool, &caller, &*gateway.models, request).await?;
    Ok(Json(answer(&created)))
}

#[derive(Deserialize)]
pub struct ProjectInfoQuery {
    project_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<ProjectInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let project = projects::find(&gateway.pool, &caller, &query.project_id).await?;
    Ok(Json(answer(&project)))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answer(&projects::list(&gateway.pool, &caller).await?)))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: ProjectUpdate = json_body(body).await?;
    let updated = projects::update(&gateway.pool, &caller, &*gateway.models, request).await?;
    Ok(Json(answer(&updated)))
}

#[derive(Deserialize)]
pub struct DeleteProjectsRequest {
    project_ids: Vec<String>,
}

/// Deletes projects that have no live keys: admins only.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: DeleteProjectsRequest = json_body(body).await?;
    let deleted = projects::delete(&gateway.pool, &caller, &request.project_ids).await?;
    Ok(Json(json!({ "deleted_projects": deleted })))
}
