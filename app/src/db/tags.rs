//! Tags: named labels a request carries (its own or its key's). A tag made here has a budget
//! (`tag:<name>`) that every request carrying it counts against, whichever key sends it.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budgets::{self, BudgetLimits};
use crate::db::error::DbError;
use crate::db::record::keyed_record;
use crate::model::subject::BudgetSubject;

macro_rules! tag_select {
    () => {
        "SELECT t.name, t.description, t.metadata, t.created_by, t.created_at, t.updated_at, \
           b.max_micros AS max_budget_micros, b.soft_micros AS soft_budget_micros, \
           b.duration AS budget_duration, b.resets_at AS budget_reset_at, \
           COALESCE(b.spend_micros, 0) AS spend_micros \
         FROM tags AS t \
         LEFT JOIN budget_counters AS b ON b.subject = 'tag:' || t.name "
    };
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TagRow {
    pub name: String,
    pub description: Option<String>,
    pub metadata: serde_json::Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub max_budget_micros: Option<i64>,
    pub soft_budget_micros: Option<i64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<OffsetDateTime>,
    pub spend_micros: i64,
}

/// What `/tag/new` asks for.
#[derive(Debug, Clone, Default)]
pub struct TagSpec {
    pub name: String,
    pub description: Option<String>,
    pub metadata: serde_json::Value,
    pub budget: BudgetLimits,
    pub created_by: String,
}

/// What `/tag/update` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TagChange {
    pub description: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
}

keyed_record! {
    row: TagRow,
    select: concat!(tag_select!(), "WHERE t.name = $1"),
    lock: "SELECT 1 FROM tags WHERE name = $1 FOR UPDATE",
}

pub async fn create(transaction: &mut PgConnection, spec: TagSpec) -> Result<TagRow, DbError> {
    sqlx::query(
        "INSERT INTO tags (name, description, metadata, created_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(&spec.metadata)
    .bind(&spec.created_by)
    .execute(&mut *transaction)
    .await?;
    budgets::set_limits(
        &mut *transaction,
        &BudgetSubject::tag(&spec.name).to_string(),
        &spec.budget,
    )
    .await?;
    let row = find_in(&mut *transaction, &spec.name)
        .await?
        .ok_or(DbError::Database(sqlx::Error::RowNotFound))?;
    Ok(row)
}

/// Tags by name; every tag when `names` is `None`.
pub async fn list(pool: &PgPool, names: Option<&[String]>) -> Result<Vec<TagRow>, sqlx::Error> {
    let query = concat!(
        tag_select!(),
        "WHERE $1::text[] IS NULL OR t.name = ANY($1) ORDER BY t.name"
    );
    sqlx::query_as(query).bind(names).fetch_all(pool).await
}

/// Applies a change; `None` when there is no such tag.
pub async fn update(
    transaction: &mut PgConnection,
    name: &str,
    change: TagChange,
) -> Result<Option<TagRow>, DbError> {
    let updated = sqlx::query(
        "UPDATE tags SET description = COALESCE($2, description), \
         metadata = COALESCE($3, metadata), updated_at = now() WHERE name = $1",
    )
    .bind(name)
    .bind(change.description)
    .bind(change.metadata)
    .execute(&mut *transaction)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    if let Some(budget) = &change.budget {
        budgets::set_limits(
            &mut *transaction,
            &BudgetSubject::tag(name).to_string(),
            budget,
        )
        .await?;
    }
    let row = find_in(&mut *transaction, name).await?;
    Ok(row)
}

/// Deletes tags with their budgets (spend rows keep the tag); returns the names deleted.
pub async fn delete(
    transaction: &mut PgConnection,
    names: &[String],
) -> Result<Vec<String>, DbError> {
    let deleted: Vec<String> =
        sqlx::query_scalar("DELETE FROM tags WHERE name = ANY($1) RETURNING name")
            .bind(names)
            .fetch_all(&mut *transaction)
            .await?;
    let subjects: Vec<String> = deleted
        .iter()
        .map(|name| BudgetSubject::tag(name).to_string())
        .collect();
    budgets::forget(&mut *transaction, &subjects).await?;
    Ok(deleted)
}
