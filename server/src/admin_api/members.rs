//! `/team/member_add`, `/team/member_update`, `/team/member_delete` in LiteLLM's shapes: who
//! belongs to a team, as `admin` or `user`, with an optional budget within the team
//! (`max_budget_in_team`). Admins and the team's own admins manage members; nobody but an admin
//! changes their own membership.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::budgets::BudgetLimits;
use app::db::members::{self, MemberError, MemberRole};
use app::db::users;
use app::model::{dollars_to_micros, micros_to_dollars};

use super::access::{actor, Actor};
use super::audit::{self, Change};
use super::json_body;
use super::live_team;
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

/// A member as LiteLLM names one: by `user_id` or `user_email`, with a `role`.
#[derive(Deserialize, Clone)]
pub struct NewMember {
    role: Option<String>,
    user_id: Option<String>,
    user_email: Option<String>,
}

impl NewMember {
    /// The role asked for; `user` when none.
    pub fn role(&self) -> Result<MemberRole, ApiError> {
        match self.role.as_deref() {
            None => Ok(MemberRole::User),
            Some(text) => MemberRole::parse(text).ok_or_else(|| {
                ApiError::bad_request("A member's `role` is `admin` or `user`.", Some("role"))
            }),
        }
    }
}

/// The user a member entry names.
pub async fn member_user_id(
    gateway: &SharedGateway,
    member: &NewMember,
) -> Result<String, ApiError> {
    let user = match (&member.user_id, &member.user_email) {
        (Some(user_id), _) => users::find_by_user_id(&gateway.pool, user_id).await?,
        (None, Some(email)) => users::find_by_email(&gateway.pool, email).await?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "Name the member by `user_id` or `user_email`.",
                Some("user_id"),
            ))
        }
    };
    user.map(|user| user.user_id).ok_or_else(|| {
        ApiError::bad_request(
            "The member names no user; create it with /user/new first.",
            Some("user_id"),
        )
    })
}

pub fn member_error(error: MemberError) -> ApiError {
    match error {
        MemberError::UnknownTeam => ApiError::NotFound("Team not found.".into()),
        MemberError::UnknownUser => ApiError::bad_request(error.to_string(), Some("user_id")),
        MemberError::Duplicate => ApiError::bad_request(error.to_string(), Some("user_id")),
        MemberError::Database(error) => ApiError::from(error),
    }
}

/// A team's members in LiteLLM's `members_with_roles` shape, with each one's budget in the team.
pub async fn members_of(gateway: &SharedGateway, team_id: &str) -> Result<Value, ApiError> {
    let rows = members::list(&gateway.pool, team_id).await?;
    Ok(Value::Array(rows.iter().map(member_fields).collect()))
}

fn member_fields(row: &members::MemberRow) -> Value {
    json!({
        "user_id": row.user_id,
        "user_email": row.user_email,
        "role": row.role,
        "max_budget_in_team": row.max_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
    })
}

/// A budget within the team: a team admin cannot give a member more than the team has.
async fn member_budget(
    gateway: &SharedGateway,
    actor: &Actor,
    team_id: &str,
    max_budget_in_team: Option<f64>,
) -> Result<Option<BudgetLimits>, ApiError> {
    let Some(dollars) = max_budget_in_team else {
        return Ok(None);
    };
    let micros = dollars_to_micros(dollars).map_err(|message| {
        ApiError::bad_request(
            format!("`max_budget_in_team`: {message}"),
            Some("max_budget_in_team"),
        )
    })?;
    let team = live_team(gateway, team_id).await?;
    if !actor.is_admin()
        && team
            .max_budget_micros
            .is_some_and(|team_max| micros > team_max)
    {
        return Err(ApiError::Forbidden(format!(
            "A team admin cannot give a member more than the team's own budget ({}).",
            team.max_budget_micros.map_or(0.0, micros_to_dollars)
        )));
    }
    Ok(Some(BudgetLimits {
        max_micros: Some(micros),
        soft_micros: None,
        duration: None,
    }))
}

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
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let request: AddMembersRequest = json_body(body).await?;
    actor.require_manages_team(&request.team_id, "add members to this team")?;
    let budget = member_budget(
        &gateway,
        &actor,
        &request.team_id,
        request.max_budget_in_team,
    )
    .await?;
    let given = match request.member {
        OneOrMany::One(member) => vec![member],
        OneOrMany::Many(members) => members,
    };
    let mut added = Vec::with_capacity(given.len());
    for member in &given {
        let user_id = member_user_id(&gateway, member).await?;
        refuse_own_membership(&actor, &user_id)?;
        refuse_higher_user(&gateway, &actor, &user_id).await?;
        let row = members::add(
            &gateway.pool,
            &request.team_id,
            &user_id,
            member.role()?,
            budget.as_ref(),
            &actor.name,
        )
        .await
        .map_err(member_error)?;
        let fields = member_fields(&row);
        audit::changed(
            &gateway,
            &actor,
            Change {
                action: "team.member_add",
                target_type: "team",
                target_id: &request.team_id,
                before: None,
                after: Some(fields.clone()),
            },
        )
        .await;
        added.push(fields);
    }
    Ok(Json(json!({
        "team_id": request.team_id,
        "updated_team_memberships": added,
        "members_with_roles": members_of(&gateway, &request.team_id).await?,
    })))
}

