//! Projects: cost-attribution units keys belong to (`project_id` on `/key/generate`); a
//! project's budget binds its keys and its models bound theirs. Admins and the admins of a
//! project's team change it (within the team's models and budget); the team's members, its own
//! keys and roles that read everything read it; only admins delete.

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::error::DbError;
use crate::db::keys::RateLimits;
use crate::db::projects::{self, ProjectFields, ProjectRow};
use crate::model::identity::metadata_object;
use crate::model::invalid::text_length;
use crate::model::views::ProjectView;
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::team_scope::{check_within_team, AskedOfTeam};
use crate::ops::{rfc3339, Actor, Catalog, OpsError};

/// `/project/new`. Fields outside these are refused rather than ignored: LiteLLM's per-project
/// rate limits, guardrails and tags are not enforced here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub project_id: Option<String>,
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub metadata: Option<Value>,
}

/// `/project/update`: the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    pub project_id: String,
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub models: Option<Vec<String>>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub metadata: Option<Value>,
}

fn refused(error: DbError) -> OpsError {
    match error {
        DbError::Duplicate => {
            OpsError::conflict("a project with that project_id exists.", "project_id")
        }
        DbError::UnknownReference => {
            OpsError::conflict("no live team with that team_id exists.", "team_id")
        }
        DbError::InUse => OpsError::conflict(
            "the project still has keys; delete them first.",
            "project_ids",
        ),
        DbError::Database(error) => OpsError::Database(error),
    }
}

pub fn view(row: &ProjectRow) -> ProjectView {
    ProjectView {
        project_id: row.project_id.clone(),
        project_alias: row.project_alias.clone(),
        description: row.description.clone(),
        team_id: row.team_id.clone(),
        models: row.models.clone(),
        metadata: row.metadata.clone(),
        budget: budget_view(&row.budget),
        keys: row.keys,
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

/// A team admin's project stays within its team's models and budget.
async fn check_team_share(
    pool: &PgPool,
    catalog: &dyn Catalog,
    actor: &Actor,
    team_id: Option<&str>,
    models: Option<&[String]>,
    max_budget_micros: Option<i64>,
) -> Result<(), OpsError> {
    if actor.is_admin() {
        return Ok(());
    }
    let team_id = team_id.ok_or_else(|| {
        OpsError::Forbidden(
            "Only an admin manages projects outside a team; pass the `team_id` you administer."
                .into(),
        )
    })?;
    actor.require_manages_team(team_id, "manage projects of this team")?;
    let asked = AskedOfTeam {
        models,
        max_budget_micros,
        limits: &RateLimits::default(),
    };
    check_within_team(pool, catalog, team_id, &asked).await
}

/// Reads the project: roles that read everything, members of its team, and its own keys.
fn sees(actor: &Actor, row: &ProjectRow) -> bool {
    actor.reads_everything()
        || row
            .team_id
            .as_deref()
            .is_some_and(|team_id| actor.sees_team(team_id))
        || actor.key_project_id.as_deref() == Some(row.project_id.as_str())
}

pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    input: NewProject,
) -> Result<ProjectView, OpsError> {
    if let Some(project_id) = &input.project_id {
        text_length(project_id.trim(), "project_id", 1, 200)?;
    }
    let budget = BudgetFields {
        max_budget: input.max_budget,
        soft_budget: input.soft_budget,
        budget_duration: input.budget_duration,
    }
    .limits()?;
    check_team_share(
        pool,
        catalog,
        actor,
        input.team_id.as_deref(),
        Some(&input.models),
        budget.max_micros,
    )
    .await?;
    let fields = ProjectFields {
        project_alias: input.project_alias,
        description: input.description,
        models: Some(input.models),
        metadata: metadata_object(input.metadata)?,
        budget: Some(budget),
    };
    let mut transaction = pool.begin().await?;
    let team_id = input.team_id.as_deref();
    let row = projects::create(
        &mut transaction,
        input.project_id,
        team_id,
        fields,
        &actor.name,
    )
    .await
    .map_err(refused)?;
    let details = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "project.new",
            target_type: "project",
            target_id: &row.project_id,
            before: None,
            after: snapshot(&details),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(details)
}

/// Whether another project exists is not told to a caller who may not read it.
pub async fn find(pool: &PgPool, actor: &Actor, project_id: &str) -> Result<ProjectView, OpsError> {
    match projects::find(pool, project_id).await? {
        Some(row) if sees(actor, &row) => Ok(view(&row)),
        None if actor.reads_everything() => Err(OpsError::NotFound(format!(
            "Project `{project_id}` not found."
        ))),
        _ => Err(OpsError::Forbidden(
            "Your role may not read this project.".into(),
        )),
    }
}

/// Every project for roles that read everything; otherwise those of the caller's teams.
pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<ProjectView>, OpsError> {
    let rows = if actor.reads_everything() {
        projects::list(pool, None).await?
    } else if actor.user_id.is_some() {
        let teams: Vec<String> = actor.member_of.union(&actor.admin_of).cloned().collect();
        projects::list(pool, Some(&teams)).await?
    } else {
        return Err(OpsError::Forbidden(
            "A key without a user may not list projects.".into(),
        ));
    };
    Ok(rows.iter().map(view).collect())
}

pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    input: ProjectUpdate,
) -> Result<ProjectView, OpsError> {
    let not_found = || OpsError::NotFound("Project not found.".into());
    let mut transaction = pool.begin().await?;
    projects::lock(&mut transaction, &input.project_id).await?;
    let current = projects::find(&mut *transaction, &input.project_id)
        .await?
        .ok_or_else(not_found)?;
    let budget = BudgetFields {
        max_budget: input.max_budget,
        soft_budget: input.soft_budget,
        budget_duration: input.budget_duration,
    }
    .update_of(&current.budget)?;
    check_team_share(
        pool,
        catalog,
        actor,
        current.team_id.as_deref(),
        input.models.as_deref(),
        budget.as_ref().and_then(|budget| budget.max_micros),
    )
    .await?;
    let change = ProjectFields {
        project_alias: input.project_alias,
        description: input.description,
        models: input.models,
        metadata: metadata_object(input.metadata)?,
        budget,
    };
    let row = projects::update(&mut transaction, &input.project_id, change)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let details = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "project.update",
            target_type: "project",
            target_id: &row.project_id,
            before: snapshot(&view(&current)),
            after: snapshot(&details),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(details)
}

/// Deletes projects that have no live keys: admins only.
pub async fn delete(
    pool: &PgPool,
    actor: &Actor,
    project_ids: &[String],
) -> Result<Vec<String>, OpsError> {
    actor.require_admin("change this")?;
    if project_ids.is_empty() {
        return Err(OpsError::conflict(
            "Pass the `project_ids` to delete.",
            "project_ids",
        ));
    }
    let mut transaction = pool.begin().await?;
    let deleted = projects::delete(&mut transaction, project_ids)
        .await
        .map_err(refused)?;
    if deleted.is_empty() {
        return Err(OpsError::NotFound("None of those projects exist.".into()));
    }
    for project_id in &deleted {
        record(
            &mut transaction,
            actor,
            Change {
                action: "project.delete",
                target_type: "project",
                target_id: project_id,
                before: None,
                after: Some(json!({ "deleted": true })),
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(deleted)
}
