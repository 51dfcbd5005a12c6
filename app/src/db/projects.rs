//! Projects: a cost-attribution unit keys belong to, optionally inside one team. A project's
//! budget (`project:<project_id>`) binds every key in it and its models bound theirs. A project
//! with live keys cannot be deleted.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budget_state::{budget_columns, BudgetState};
use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;
use crate::db::holds;
use crate::db::record::{inserted, keyed_record, release_dependents, Dependents};
use crate::model::subject::BudgetSubject;

macro_rules! project_select {
    () => {
        concat!(
            "SELECT p.project_id, p.project_alias, p.description, p.team_id, p.models, \
             p.metadata, p.created_by, p.created_at, p.updated_at, \
             (SELECT count(*) FROM virtual_keys AS k \
              WHERE k.project_id = p.project_id AND k.revoked_at IS NULL) AS keys, ",
            budget_columns!(),
            " FROM projects AS p \
             LEFT JOIN budget_counters AS b ON b.subject = 'project:' || p.project_id "
        )
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
    #[sqlx(flatten)]
    pub budget: BudgetState,
    /// Live keys in the project.
    pub keys: i64,
}

/// A project's fields as `/project/new` sets them and `/project/update` changes them; `None` is the
/// default on creation and unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct ProjectFields {
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub models: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
}

keyed_record! {
    row: ProjectRow,
    select: concat!(project_select!(), "WHERE p.project_id = $1"),
    lock: "SELECT 1 FROM projects WHERE project_id = $1 FOR UPDATE",
    budget: BudgetSubject::project,
    delete: "DELETE FROM projects WHERE project_id = ANY($1) RETURNING project_id",
}

/// Creates a project, `project_id` or a new UUID, in `team_id` (held until the caller's
/// transaction ends; `UnknownReference` when it is not a live team) or in none.
pub async fn create(
    connection: &mut PgConnection,
    project_id: Option<String>,
    team_id: Option<&str>,
    fields: ProjectFields,
    created_by: &str,
) -> Result<ProjectRow, DbError> {
    let project_id = project_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Some(team_id) = team_id {
        if !holds::live_team(&mut *connection, team_id).await? {
            return Err(DbError::UnknownReference);
        }
    }
    let insert = sqlx::query(
        "INSERT INTO projects (project_id, project_alias, description, team_id, models, \
         metadata, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&project_id)
    .bind(fields.project_alias)
    .bind(fields.description)
    .bind(team_id)
    .bind(fields.models.unwrap_or_default())
    .bind(fields.metadata.unwrap_or_else(|| serde_json::json!({})))
    .bind(created_by);
    inserted(
        write_with_budget(
            connection,
            &project_id,
            insert,
            None,
            fields.budget.as_ref(),
        )
        .await?,
    )
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
    change: ProjectFields,
) -> Result<Option<ProjectRow>, DbError> {
    let update = sqlx::query(
        "UPDATE projects SET project_alias = COALESCE($2, project_alias), \
         description = COALESCE($3, description), models = COALESCE($4, models), \
         metadata = COALESCE($5, metadata), updated_at = now() \
         WHERE project_id = $1",
    )
    .bind(project_id)
    .bind(change.project_alias)
    .bind(change.description)
    .bind(change.models)
    .bind(change.metadata);
    write_with_budget(connection, project_id, update, None, change.budget.as_ref()).await
}

/// Deletes projects without live keys (revoked keys let go of them, their spend rows keep the
/// project's id), with their budgets. Returns the ids deleted.
pub async fn delete(
    connection: &mut PgConnection,
    project_ids: &[String],
) -> Result<Vec<String>, DbError> {
    let keys = Dependents {
        lock: "SELECT 1 FROM projects WHERE project_id = ANY($1) FOR UPDATE",
        count_live: "SELECT count(*) FROM virtual_keys \
                     WHERE project_id = ANY($1) AND revoked_at IS NULL",
        release: "UPDATE virtual_keys SET project_id = NULL WHERE project_id = ANY($1)",
    };
    release_dependents(connection, project_ids, &keys).await?;
    delete_with_budgets(connection, project_ids).await
}
