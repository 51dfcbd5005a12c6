//! Teams from the console, through `ops::teams` and `ops::members` (the API's write paths):
//! admins, finance and viewers see every team, other users the teams they belong to; admins
//! create, edit and block teams; a team's own admins rename it and add and remove its members
//! (never themselves, never a user who outranks them).

// A form posts one argument per field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::{BudgetForm, LimitsForm};
use crate::model::TeamView;

#[server(endpoint = "list_teams")]
pub async fn list_teams() -> Result<Vec<TeamView>, ConsoleError> {
    use crate::api::guard;
    use crate::db::{members, teams};
    use crate::model::MemberView;
    use std::collections::HashMap;

    let actor = guard::current_actor().await?;
    let pool = crate::state::pool()?;
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
    Ok(crate::ops::teams::list(&pool, &actor)
        .await?
        .into_iter()
        .map(|team| TeamView {
            manageable: actor.manages_team(&team.team_id),
            editable: actor.is_admin(),
            keys: keys.get(&team.team_id).copied().unwrap_or(0),
            members: members_of.remove(&team.team_id).unwrap_or_default(),
            team_id: team.team_id,
            team_alias: team.team_alias,
            models: team.models,
            blocked: team.blocked,
            budget: team.budget,
            rpm_limit: team.rpm_limit,
            tpm_limit: team.tpm_limit,
            max_parallel_requests: team.max_parallel_requests,
            metadata: team.metadata,
        })
        .collect())
}

/// Creates a team (admins), or (`existing`) changes one from its edit form. A team admin's
/// edit form carries its alias and metadata only (the other fields are absent, so they do not
/// change); an admin's carries every field, an empty one leaving it as it is (empty models:
/// every model).
#[server(endpoint = "save_team")]
pub async fn save_team(
    csrf: String,
    existing: bool,
    team_id: String,
    team_alias: String,
    metadata: Option<String>,
    models: Option<String>,
    #[server(flatten)] budget: BudgetForm,
    #[server(flatten)] limits: LimitsForm,
) -> Result<(), ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::teams::{self, NewTeam, TeamUpdate};

    let actor = if existing {
        guard::team_changer(&csrf, "change teams").await?
    } else {
        guard::admin_changer(&csrf, "create teams").await?
    };
    let (budget, limits) = (form::budget(&budget)?, form::limits(&limits)?);
    let state = crate::state::console_state()?;
    if existing {
        let update = TeamUpdate {
            team_alias: form::text(&team_alias),
            metadata: form::json_object(metadata.as_deref().unwrap_or_default(), "Metadata")?,
            models: models.as_deref().map(form::list),
            budget,
            limits,
            team_id,
            ..TeamUpdate::default()
        };
        teams::update(&state.pool, &actor, &*state.catalog, update).await?;
    } else {
        let new = NewTeam {
            team_id: form::text(&team_id),
            team_alias: form::text(&team_alias),
            models: form::list(models.as_deref().unwrap_or_default()),
            budget,
            limits,
            ..NewTeam::default()
        };
        teams::create(&state.pool, &actor, &*state.catalog, new).await?;
    }
    Ok(())
}

#[server(endpoint = "set_team_blocked")]
pub async fn set_team_blocked(
    csrf: String,
    team_id: String,
    blocked: bool,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::teams;

    let actor = guard::admin_changer(&csrf, "block teams").await?;
    teams::set_blocked(&crate::state::pool()?, &actor, &team_id, blocked).await?;
    Ok(())
}

#[server(endpoint = "add_member")]
pub async fn add_member(
    csrf: String,
    team_id: String,
    email: String,
    role: String,
    max_budget_in_team: String,
) -> Result<(), ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::members::{self, NewMember};

    let actor = guard::changer(&csrf).await?;
    actor.require_manages_team(&team_id, "add members to this team")?;
    let member = NewMember {
        role: form::text(&role),
        user_id: None,
        user_email: Some(email),
    };
    let budget = form::dollars(&max_budget_in_team, "The member's budget")?;
    members::add(&crate::state::pool()?, &actor, &team_id, &[member], budget).await?;
    Ok(())
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(
    csrf: String,
    team_id: String,
    user_id: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::members::{self, NewMember};

    let actor = guard::changer(&csrf).await?;
    actor.require_manages_team(&team_id, "remove this team's members")?;
    let member = NewMember {
        user_id: Some(user_id),
        ..NewMember::default()
    };
    members::remove(&crate::state::pool()?, &actor, &team_id, &member).await?;
    Ok(())
}
