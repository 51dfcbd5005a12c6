//! Teams: admins create, change, block and delete them; a team admin changes its team's alias
//! and metadata; everyone who reads everything, and the team's members, read it. A team in an
//! organization that bounds models uses only those models.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::PgPool;

use crate::db::error::DbError;
use crate::db::organizations;
use crate::db::teams::{self, TeamFields, TeamRow};
use crate::model::identity::metadata_object;
use crate::model::invalid::text_length;
use crate::model::views::TeamDetails;
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::limit_fields::LimitFields;
use crate::ops::members::{self, NewMember};
use crate::ops::record::{record, snapshot, Change};
use crate::ops::team_scope::live_team;
use crate::ops::{rfc3339, Actor, Catalog, OpsError};

/// `/team/new`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewTeam {
    pub team_id: Option<String>,
    pub team_alias: Option<String>,
    pub organization_id: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub metadata: Option<Value>,
    #[serde(default)]
    pub members_with_roles: Vec<NewMember>,
    #[serde(flatten)]
    pub limits: LimitFields,
    /// Anything else given: refused when it is a LiteLLM field not enforced here.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `/team/update`: the fields given change. A budget field given replaces the team's budget.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TeamUpdate {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub organization_id: Option<String>,
    pub models: Option<Vec<String>>,
    pub blocked: Option<bool>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub limits: LimitFields,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// LiteLLM team fields whose policy Gatehouse does not enforce yet: refused rather than
/// silently ignored.
const NOT_YET_ENFORCED: &[&str] = &[
    "model_max_budget",
    "model_rpm_limit",
    "model_tpm_limit",
    "members",
];

fn refuse_unenforced(other: &Map<String, Value>) -> Result<(), OpsError> {
    match NOT_YET_ENFORCED
        .iter()
        .find(|field| other.get(**field).is_some_and(|value| !value.is_null()))
    {
        Some(field) => Err(OpsError::conflict(
            format!("`{field}` is not supported by this version of Gatehouse yet."),
            field,
        )),
        None => Ok(()),
    }
}

fn refused(error: DbError) -> OpsError {
    match error {
        DbError::Duplicate => OpsError::conflict(
            "a team with that team_id or team_alias already exists.",
            "team_id",
        ),
        DbError::UnknownReference => OpsError::conflict(
            "no organization with that organization_id exists.",
            "organization_id",
        ),
        other => other.into(),
    }
}

pub fn view(row: &TeamRow) -> TeamDetails {
    TeamDetails {
        team_id: row.team_id.clone(),
        team_alias: row.team_alias.clone(),
        organization_id: row.organization_id.clone(),
        models: row.models.clone(),
        blocked: row.blocked,
        budget: budget_view(&row.budget),
        rpm_limit: row.rpm_limit,
        tpm_limit: row.tpm_limit,
        max_parallel_requests: row.max_parallel_requests,
        metadata: row.metadata.clone(),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        members_with_roles: None,
    }
}

/// A team in an organization that limits models uses only those models (and must list them).
async fn check_within_organization(
    pool: &PgPool,
    catalog: &dyn Catalog,
    organization_id: &str,
    models: &[String],
) -> Result<(), OpsError> {
    let organization = organizations::find(pool, organization_id)
        .await?
        .ok_or_else(|| {
            OpsError::conflict(
                format!("`organization_id`: no organization `{organization_id}` exists."),
                "organization_id",
            )
        })?;
    if organization.models.is_empty() {
        return Ok(());
    }
    if models.is_empty() {
        return Err(OpsError::conflict(
            format!(
                "Organization `{organization_id}` allows only {}: list the team's `models`.",
                organization.models.join(", ")
            ),
            "models",
        ));
    }
    match models
        .iter()
        .find(|model| !catalog.model_allowed(&organization.models, model))
    {
        Some(model) => Err(OpsError::conflict(
            format!("Model `{model}` is not allowed in organization `{organization_id}`."),
            "models",
        )),
        None => Ok(()),
    }
}

pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    input: NewTeam,
) -> Result<TeamDetails, OpsError> {
    actor.require_admin("change this")?;
    refuse_unenforced(&input.other)?;
    let named = members::named_members(pool, actor, &input.members_with_roles).await?;
    if let Some(team_id) = &input.team_id {
        text_length(team_id.trim(), "team_id", 1, 200)?;
    }
    if let Some(organization_id) = &input.organization_id {
        check_within_organization(pool, catalog, organization_id, &input.models).await?;
    }
    let fields = TeamFields {
        team_alias: input.team_alias,
        organization_id: input.organization_id,
        models: Some(input.models),
        blocked: Some(input.blocked),
        budget: Some(input.budget.limits()?),
        limits: input.limits.without_model_limits("teams")?,
        metadata: metadata_object(input.metadata)?,
    };
    let mut transaction = pool.begin().await?;
    let row = teams::create(&mut transaction, input.team_id, fields, &actor.name)
        .await
        .map_err(refused)?;
    let mut details = view(&row);
    members::add_in(&mut transaction, actor, &row.team_id, &named, None).await?;
    details.members_with_roles = Some(
        crate::db::members::list(&mut *transaction, &row.team_id)
            .await?
            .iter()
            .map(members::view)
            .collect(),
    );
    record(
        &mut transaction,
        actor,
        Change {
            action: "team.new",
            target_type: "team",
            target_id: &row.team_id,
            before: None,
            after: snapshot(&details),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(details)
}

/// A team with its members: for its members and roles that read every team.
pub async fn info(pool: &PgPool, actor: &Actor, team_id: &str) -> Result<TeamDetails, OpsError> {
    if !actor.sees_team(team_id) {
        return Err(OpsError::Forbidden(format!(
            "Only members of team `{team_id}` and roles that read every team may read it."
        )));
    }
    let mut details = view(&live_team(pool, team_id).await?);
    details.members_with_roles = Some(members::members_of(pool, team_id).await?);
    Ok(details)
}

/// The live teams the caller sees.
pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<TeamDetails>, OpsError> {
    if !actor.reads_everything() && actor.user_id.is_none() {
        return Err(OpsError::Forbidden(
            "A key without a user may not list teams.".into(),
        ));
    }
    Ok(teams::list_live(pool)
        .await?
        .iter()
        .filter(|row| actor.sees_team(&row.team_id))
        .map(view)
        .collect())
}

/// A team admin changes its team's alias and metadata only: the budget, limits, models and
/// blocking that bind the team are an admin's.
fn refuse_admin_only_fields(input: &TeamUpdate) -> Result<(), OpsError> {
    let given = [
        ("organization_id", input.organization_id.is_some()),
        ("models", input.models.is_some()),
        ("blocked", input.blocked.is_some()),
        ("max_budget", input.budget.max_budget.is_some()),
        ("soft_budget", input.budget.soft_budget.is_some()),
        ("budget_duration", input.budget.budget_duration.is_some()),
        ("rpm_limit", input.limits.rpm_limit.is_some()),
        ("tpm_limit", input.limits.tpm_limit.is_some()),
        (
            "max_parallel_requests",
            input.limits.max_parallel_requests.is_some(),
        ),
    ];
    match given.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(OpsError::Forbidden(format!(
            "Only an admin may change a team's `{field}`; a team admin may change its \
             `team_alias` and `metadata`."
        ))),
        None => Ok(()),
    }
}

pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    input: TeamUpdate,
) -> Result<TeamDetails, OpsError> {
    refuse_unenforced(&input.other)?;
    actor.require_manages_team(&input.team_id, "change this team")?;
    if !actor.is_admin() {
        refuse_admin_only_fields(&input)?;
    }
    let not_found = || OpsError::NotFound(format!("Team `{}` not found.", input.team_id));
    let mut transaction = pool.begin().await?;
    teams::lock(&mut transaction, &input.team_id).await?;
    let current = teams::find(&mut *transaction, &input.team_id)
        .await?
        .filter(|row| row.deleted_at.is_none())
        .ok_or_else(not_found)?;
    let budget = input.budget.update_of(&current.budget)?;
    if let Some(organization_id) = input
        .organization_id
        .as_ref()
        .or(current.organization_id.as_ref())
    {
        let models = input.models.as_ref().unwrap_or(&current.models);
        check_within_organization(pool, catalog, organization_id, models).await?;
    }
    let change = TeamFields {
        team_alias: input.team_alias.clone(),
        organization_id: input.organization_id.clone(),
        models: input.models.clone(),
        blocked: input.blocked,
        metadata: metadata_object(input.metadata.clone())?,
        budget,
        limits: input.limits.without_model_limits("teams")?,
    };
    let row = teams::update(&mut transaction, &input.team_id, change)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let details = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "team.update",
            target_type: "team",
            target_id: &row.team_id,
            before: snapshot(&view(&current)),
            after: snapshot(&details),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(details)
}

/// Deletes teams and revokes their keys; the ids deleted.
pub async fn delete(
    pool: &PgPool,
    actor: &Actor,
    team_ids: &[String],
) -> Result<Vec<String>, OpsError> {
    actor.require_admin("change this")?;
    if team_ids.is_empty() {
        return Err(OpsError::conflict(
            "Pass the `team_ids` to delete.",
            "team_ids",
        ));
    }
    let mut transaction = pool.begin().await?;
    let deleted = teams::delete(&mut transaction, team_ids).await?;
    if deleted.is_empty() {
        return Err(OpsError::NotFound("None of those teams exist.".into()));
    }
    for team_id in &deleted {
        record(
            &mut transaction,
            actor,
            Change {
                action: "team.delete",
                target_type: "team",
                target_id: team_id,
                before: None,
                after: Some(json!({ "deleted": true, "keys_revoked": true })),
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(deleted)
}

/// Blocks a team (every key of it refused, here at once and within a second elsewhere) or
/// unblocks it.
pub async fn set_blocked(
    pool: &PgPool,
    actor: &Actor,
    team_id: &str,
    blocked: bool,
) -> Result<TeamDetails, OpsError> {
    actor.require_admin("change this")?;
    let mut transaction = pool.begin().await?;
    let change = TeamFields {
        blocked: Some(blocked),
        ..TeamFields::default()
    };
    let row = teams::update(&mut transaction, team_id, change)
        .await
        .map_err(refused)?
        .ok_or_else(|| OpsError::NotFound(format!("Team `{team_id}` not found.")))?;
    record(
        &mut transaction,
        actor,
        Change {
            action: if blocked {
                "team.block"
            } else {
                "team.unblock"
            },
            target_type: "team",
            target_id: &row.team_id,
            before: Some(json!({ "blocked": !blocked })),
            after: Some(json!({ "blocked": blocked })),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(view(&row))
}
