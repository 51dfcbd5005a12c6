//! `/organization/new`, `/organization/info`, `/organization/list`, `/organization/update`,
//! `/organization/delete` in LiteLLM's shapes, over `app::ops::organizations`.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::OrganizationView;
use app::ops::organizations::{self, NewOrganization, OrganizationUpdate};

use super::access::Actor;
use super::{json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<OrganizationView>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: NewOrganization = json_body(body).await?;
    Ok(Json(
        organizations::create(&gateway.pool, &actor, input).await?,
    ))
}

#[derive(Deserialize)]
pub struct OrganizationInfoQuery {
    organization_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<OrganizationInfoQuery>,
) -> Result<Json<OrganizationView>, ApiError> {
    let actor = caller;
    Ok(Json(
        organizations::find(&gateway.pool, &actor, &query.organization_id).await?,
    ))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
) -> Result<Json<Vec<OrganizationView>>, ApiError> {
    let actor = caller;
    Ok(Json(organizations::list(&gateway.pool, &actor).await?))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<OrganizationView>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: OrganizationUpdate = json_body(body).await?;
    Ok(Json(
        organizations::update(&gateway.pool, &actor, input).await?,
    ))
}

#[derive(Deserialize)]
pub struct DeleteOrganizationsRequest {
    organization_ids: Vec<String>,
}

/// Deletes organizations that have no live teams.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let request: DeleteOrganizationsRequest = json_body(body).await?;
    let deleted = organizations::delete(&gateway.pool, &actor, &request.organization_ids).await?;
    Ok(Json(json!({ "deleted_organizations": deleted })))
}
