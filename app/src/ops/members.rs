//! Team members: who belongs to a team, as `admin` or `user`, with an optional budget within
//! the team (`max_budget_in_team`). Admins and the team's own admins manage members; a team
//! admin never changes its own membership, never adds or changes a user whose global role is
//! higher than its own, and never gives a member more than the team has.

use serde::Deserialize;
use sqlx::{PgConnection, PgPool};

use crate::db::budgets::BudgetLimits;
use crate::db::members::{self, MemberError, MemberRole, MemberRow};
use crate::db::users::{self, UserRow};
use crate::model::invalid::{Invalid, Problem};
use crate::model::views::MemberDetails;
use crate::model::{dollars_to_micros, micros_to_dollars};
use crate::ops::record::{record, snapshot, Change};
use crate::ops::team_scope::live_team;
use crate::ops::{Actor, OpsError};

/// A member as LiteLLM names one: by `user_id` or `user_email`, with a `role`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewMember {
    pub role: Option<String>,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
}

impl NewMember {
    /// The role asked for; `user` when none.
    pub fn role(&self) -> Result<MemberRole, Invalid> {
        match self.role.as_deref() {
            None => Ok(MemberRole::User),
            Some(text) => MemberRole::parse(text).ok_or(Invalid::field(
                "role",
                Problem::Value("a member's role is `admin` or `user`.".into()),
            )),
        }
    }
}

/// `/team/member_update`: the role and budget given change.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MemberUpdate {
    pub team_id: String,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub role: Option<String>,
    pub max_budget_in_team: Option<f64>,
}

/// A member removed, and its keys in the team (revoked with it).
pub struct Removed {
    pub user_id: String,
    pub revoked_keys: Vec<String>,
}

pub fn view(row: &MemberRow) -> MemberDetails {
    MemberDetails {
        user_id: row.user_id.clone(),
        user_email: row.user_email.clone(),
        role: row.role.clone(),
        max_budget_in_team: row.max_budget_micros.map(micros_to_dollars),
        budget_duration: row.budget_duration.clone(),
        spend: micros_to_dollars(row.spend_micros),
        spend_micros: row.spend_micros,
    }
}

fn refused(error: MemberError) -> OpsError {
    match error {
        MemberError::UnknownTeam => OpsError::NotFound("Team not found.".into()),
        MemberError::UnknownUser | MemberError::Duplicate => {
            OpsError::conflict(format!("{error}."), "user_id")
        }
        MemberError::Database(error) => OpsError::Database(error),
    }
}

/// The user a member entry names.
pub async fn member_user_id(pool: &PgPool, member: &NewMember) -> Result<String, OpsError> {
    let user = match (&member.user_id, &member.user_email) {
        (Some(user_id), _) => users::find(pool, user_id).await?,
        (None, Some(email)) => users::find_by_email(pool, email.trim()).await?,
        (None, None) => {
            return Err(OpsError::conflict(
                "Name the member by `user_id` or `user_email`.",
                "user_id",
            ))
        }
    };
    user.map(|user| user.user_id).ok_or_else(|| {
        OpsError::conflict(
            "The member names no user; create it with /user/new first.",
            "user_id",
        )
    })
}

