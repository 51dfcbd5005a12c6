//! `/team/new`, `/team/info`, `/team/list`, `/team/update`, `/team/delete`, `/team/block`,
//! `/team/unblock` in LiteLLM's request and response shapes, over `app::ops::teams`. A team
//! changed here is refreshed in this instance's cache at once (the others follow the NOTIFY).

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::ops::teams::{self, NewTeam, TeamUpdate};

use super::access::Actor;
use super::{answer, json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: NewTeam = json_body(body).await?;
    let created = teams::create(&gateway.pool, &caller, &*gateway.models, request).await?;
    Ok(Json(answer(&created)))
}

#[derive(Deserialize)]
pub struct TeamInfoQuery {
    team_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<TeamInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let details = teams::info(&gateway.pool, &caller, &query.team_id).await?;
    Ok(Json(
        json!({ "team_id": details.team_id, "team_info": details }),
    ))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answer(&teams::list(&gateway.pool, &caller).await?)))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: TeamUpdate = json_body(body).await?;
    let details = teams::update(&gateway.pool, &caller, &*gateway.models, request).await?;
    gateway.teams.refresh(&details.team_id).await?;
    Ok(Json(json!({ "team_id": details.team_id, "data": details })))
}

#[derive(Deserialize)]
pub struct DeleteTeamsRequest {
    team_ids: Vec<String>,
}

/// Deletes teams and revokes their keys, here at once and within a second elsewhere.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: DeleteTeamsRequest = json_body(body).await?;
    let deleted = teams::delete(&gateway.pool, &caller, &request.team_ids).await?;
    for team_id in &deleted {
        gateway.teams.refresh(team_id).await?;
    }
    Ok(Json(json!({ "deleted_teams": deleted })))
}

#[derive(Deserialize)]
pub struct BlockTeamRequest {
    team_id: String,
}

pub async fn block(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    set_blocked(gateway, caller, body, true).await
}

pub async fn unblock(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    set_blocked(gateway, caller, body, false).await
}

async fn set_blocked(
    gateway: SharedGateway,
    caller: Actor,
    body: Body,
    blocked: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let request: BlockTeamRequest = json_body(body).await?;
    let details = teams::set_blocked(&gateway.pool, &caller, &request.team_id, blocked).await?;
    gateway.teams.refresh(&details.team_id).await?;
    Ok(Json(answer(&details)))
}
