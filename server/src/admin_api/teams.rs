//! `/team/new`, `/team/info`, `/team/list`, `/team/update`, `/team/delete`, `/team/block`,
//! `/team/unblock` in LiteLLM's request and response shapes, over `app::ops::teams`. A team
//! changed here is refreshed in this instance's cache at once (the others follow the NOTIFY).

use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::TeamDetails;
use app::ops::teams::{self, NewTeam, TeamUpdate};

use super::extract::{answer, Admin, Answer, Input, Manager};
use super::ApiQuery;

pub async fn create(admin: Admin, Input(request): Input<NewTeam>) -> Answer<TeamDetails> {
    answer(teams::create(admin.pool(), &admin, admin.catalog(), request).await)
}

#[derive(Deserialize)]
pub struct TeamInfoQuery {
    team_id: String,
}

pub async fn info(manager: Manager, ApiQuery(query): ApiQuery<TeamInfoQuery>) -> Answer<Value> {
    let details = teams::info(manager.pool(), &manager, &query.team_id).await?;
    Ok(Json(
        json!({ "team_id": details.team_id, "team_info": details }),
    ))
}

pub async fn list(manager: Manager) -> Answer<Vec<TeamDetails>> {
    answer(teams::list(manager.pool(), &manager).await)
}

pub async fn update(manager: Manager, Input(request): Input<TeamUpdate>) -> Answer<Value> {
    let details = teams::update(manager.pool(), &manager, manager.catalog(), request).await?;
    manager.gateway.teams.refresh(&details.team_id).await?;
    Ok(Json(json!({ "team_id": details.team_id, "data": details })))
}

#[derive(Deserialize)]
pub struct DeleteTeamsRequest {
    team_ids: Vec<String>,
}

/// Deletes teams and revokes their keys, here at once and within a second elsewhere.
pub async fn delete(admin: Admin, Input(request): Input<DeleteTeamsRequest>) -> Answer<Value> {
    let deleted = teams::delete(admin.pool(), &admin, &request.team_ids).await?;
    for team_id in &deleted {
        admin.gateway.teams.refresh(team_id).await?;
    }
    Ok(Json(json!({ "deleted_teams": deleted })))
}

#[derive(Deserialize)]
pub struct BlockTeamRequest {
    team_id: String,
}

/// `/team/block` (`BLOCKED`) and `/team/unblock`: every key of the team is refused here at once
/// and within a second elsewhere, until unblocked.
pub async fn set_blocked<const BLOCKED: bool>(
    admin: Admin,
    Input(request): Input<BlockTeamRequest>,
) -> Answer<TeamDetails> {
    let details = teams::set_blocked(admin.pool(), &admin, &request.team_id, BLOCKED).await?;
    admin.gateway.teams.refresh(&details.team_id).await?;
    Ok(Json(details))
}
