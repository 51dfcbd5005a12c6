//! `/project/new`, `/project/info`, `/project/list`, `/project/update`, `/project/delete` in
//! LiteLLM's shapes, over `app::ops::projects`.

use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::ProjectView;
use app::ops::projects::{self, NewProject, ProjectUpdate};

use super::extract::{answer, Admin, Answer, Input, Manager};
use super::ApiQuery;

pub async fn create(manager: Manager, Input(request): Input<NewProject>) -> Answer<ProjectView> {
    answer(projects::create(manager.pool(), &manager, manager.catalog(), request).await)
}

#[derive(Deserialize)]
pub struct ProjectInfoQuery {
    project_id: String,
}

pub async fn info(
    manager: Manager,
    ApiQuery(query): ApiQuery<ProjectInfoQuery>,
) -> Answer<ProjectView> {
    answer(projects::find(manager.pool(), &manager, &query.project_id).await)
}

pub async fn list(manager: Manager) -> Answer<Vec<ProjectView>> {
    answer(projects::list(manager.pool(), &manager).await)
}

pub async fn update(manager: Manager, Input(request): Input<ProjectUpdate>) -> Answer<ProjectView> {
    answer(projects::update(manager.pool(), &manager, manager.catalog(), request).await)
}

#[derive(Deserialize)]
pub struct DeleteProjectsRequest {
    project_ids: Vec<String>,
}

/// Deletes projects that have no live keys: admins only.
pub async fn delete(admin: Admin, Input(request): Input<DeleteProjectsRequest>) -> Answer<Value> {
    let deleted = projects::delete(admin.pool(), &admin, &request.project_ids).await?;
    Ok(Json(json!({ "deleted_projects": deleted })))
}
