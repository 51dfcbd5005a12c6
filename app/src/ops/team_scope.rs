//! What a team admin may grant within its team: models the team allows, and a budget and rate
//! limits no larger than the team's. (Admins are not bounded by it.)

use sqlx::PgPool;

use crate::db::keys::RateLimits;
use crate::db::teams::{self, TeamRow};
use crate::ops::{Catalog, OpsError};

/// What a team admin asks for a key or project of its team.
pub struct AskedOfTeam<'a> {
    pub models: Option<&'a [String]>,
    pub max_budget_micros: Option<i64>,
    pub limits: &'a RateLimits,
}

/// A team that exists and is not deleted.
pub async fn live_team(pool: &PgPool, team_id: &str) -> Result<TeamRow, OpsError> {
    teams::find(pool, team_id)
        .await?
        .filter(|row| row.deleted_at.is_none())
        .ok_or_else(|| OpsError::NotFound(format!("Team `{team_id}` not found.")))
}

/// Refuses what the team itself does not have.
pub async fn check_within_team(
    pool: &PgPool,
    catalog: &dyn Catalog,
    team_id: &str,
    asked: &AskedOfTeam<'_>,
) -> Result<(), OpsError> {
    let team = live_team(pool, team_id).await?;
    if let Some(model) = asked
        .models
        .into_iter()
        .flatten()
        .find(|model| !catalog.model_allowed(&team.models, model))
    {
        return Err(OpsError::Forbidden(format!(
            "A team admin cannot grant model `{model}`, which team `{team_id}` may not use."
        )));
    }
    let above = |asked: Option<i64>, team_has: Option<i64>| matches!((asked, team_has), (Some(asked), Some(limit)) if asked > limit);
    let checks = [
        (
            "max_budget",
            asked.max_budget_micros,
            team.budget.max_budget_micros,
        ),
        ("rpm_limit", asked.limits.rpm_limit, team.rpm_limit),
        ("tpm_limit", asked.limits.tpm_limit, team.tpm_limit),
        (
            "max_parallel_requests",
            asked.limits.max_parallel_requests,
            team.max_parallel_requests,
        ),
    ];
    match checks
        .iter()
        .find(|(_, asked, team_has)| above(*asked, *team_has))
    {
        Some((field, _, _)) => Err(OpsError::Forbidden(format!(
            "A team admin cannot grant a larger `{field}` than team `{team_id}` has."
        ))),
        None => Ok(()),
    }
}
