//! Teams from the console: admins, finance and viewers see every team, other users the teams
//! they belong to; admins create and block teams; admins and a team's own admins add and remove
//! its members (never themselves).

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::TeamView;

#[server(endpoint = "list_teams")]
pub async fn list_teams() -> Result<Vec<TeamView>, ConsoleError> {
    use std::collections::HashMap;

    use crate::api::guard;
    use crate::db::{members, teams, users};
    use crate::model::{MemberView, Role};

    let session = guard::session().await?;
    let user = guard::require_role(
        &session,
        &[Role::Admin, Role::TeamAdmin, Role::Finance, Role::Viewer],
    )
    .await?;
    let pool = crate::state::pool()?;
    let sees_all = user.role() != Some(Role::TeamAdmin);
    let memberships = users::memberships(&pool, &user.user_id).await?;
    let role_in = |team_id: &str| {
        memberships
            .iter()
            .find(|membership| membership.team_id == team_id)
            .map(|membership| membership.role.as_str())
    };
    let mut members_of: HashMap<String, Vec<MemberView>> = HashMap::new();
    for row in members::list_all(&pool).await? {
        members_of.entry(row.team_id).or_default().push(MemberView {
            user_id: row.user_id,
            email: row.user_email,
            role: row.role,
            max_budget_micros: row.max_budget_micros,
            spend_micros: row.spend_micros,
        });
    }
    let keys: HashMap<String, i64> = teams::key_counts(&pool).await?.into_iter().collect();
    let is_admin = user.role() == Some(Role::Admin);
    Ok(teams::list_live(&pool)
        .await?
        .into_iter()
        .filter(|team| sees_all || role_in(&team.team_id).is_some())
        .map(|team| TeamView {
            manageable: is_admin || role_in(&team.team_id) == Some("admin"),
            keys: keys.get(&team.team_id).copied().unwrap_or(0),
            members: members_of.remove(&team.team_id).unwrap_or_default(),
            team_id: team.team_id,
            team_alias: team.team_alias,
            models: team.models,
            blocked: team.blocked,
            spend_micros: team.spend_micros,
            max_budget_micros: team.max_budget_micros,
            budget_duration: team.budget_duration,
            rpm_limit: team.rpm_limit,
            tpm_limit: team.tpm_limit,
        })
        .collect())
}

/// An optional whole number from a form field (empty: none).
#[cfg(feature = "ssr")]
fn whole_number(text: &str, field: &str) -> Result<Option<i64>, ConsoleError> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .ok()
            .filter(|number| *number >= 0)
            .map(Some)
            .ok_or_else(|| ConsoleError::Invalid(format!("{field} must be a whole number."))),
    }
}

/// An optional budget in dollars from a form field (empty: none).
#[cfg(feature = "ssr")]
fn dollars(text: &str) -> Result<Option<i64>, ConsoleError> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse::<f64>()
            .map_err(|_| ConsoleError::Invalid("The budget must be a number of dollars.".into()))
            .and_then(|value| {
                crate::model::dollars_to_micros(value)
                    .map(Some)
                    .map_err(ConsoleError::Invalid)
            }),
    }
}

#[server(endpoint = "create_team")]
pub async fn create_team(
    csrf: String,
    team_id: String,
    team_alias: String,
    models: String,
    max_budget: String,
    budget_duration: String,
    rpm_limit: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::budgets::BudgetLimits;
    use crate::db::keys::RateLimits;
    use crate::db::teams::{self, TeamError, TeamSpec};
    use crate::model::{parse_duration_seconds, Role};

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin]).await?;
    let duration = match budget_duration.trim() {
        "" => None,
        text => Some((
            text.to_string(),
            parse_duration_seconds(text).map_err(ConsoleError::Invalid)?,
        )),
    };
    let spec = TeamSpec {
        team_id: Some(team_id.trim().to_string()).filter(|id| !id.is_empty()),
        team_alias: Some(team_alias.trim().to_string()).filter(|alias| !alias.is_empty()),
        organization_id: None,
        models: models
            .split(',')
            .map(str::trim)
            .filter(|model| !model.is_empty())
            .map(String::from)
            .collect(),
        blocked: false,
        budget: BudgetLimits {
            max_micros: dollars(&max_budget)?,
            soft_micros: None,
            duration,
        },
        limits: RateLimits {
            rpm_limit: whole_number(&rpm_limit, "The requests-per-minute limit")?,
            ..RateLimits::default()
        },
        metadata: serde_json::json!({}),
        created_by: format!("user:{}", acting.label()),
    };
    let row = teams::create(&crate::state::pool()?, spec)
        .await
        .map_err(|error| match error {
            TeamError::Duplicate => {
                ConsoleError::Invalid("A team with that id or alias exists.".into())
            }
            TeamError::UnknownOrganization => ConsoleError::Invalid(format!("{error}.")),
            TeamError::Database(error) => ConsoleError::from(error),
        })?;
    guard::audit(
        &acting,
        "team.new",
        "team",
        &row.team_id,
        Some(
            serde_json::json!({ "team_alias": row.team_alias, "models": row.models,
            "max_budget_micros": row.max_budget_micros, "rpm_limit": row.rpm_limit }),
        ),
    )
    .await;
    Ok(())
}

