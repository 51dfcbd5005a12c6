//! `/team/member_add`, `/team/member_update`, `/team/member_delete` in LiteLLM's shapes, over
//! `app::ops::members`.

use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::ops::members::{self, MemberUpdate, NewMember};

use super::extract::{Answer, Input, Manager};

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

pub async fn add(manager: Manager, Input(request): Input<AddMembersRequest>) -> Answer<Value> {
    let given = match request.member {
        OneOrMany::One(member) => vec![member],
        OneOrMany::Many(members) => members,
    };
    let (team_id, budget) = (&request.team_id, request.max_budget_in_team);
    let added = members::add(manager.pool(), &manager, team_id, &given, budget).await?;
    Ok(Json(json!({
        "team_id": team_id,
        "updated_team_memberships": added,
        "members_with_roles": members::members_of(manager.pool(), team_id).await?,
    })))
}

pub async fn update(manager: Manager, Input(request): Input<MemberUpdate>) -> Answer<Value> {
    let team_id = request.team_id.clone();
    let member = members::update(manager.pool(), &manager, request).await?;
    Ok(Json(json!({ "team_id": team_id, "member": member })))
}

#[derive(Deserialize)]
pub struct DeleteMemberRequest {
    team_id: String,
    user_id: Option<String>,
    user_email: Option<String>,
}

/// Removes a member; its keys in the team are revoked with it, here at once.
pub async fn delete(manager: Manager, Input(request): Input<DeleteMemberRequest>) -> Answer<Value> {
    let named = NewMember {
        role: None,
        user_id: request.user_id,
        user_email: request.user_email,
    };
    let removed = members::remove(manager.pool(), &manager, &request.team_id, &named).await?;
    for token_hash in &removed.revoked_keys {
        manager.gateway.keys.evict(token_hash);
    }
    Ok(Json(json!({
        "team_id": request.team_id,
        "user_id": removed.user_id,
        "keys_revoked": removed.revoked_keys,
    })))
}
