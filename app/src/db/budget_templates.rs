//! Named budgets (LiteLLM's `/budget/*`): limits end users and organizations link to by
//! `budget_id`. A linked entity keeps its own spend in its own budget row; the named budget's
//! limits are copied to it when it links, and to every linked entity, in the same
//! transaction, when they change.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budgets::{self, BudgetLimits};
use crate::db::error::DbError;
use crate::db::record::keyed_record;
use crate::model::subject::BudgetSubject;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BudgetTemplateRow {
    pub budget_id: String,
    pub max_micros: Option<i64>,
    pub soft_micros: Option<i64>,
    pub duration: Option<String>,
    pub duration_seconds: Option<i64>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// End users and organizations linked to it.
    pub links: i64,
}

macro_rules! template_select {
    () => {
        "SELECT t.budget_id, t.max_micros, t.soft_micros, t.duration, t.duration_seconds, \
           t.created_by, t.created_at, t.updated_at, \
           (SELECT count(*) FROM end_users AS e WHERE e.budget_id = t.budget_id) \
           + (SELECT count(*) FROM organizations AS o WHERE o.budget_id = t.budget_id) AS links \
         FROM budget_templates AS t "
    };
}

keyed_record! {
    row: BudgetTemplateRow,
    select: concat!(template_select!(), "WHERE t.budget_id = $1"),
    lock: "SELECT 1 FROM budget_templates WHERE budget_id = $1 FOR UPDATE",
}

pub async fn create(
    transaction: &mut PgConnection,
    budget_id: &str,
    limits: &BudgetLimits,
    created_by: &str,
) -> Result<BudgetTemplateRow, DbError> {
    let (duration, seconds) = limits.duration.clone().unzip();
    sqlx::query(
        "INSERT INTO budget_templates (budget_id, max_micros, soft_micros, duration, \
         duration_seconds, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(budget_id)
    .bind(limits.max_micros)
    .bind(limits.soft_micros)
    .bind(duration)
    .bind(seconds)
    .bind(created_by)
    .execute(&mut *transaction)
    .await?;
    let row = find(&mut *transaction, budget_id)
        .await?
        .ok_or(DbError::Database(sqlx::Error::RowNotFound))?;
    Ok(row)
}

/// Named budgets by id; all of them when `ids` is `None`.
pub async fn list(
    pool: &PgPool,
    ids: Option<&[String]>,
) -> Result<Vec<BudgetTemplateRow>, sqlx::Error> {
    let query = concat!(
        template_select!(),
        "WHERE $1::text[] IS NULL OR t.budget_id = ANY($1) ORDER BY t.budget_id"
    );
    sqlx::query_as(query).bind(ids).fetch_all(pool).await
}

/// Sets a named budget's limits and every linked entity's; `None` when there is no such budget.
pub async fn update(
    transaction: &mut PgConnection,
    budget_id: &str,
    limits: &BudgetLimits,
) -> Result<Option<BudgetTemplateRow>, DbError> {
    let (duration, seconds) = limits.duration.clone().unzip();
    let updated: Option<String> = sqlx::query_scalar(
        "UPDATE budget_templates SET max_micros = $2, soft_micros = $3, duration = $4, \
         duration_seconds = $5, updated_at = now() WHERE budget_id = $1 RETURNING budget_id",
    )
    .bind(budget_id)
    .bind(limits.max_micros)
    .bind(limits.soft_micros)
    .bind(duration)
    .bind(seconds)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(budget_id) = updated else {
        return Ok(None);
    };
    let budget_id = budget_id.as_str();
    let end_users: Vec<String> =
        sqlx::query_scalar("SELECT user_id FROM end_users WHERE budget_id = $1 FOR UPDATE")
            .bind(budget_id)
            .fetch_all(&mut *transaction)
            .await?;
    let organizations: Vec<String> = sqlx::query_scalar(
        "SELECT organization_id FROM organizations WHERE budget_id = $1 FOR UPDATE",
    )
    .bind(budget_id)
    .fetch_all(&mut *transaction)
    .await?;
    let subjects = end_users
        .iter()
        .map(|id| BudgetSubject::end_user(id).to_string())
        .chain(
            organizations
                .iter()
                .map(|id| BudgetSubject::organization(id).to_string()),
        );
    for subject in subjects {
        budgets::set_limits(&mut *transaction, &subject, limits).await?;
    }
    let row = find(&mut *transaction, budget_id).await?;
    Ok(row)
}

/// Deletes a named budget nothing links to; `false` when there is no such budget.
pub async fn delete(transaction: &mut PgConnection, budget_id: &str) -> Result<bool, DbError> {
    match sqlx::query("DELETE FROM budget_templates WHERE budget_id = $1")
        .bind(budget_id)
        .execute(&mut *transaction)
        .await
    {
        Ok(done) => Ok(done.rows_affected() > 0),
        // End users or organizations still take its limits.
        Err(error) => Err(match DbError::from(error) {
            DbError::UnknownReference => DbError::InUse,
            other => other,
        }),
    }
}
