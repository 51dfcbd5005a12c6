//! Teams: keys belong to them, their budget binds every key of the team together. A deleted team
//! keeps its row for attribution; its keys are revoked with it.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budget_state::{budget_columns, BudgetState};
use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;
use crate::db::keys::RateLimits;
use crate::db::record::{inserted, keyed_record};
use crate::model::subject::BudgetSubject;

/// Columns selected for a team, in `TeamRow` order, and the tables they come from (macros so
/// queries stay static strings).
macro_rules! team_columns {
    () => {
        concat!(
            "t.team_id, t.team_alias, t.organization_id, t.models, t.blocked, t.metadata, \
             t.created_by, t.created_at, t.deleted_at, t.rpm_limit, t.tpm_limit, \
             t.max_parallel_requests, ",
            budget_columns!()
        )
    };
}
macro_rules! team_tables {
    () => {
        " FROM teams AS t LEFT JOIN budget_counters AS b ON b.subject = 'team:' || t.team_id"
    };
}
/// The select of a team row, to which a query adds its `WHERE`.
macro_rules! team_select {
    () => {
        concat!("SELECT ", team_columns!(), team_tables!())
    };
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TeamRow {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub organization_id: Option<String>,
    pub models: Vec<String>,
    pub blocked: bool,
    pub metadata: serde_json::Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    #[sqlx(flatten)]
    pub budget: BudgetState,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
}

keyed_record! {
    row: TeamRow,
    select: concat!(team_select!(), " WHERE t.team_id = $1"),
    lock: "SELECT 1 FROM teams WHERE team_id = $1 FOR UPDATE",
    budget: BudgetSubject::team,
}

/// Creates a team, `team_id` or a new UUID, in the caller's transaction.
pub async fn create(
    connection: &mut PgConnection,
    team_id: Option<String>,
    fields: TeamFields,
    created_by: &str,
) -> Result<TeamRow, DbError> {
    let team_id = team_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let insert = sqlx::query(
        "INSERT INTO teams (team_id, team_alias, models, blocked, metadata, created_by, \
         rpm_limit, tpm_limit, max_parallel_requests, organization_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&team_id)
    .bind(fields.team_alias.filter(|alias| !alias.is_empty()))
    .bind(fields.models.unwrap_or_default())
    .bind(fields.blocked.unwrap_or(false))
    .bind(fields.metadata.unwrap_or_else(|| serde_json::json!({})))
    .bind(created_by)
    .bind(fields.limits.rpm_limit)
    .bind(fields.limits.tpm_limit)
    .bind(fields.limits.max_parallel_requests)
    .bind(fields.organization_id);
    inserted(write_with_budget(connection, &team_id, insert, None, fields.budget.as_ref()).await?)
}

/// Teams not deleted, by alias.
pub async fn list_live(pool: &PgPool) -> Result<Vec<TeamRow>, sqlx::Error> {
    let query = concat!(
        team_select!(),
        " WHERE t.deleted_at IS NULL ORDER BY t.team_alias NULLS LAST, t.team_id"
    );
    sqlx::query_as(query).fetch_all(pool).await
}

/// A team's fields as `/team/new` sets them and `/team/update` changes them; `None` is the
/// default on creation and unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct TeamFields {
    pub team_alias: Option<String>,
    pub organization_id: Option<String>,
    pub models: Option<Vec<String>>,
    pub blocked: Option<bool>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
    /// Each limit given replaces the team's.
    pub limits: RateLimits,
}

/// Applies a change to a live team; `None` when there is no such team.
pub async fn update(
    connection: &mut PgConnection,
    team_id: &str,
    change: TeamFields,
) -> Result<Option<TeamRow>, DbError> {
    let update = sqlx::query(
        "UPDATE teams SET team_alias = COALESCE($2, team_alias), models = COALESCE($3, models), \
         blocked = COALESCE($4, blocked), metadata = COALESCE($5, metadata), \
         rpm_limit = COALESCE($6, rpm_limit), tpm_limit = COALESCE($7, tpm_limit), \
         max_parallel_requests = COALESCE($8, max_parallel_requests), \
         organization_id = COALESCE($9, organization_id) \
         WHERE team_id = $1 AND deleted_at IS NULL",
    )
    .bind(team_id)
    .bind(change.team_alias)
    .bind(change.models)
    .bind(change.blocked)
    .bind(change.metadata)
    .bind(change.limits.rpm_limit)
    .bind(change.limits.tpm_limit)
    .bind(change.limits.max_parallel_requests)
    .bind(change.organization_id);
    write_with_budget(connection, team_id, update, None, change.budget.as_ref()).await
}

/// Deletes teams: marks them deleted and revokes their keys, in one transaction. Returns the
/// ids actually deleted.
pub async fn delete(
    connection: &mut PgConnection,
    team_ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let deleted: Vec<String> = sqlx::query_scalar(
        "UPDATE teams SET deleted_at = now() \
         WHERE team_id = ANY($1) AND deleted_at IS NULL RETURNING team_id",
    )
    .bind(team_ids)
    .fetch_all(&mut *connection)
    .await?;
    sqlx::query(
        "UPDATE virtual_keys SET revoked_at = now() \
         WHERE team_id = ANY($1) AND revoked_at IS NULL",
    )
    .bind(&deleted)
    .execute(&mut *connection)
    .await?;
    Ok(deleted)
}

/// How many keys that are not revoked each live team has.
pub async fn key_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT team_id, count(*) FROM virtual_keys \
         WHERE team_id IS NOT NULL AND revoked_at IS NULL GROUP BY team_id",
    )
    .fetch_all(pool)
    .await
}