/// A team's members.
pub async fn members_of(pool: &PgPool, team_id: &str) -> Result<Vec<MemberDetails>, OpsError> {
    Ok(members::list(pool, team_id)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// A budget within the team: a team admin cannot give a member more than the team has.
async fn member_budget(
    pool: &PgPool,
    actor: &Actor,
    team_id: &str,
    max_budget_in_team: Option<f64>,
) -> Result<Option<BudgetLimits>, OpsError> {
    let Some(dollars) = max_budget_in_team else {
        return Ok(None);
    };
    let micros = dollars_to_micros(dollars).map_err(|message| {
        Invalid::field("max_budget_in_team", Problem::Value(message.to_string()))
    })?;
    let team = live_team(pool, team_id).await?;
    if !actor.is_admin()
        && team
            .budget
            .max_budget_micros
            .is_some_and(|team_max| micros > team_max)
    {
        return Err(OpsError::Forbidden(format!(
            "A team admin cannot give a member more than the team's own budget ({}).",
            team.budget.max_budget_micros.map_or(0.0, micros_to_dollars)
        )));
    }
    Ok(Some(BudgetLimits {
        max_micros: Some(micros),
        soft_micros: None,
        duration: None,
    }))
}

/// Nobody but an admin adds, changes or removes their own membership (no self-promotion), and
/// a team admin touches only users whose global role is no higher than its own (an admin in
/// its team would let it mint an admin's key).
async fn require_may_touch(pool: &PgPool, actor: &Actor, user_id: &str) -> Result<(), OpsError> {
    if actor.is_admin() {
        return Ok(());
    }
    if actor.user_id.as_deref() == Some(user_id) {
        return Err(OpsError::Forbidden(
            "A team admin cannot change its own membership.".into(),
        ));
    }
    let user = users::find(pool, user_id).await?;
    actor.require_outranks(user.as_ref().and_then(UserRow::role), user_id)
}

/// Adds members in the caller's transaction, each with its audit entry (a new team's, say).
pub async fn add_in(
    connection: &mut PgConnection,
    actor: &Actor,
    team_id: &str,
    added: &[(String, MemberRole)],
    budget: Option<&BudgetLimits>,
) -> Result<Vec<MemberDetails>, OpsError> {
    let mut views = Vec::with_capacity(added.len());
    for (user_id, role) in added {
        let row = members::add(
            &mut *connection,
            team_id,
            user_id,
            *role,
            budget,
            &actor.name,
        )
        .await
        .map_err(refused)?;
        let details = view(&row);
        record(
            &mut *connection,
            actor,
            Change {
                action: "team.member_add",
                target_type: "team",
                target_id: team_id,
                before: None,
                after: snapshot(&details),
            },
        )
        .await?;
        views.push(details);
    }
    Ok(views)
}

/// Checks the members a caller names and returns each one's user and role.
pub async fn named_members(
    pool: &PgPool,
    actor: &Actor,
    given: &[NewMember],
) -> Result<Vec<(String, MemberRole)>, OpsError> {
    let mut named = Vec::with_capacity(given.len());
    for member in given {
        let user_id = member_user_id(pool, member).await?;
        require_may_touch(pool, actor, &user_id).await?;
        named.push((user_id, member.role()?));
    }
    Ok(named)
}

pub async fn add(
    pool: &PgPool,
    actor: &Actor,
    team_id: &str,
    given: &[NewMember],
    max_budget_in_team: Option<f64>,
) -> Result<Vec<MemberDetails>, OpsError> {
    actor.require_manages_team(team_id, "add members to this team")?;
    let budget = member_budget(pool, actor, team_id, max_budget_in_team).await?;
    let named = named_members(pool, actor, given).await?;
    let mut transaction = pool.begin().await?;
    let added = add_in(&mut transaction, actor, team_id, &named, budget.as_ref()).await?;
    transaction.commit().await?;
    Ok(added)
}

pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    input: MemberUpdate,
) -> Result<MemberDetails, OpsError> {
    let team_id = input.team_id.as_str();
    actor.require_manages_team(team_id, "change this team's members")?;
    let named = NewMember {
        role: input.role.clone(),
        user_id: input.user_id.clone(),
        user_email: input.user_email.clone(),
    };
    let user_id = member_user_id(pool, &named).await?;
    require_may_touch(pool, actor, &user_id).await?;
    let role = input.role.as_ref().map(|_| named.role()).transpose()?;
    let budget = member_budget(pool, actor, team_id, input.max_budget_in_team).await?;
    let not_member = || OpsError::NotFound("That user is not a member of the team.".into());
    let mut transaction = pool.begin().await?;
    let before = members::find(&mut *transaction, team_id, &user_id)
        .await?
        .ok_or_else(not_member)?;
    let row = members::update(&mut transaction, team_id, &user_id, role, budget.as_ref())
        .await?
        .ok_or_else(not_member)?;
    let details = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "team.member_update",
            target_type: "team",
            target_id: team_id,
            before: snapshot(&view(&before)),
            after: snapshot(&details),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(details)
}

/// Removes a member; its keys in the team are revoked with it.
pub async fn remove(
    pool: &PgPool,
    actor: &Actor,
    team_id: &str,
    named: &NewMember,
) -> Result<Removed, OpsError> {
    actor.require_manages_team(team_id, "remove this team's members")?;
    let user_id = member_user_id(pool, named).await?;
    require_may_touch(pool, actor, &user_id).await?;
    let mut transaction = pool.begin().await?;
    let revoked_keys = members::remove(&mut transaction, team_id, &user_id)
        .await?
        .ok_or_else(|| OpsError::NotFound("That user is not a member of the team.".into()))?;
    record(
        &mut transaction,
        actor,
        Change {
            action: "team.member_delete",
            target_type: "team",
            target_id: team_id,
            before: Some(serde_json::json!({ "user_id": user_id })),
            after: Some(serde_json::json!({ "keys_revoked": revoked_keys.len() })),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(Removed {
        user_id,
        revoked_keys,
    })
}
