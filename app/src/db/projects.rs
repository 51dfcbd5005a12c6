//! Projects: a cost-attribution unit keys belong to, optionally inside one team. A project's
//! budget (`project:<project_id>`) binds every key in it and its models bound theirs. A project
//! with live keys cannot be deleted.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budgets::{self, BudgetLimits};
use crate::db::holds;
use crate::db::record::keyed_record;
use crate::model::subject::BudgetSubject;

macro_rules! project_select {
    () => {
        "SELECT p.project_id, p.project_alias, p.description, p.team_id, p.models, p.metadata, \
           p.created_by, p.created_at, p.updated_at, \
           b.max_micros AS max_budget_micros, b.soft_micros AS soft_budget_micros, \
           b.duration AS budget_duration, b.resets_at AS budget_reset_at, \
           COALESCE(b.spend_micros, 0) AS spend_micros, \
           (SELECT count(*) FROM virtual_keys AS k \
            WHERE k.project_id = p.project_id AND k.revoked_at IS NULL) AS keys \
         FROM projects AS p \
         LEFT JOIN budget_counters AS b ON b.subject = 'project:' || p.project_id "
    };
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProjectRow {
    pub project_id: String,
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<String>,
    pub models: Vec<String>,
    pub metadata: serde_json::Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub max_budget_micros: Option<i64>,
    pub soft_budget_micros: Option<i64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<OffsetDateTime>,
    pub spend_micros: i64,
    /// Live keys in the project.
    pub keys: i64,
}

/// What `/project/new` asks for.
#[derive(Debug, Clone, Default)]
pub struct ProjectSpec {
    /// A caller-chosen id, or `None` for a new UUID.
    pub project_id: Option<String>,
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<String>,
    pub models: Vec<String>,
    pub metadata: serde_json::Value,
    pub budget: BudgetLimits,
    pub created_by: String,
}

/// What `/project/update` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectChange {
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub models: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("a project with that project_id exists")]
    Duplicate,
    #[error("no live team with that team_id exists")]
    UnknownTeam,
    #[error("the project still has keys; delete them first")]
    HasKeys,
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for ProjectError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => ProjectError::Duplicate,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => ProjectError::UnknownTeam,
            _ => ProjectError::Database(error),
        }
    }
}

keyed_record! {
    row: ProjectRow,
    select: concat!(project_select!(), "WHERE p.project_id = $1"),
    lock: "SELECT 1 FROM projects WHERE project_id = $1 FOR UPDATE",
}

pub async fn create(
    connection: &mut PgConnection,
    spec: ProjectSpec,
) -> Result<ProjectRow, ProjectError> {
    let project_id = spec
        .project_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Some(team_id) = &spec.team_id {
        if !holds::live_team(&mut *connection, team_id).await? {
            return Err(ProjectError::UnknownTeam);
        }
    }
    sqlx::query(
        "INSERT INTO projects (project_id, project_alias, description, team_id, models, \
         metadata, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&project_id)
    .bind(&spec.project_alias)
    .bind(&spec.description)
    .bind(&spec.team_id)
    .bind(&spec.models)
    .bind(&spec.metadata)
    .bind(&spec.created_by)
    .execute(&mut *connection)
    .await?;
    budgets::set_limits(
        &mut *connection,
        &BudgetSubject::project(&project_id).to_string(),
        &spec.budget,
    )
    .await?;
    let row = find_in(&mut *connection, &project_id)
        .await?
        .ok_or(ProjectError::Database(sqlx::Error::RowNotFound))?;
    Ok(row)
}

/// Projects, of the given teams only when `teams` is `Some`.
pub async fn list(pool: &PgPool, teams: Option<&[String]>) -> Result<Vec<ProjectRow>, sqlx::Error> {
    let query = concat!(
        project_select!(),
        "WHERE $1::text[] IS NULL OR p.team_id = ANY($1) ORDER BY p.project_alias, p.project_id"
    );
    sqlx::query_as(query).bind(teams).fetch_all(pool).await
}

/// Applies a change; `None` when there is no such project.
pub async fn update(
    connection: &mut PgConnection,
    project_id: &str,
    change: ProjectChange,
) -> Result<Option<ProjectRow>, ProjectError> {
    let updated = sqlx::query(
        "UPDATE projects SET project_alias = COALESCE($2, project_alias), \
         description = COALESCE($3, description), models = COALESCE($4, models), \
         metadata = COALESCE($5, metadata), updated_at = now() \
         WHERE project_id = $1",
    )
    .bind(project_id)
    .bind(change.project_alias)
    .bind(change.description)
    .bind(change.models)
    .bind(change.metadata)
    .execute(&mut *connection)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    if let Some(budget) = &change.budget {
        budgets::set_limits(
            &mut *connection,
            &BudgetSubject::project(project_id).to_string(),
            budget,
        )
        .await?;
    }
    let row = find_in(&mut *connection, project_id).await?;
    Ok(row)
}

/// Deletes projects without live keys (revoked keys let go of them, their spend rows keep the
/// project's id), with their budgets. Returns the ids deleted.
pub async fn delete(
    connection: &mut PgConnection,
    project_ids: &[String],
) -> Result<Vec<String>, ProjectError> {
    // Locked first: a key being created in one of them waits, then finds it gone.
    sqlx::query("SELECT 1 FROM projects WHERE project_id = ANY($1) FOR UPDATE")
        .bind(project_ids)
        .execute(&mut *connection)
        .await?;
    let with_keys: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM virtual_keys WHERE project_id = ANY($1) AND revoked_at IS NULL",
    )
    .bind(project_ids)
    .fetch_one(&mut *connection)
    .await?;
    if with_keys > 0 {
        return Err(ProjectError::HasKeys);
    }
    sqlx::query("UPDATE virtual_keys SET project_id = NULL WHERE project_id = ANY($1)")
        .bind(project_ids)
        .execute(&mut *connection)
        .await?;
    let deleted: Vec<String> =
        sqlx::query_scalar("DELETE FROM projects WHERE project_id = ANY($1) RETURNING project_id")
            .bind(project_ids)
            .fetch_all(&mut *connection)
            .await?;
    let subjects: Vec<String> = deleted
        .iter()
        .map(|id| BudgetSubject::project(id).to_string())
        .collect();
    budgets::forget(&mut *connection, &subjects).await?;
    Ok(deleted)
}
