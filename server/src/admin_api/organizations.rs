//! `/organization/new`, `/organization/info`, `/organization/list`, `/organization/update`,
//! `/organization/delete` in LiteLLM's shapes, over `app::ops::organizations`.

use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::OrganizationView;
use app::ops::organizations::{self, NewOrganization, OrganizationUpdate};

use super::extract::{answer, Admin, Answer, Input, Manager};
use super::ApiQuery;

pub async fn create(
    admin: Admin,
    Input(input): Input<NewOrganization>,
) -> Answer<OrganizationView> {
    answer(organizations::create(admin.pool(), &admin, input).await)
}

#[derive(Deserialize)]
pub struct OrganizationInfoQuery {
    organization_id: String,
}

pub async fn info(
    manager: Manager,
    ApiQuery(query): ApiQuery<OrganizationInfoQuery>,
) -> Answer<OrganizationView> {
    answer(organizations::find(manager.pool(), &manager, &query.organization_id).await)
}

pub async fn list(manager: Manager) -> Answer<Vec<OrganizationView>> {
    answer(organizations::list(manager.pool(), &manager).await)
}

pub async fn update(
    admin: Admin,
    Input(input): Input<OrganizationUpdate>,
) -> Answer<OrganizationView> {
    answer(organizations::update(admin.pool(), &admin, input).await)
}

#[derive(Deserialize)]
pub struct DeleteOrganizationsRequest {
    organization_ids: Vec<String>,
}

/// Deletes organizations that have no live teams.
pub async fn delete(
    admin: Admin,
    Input(request): Input<DeleteOrganizationsRequest>,
) -> Answer<Value> {
    let deleted = organizations::delete(admin.pool(), &admin, &request.organization_ids).await?;
    Ok(json!({ "deleted_organizations": deleted }).into())
}