#[server(endpoint = "set_team_blocked")]
pub async fn set_team_blocked(
    csrf: String,
    team_id: String,
    blocked: bool,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::teams::{self, TeamChange};
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin]).await?;
    let change = TeamChange {
        blocked: Some(blocked),
        ..TeamChange::default()
    };
    teams::update(&crate::state::pool()?, &team_id, change)
        .await?
        .ok_or_else(|| ConsoleError::Invalid("That team no longer exists.".into()))?;
    guard::audit(
        &acting,
        if blocked {
            "team.block"
        } else {
            "team.unblock"
        },
        "team",
        &team_id,
        Some(serde_json::json!({ "blocked": blocked })),
    )
    .await;
    Ok(())
}

/// The signed-in user, if it may manage the team's members and the member is not itself.
#[cfg(feature = "ssr")]
async fn team_manager(
    csrf: &str,
    team_id: &str,
    member: Option<&str>,
) -> Result<crate::db::users::UserRow, ConsoleError> {
    use crate::api::guard;
    use crate::db::users;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin, Role::TeamAdmin]).await?;
    if acting.role() != Some(Role::Admin) {
        let memberships = users::memberships(&crate::state::pool()?, &acting.user_id).await?;
        let admin_of_team = memberships
            .iter()
            .any(|membership| membership.team_id == team_id && membership.role == "admin");
        if !admin_of_team {
            return Err(ConsoleError::Forbidden);
        }
        if member == Some(acting.user_id.as_str()) {
            return Err(ConsoleError::Invalid(
                "A team admin cannot change its own membership.".into(),
            ));
        }
    }
    Ok(acting)
}

#[server(endpoint = "add_member")]
pub async fn add_member(
    csrf: String,
    team_id: String,
    email: String,
    role: String,
    max_budget_in_team: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::budgets::BudgetLimits;
    use crate::db::members::{self, MemberError, MemberRole};
    use crate::db::{teams, users};
    use crate::model::Role;

    let pool = crate::state::pool()?;
    let member = users::find_by_email(&pool, email.trim()).await?;
    let acting = team_manager(&csrf, &team_id, member.as_ref().map(|m| m.user_id.as_str())).await?;
    let member = member.ok_or_else(|| ConsoleError::Invalid("No user has that email.".into()))?;
    let role = MemberRole::parse(role.trim())
        .ok_or_else(|| ConsoleError::Invalid("A member is an admin or a user.".into()))?;
    let budget = match dollars(&max_budget_in_team)? {
        None => None,
        Some(micros) => {
            let team = teams::find(&pool, &team_id)
                .await?
                .ok_or_else(|| ConsoleError::Invalid("That team no longer exists.".into()))?;
            if acting.role() != Some(Role::Admin)
                && team
                    .max_budget_micros
                    .is_some_and(|team_max| micros > team_max)
            {
                return Err(ConsoleError::Invalid(
                    "A member's budget cannot exceed the team's.".into(),
                ));
            }
            Some(BudgetLimits {
                max_micros: Some(micros),
                ..BudgetLimits::default()
            })
        }
    };
    members::add(
        &pool,
        &team_id,
        &member.user_id,
        role,
        budget.as_ref(),
        &format!("user:{}", acting.label()),
    )
    .await
    .map_err(|error| match error {
        MemberError::Database(error) => ConsoleError::from(error),
        other => ConsoleError::Invalid(format!("{other}.")),
    })?;
    guard::audit(
        &acting,
        "team.member_add",
        "team",
        &team_id,
        Some(
            serde_json::json!({ "user_id": member.user_id, "role": role.as_str(),
            "max_budget_in_team_micros": budget.and_then(|budget| budget.max_micros) }),
        ),
    )
    .await;
    Ok(())
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(
    csrf: String,
    team_id: String,
    user_id: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::members;

    let acting = team_manager(&csrf, &team_id, Some(&user_id)).await?;
    let revoked = members::remove(&crate::state::pool()?, &team_id, &user_id)
        .await?
        .ok_or_else(|| ConsoleError::Invalid("That user is not a member of the team.".into()))?;
    guard::audit(
        &acting,
        "team.member_delete",
        "team",
        &team_id,
        Some(serde_json::json!({ "user_id": user_id, "keys_revoked": revoked.len() })),
    )
    .await;
    Ok(())
}
