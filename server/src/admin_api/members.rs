//! `/team/member_add`, `/team/member_update`, `/team/member_delete` in LiteLLM's shapes, over
//! `app::ops::members`.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::ops::members::{self, MemberUpdate, NewMember};

use super::access::Actor;
use super::json_body;
use crate::core::error::ApiError;
use crate::state::SharedGateway;

/// One member or a list of them (LiteLLM accepts both).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(NewMember),
    Many(Vec<NewMember>),
}

#[derive(Deserialize)]
pub struct AddMembersRequest {
    team_id: String,
    member: OneOrMany,
    max_budget_in_team: Option<f64>,
}

pub async fn add(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: AddMembersRequest = json_body(body).await?;
    let given = match request.member {
        OneOrMany::One(member) => vec![member],
        OneOrMany::Many(members) => members,
    };
    let added = members::add(
        &gateway.pool,
        &caller,
        &request.team_id,
        &given,
        request.max_budget_in_team,
    )
    .await?;
    Ok(Json(json!({
        "team_id": request.team_id,
        "updated_team_memberships": added,
        "members_with_roles": members::members_of(&gateway.pool, &request.team_id).await?,
    })))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: MemberUpdate = json_body(body).await?;
    let team_id = request.team_id.clone();
    let member = members::update(&gateway.pool, &caller, request).await?;
    Ok(Json(json!({ "team_id": team_id, "member": member })))
}

#[derive(Deserialize)]
pub struct DeleteMemberRequest {
    team_id: String,
    user_id: Option<String>,
    user_email: Option<String>,
}

/// Removes a member; its keys in the team are revoked with it, here at once.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: DeleteMemberRequest = json_body(body).await?;
    let named = NewMember {
        role: None,
        user_id: request.user_id,
        user_email: request.user_email,
    };
    let removed = members::remove(&gateway.pool, &caller, &request.team_id, &named).await?;
    for token_hash in &removed.revoked_keys {
        gateway.keys.evict(token_hash);
    }
    Ok(Json(json!({
        "team_id": request.team_id,
        "user_id": removed.user_id,
        "keys_revoked": removed.revoked_keys,
    })))
}
