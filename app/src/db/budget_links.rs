//! How a write sets an entity's budget: its own limits, or those of the named budget it links
//! (`budget_id`), read under a share lock so they cannot change before the entity is in.

use sqlx::PgConnection;

use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;

#[derive(sqlx::FromRow)]
struct TemplateLimits {
    max_micros: Option<i64>,
    soft_micros: Option<i64>,
    duration: Option<String>,
    duration_seconds: Option<i64>,
}

/// The limits of a named budget, locked until the caller's transaction ends so they cannot
/// change before the entity linking to them is in; `None` when there is no such budget.
async fn linked_limits(
    connection: &mut sqlx::PgConnection,
    budget_id: &str,
) -> Result<Option<BudgetLimits>, sqlx::Error> {
    let row: Option<TemplateLimits> = sqlx::query_as(
        "SELECT max_micros, soft_micros, duration, duration_seconds FROM budget_templates \
         WHERE budget_id = $1 FOR SHARE",
    )
    .bind(budget_id)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|row| BudgetLimits {
        max_micros: row.max_micros,
        soft_micros: row.soft_micros,
        duration: row.duration.zip(row.duration_seconds),
    }))
}

/// Sets the budget of `subject`: the limits of the named budget `budget_id` when one is linked
/// (`UnknownReference` when there is none), else `own` when given.
pub async fn set_budget(
    connection: &mut PgConnection,
    subject: &str,
    budget_id: Option<&str>,
    own: Option<&BudgetLimits>,
) -> Result<(), DbError> {
    let limits = match budget_id {
        Some(budget_id) => linked_limits(&mut *connection, budget_id)
            .await?
            .ok_or(DbError::UnknownReference)?,
        None => match own {
            Some(limits) => limits.clone(),
            None => return Ok(()),
        },
    };
    crate::db::budgets::set_limits(connection, subject, &limits).await?;
    Ok(())
}