/// Nobody but an admin adds, changes or removes their own membership (no self-promotion).
fn refuse_own_membership(actor: &Actor, user_id: &str) -> Result<(), ApiError> {
    if !actor.is_admin() && actor.user_id.as_deref() == Some(user_id) {
        return Err(ApiError::Forbidden(
            "A team admin cannot change its own membership.".into(),
        ));
    }
    Ok(())
}

/// A team admin adds or changes only users whose global role is no higher than its own (an
/// admin in its team would let it mint an admin's key).
async fn refuse_higher_user(
    gateway: &SharedGateway,
    actor: &Actor,
    user_id: &str,
) -> Result<(), ApiError> {
    if actor.is_admin() {
        return Ok(());
    }
    let user = users::find_by_user_id(&gateway.pool, user_id).await?;
    Ok(actor.require_outranks(user.as_ref().and_then(users::UserRow::role), user_id)?)
}

#[derive(Deserialize)]
pub struct UpdateMemberRequest {
    team_id: String,
    user_id: Option<String>,
    user_email: Option<String>,
    role: Option<String>,
    max_budget_in_team: Option<f64>,
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let request: UpdateMemberRequest = json_body(body).await?;
    actor.require_manages_team(&request.team_id, "change this team's members")?;
    let named = NewMember {
        role: request.role.clone(),
        user_id: request.user_id.clone(),
        user_email: request.user_email.clone(),
    };
    let user_id = member_user_id(&gateway, &named).await?;
    refuse_own_membership(&actor, &user_id)?;
    refuse_higher_user(&gateway, &actor, &user_id).await?;
    let role = request.role.as_ref().map(|_| named.role()).transpose()?;
    let budget = member_budget(
        &gateway,
        &actor,
        &request.team_id,
        request.max_budget_in_team,
    )
    .await?;
    let before = members::find(&gateway.pool, &request.team_id, &user_id).await?;
    let row = members::update(
        &gateway.pool,
        &request.team_id,
        &user_id,
        role,
        budget.as_ref(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("That user is not a member of the team.".into()))?;
    let after = member_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "team.member_update",
            target_type: "team",
            target_id: &request.team_id,
            before: before.as_ref().map(member_fields),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(json!({ "team_id": request.team_id, "member": after })))
}

#[derive(Deserialize)]
pub struct DeleteMemberRequest {
    team_id: String,
    user_id: Option<String>,
    user_email: Option<String>,
}

/// Removes a member; its keys in the team are revoked with it.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&gateway, &headers, &origin).await?;
    let request: DeleteMemberRequest = json_body(body).await?;
    actor.require_manages_team(&request.team_id, "remove this team's members")?;
    let named = NewMember {
        role: None,
        user_id: request.user_id,
        user_email: request.user_email,
    };
    let user_id = member_user_id(&gateway, &named).await?;
    refuse_own_membership(&actor, &user_id)?;
    refuse_higher_user(&gateway, &actor, &user_id).await?;
    let revoked = members::remove(&gateway.pool, &request.team_id, &user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("That user is not a member of the team.".into()))?;
    for token_hash in &revoked {
        gateway.keys.evict(token_hash);
    }
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "team.member_delete",
            target_type: "team",
            target_id: &request.team_id,
            before: Some(json!({ "user_id": user_id })),
            after: Some(json!({ "keys_revoked": revoked.len() })),
        },
    )
    .await;
    Ok(Json(json!({
        "team_id": request.team_id,
        "user_id": user_id,
        "keys_revoked": revoked,
    })))
}
