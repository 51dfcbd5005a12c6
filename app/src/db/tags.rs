//! Tags: named labels a request carries (its own or its key's). A tag made here has a budget
//! (`tag:<name>`) that every request carrying it counts against, whichever key sends it.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budget_state::{budget_columns, BudgetState};
use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;
use crate::db::record::{inserted, keyed_record};
use crate::model::subject::BudgetSubject;

macro_rules! tag_select {
    () => {
        concat!(
            "SELECT t.name, t.description, t.metadata, t.created_by, t.created_at, t.updated_at, ",
            budget_columns!(),
            " FROM tags AS t LEFT JOIN budget_counters AS b ON b.subject = 'tag:' || t.name "
        )
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
    #[sqlx(flatten)]
    pub budget: BudgetState,
}

/// A tag's fields as `/tag/new` sets them and `/tag/update` changes them; `None` is the
/// default on creation and unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct TagFields {
    pub description: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
}

keyed_record! {
    row: TagRow,
    select: concat!(tag_select!(), "WHERE t.name = $1"),
    lock: "SELECT 1 FROM tags WHERE name = $1 FOR UPDATE",
    budget: BudgetSubject::tag,
    delete: "DELETE FROM tags WHERE name = ANY($1) RETURNING name",
}

/// Creates a tag in the caller's transaction.
pub async fn create(
    transaction: &mut PgConnection,
    name: &str,
    fields: TagFields,
    created_by: &str,
) -> Result<TagRow, DbError> {
    let insert = sqlx::query(
        "INSERT INTO tags (name, description, metadata, created_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(name)
    .bind(fields.description)
    .bind(fields.metadata.unwrap_or_else(|| serde_json::json!({})))
    .bind(created_by);
    inserted(write_with_budget(transaction, name, insert, None, fields.budget.as_ref()).await?)
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
    change: TagFields,
) -> Result<Option<TagRow>, DbError> {
    let update = sqlx::query(
        "UPDATE tags SET description = COALESCE($2, description), \
         metadata = COALESCE($3, metadata), updated_at = now() WHERE name = $1",
    )
    .bind(name)
    .bind(change.description)
    .bind(change.metadata);
    write_with_budget(transaction, name, update, None, change.budget.as_ref()).await
}

/// Deletes tags with their budgets (spend rows keep the tag); returns the names deleted.
pub async fn delete(
    transaction: &mut PgConnection,
    names: &[String],
) -> Result<Vec<String>, DbError> {
    delete_with_budgets(transaction, names).await
}
