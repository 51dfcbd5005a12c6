//! End users (LiteLLM's customers, named by a request's `user` field): blocked or not, and their
//! own budget (`end_user:<user_id>`) that every request naming them counts against.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budget_state::{budget_columns, BudgetState};
use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;
use crate::db::record::{inserted, keyed_record};
use crate::model::subject::BudgetSubject;

macro_rules! end_user_select {
    () => {
        concat!(
            "SELECT e.user_id, e.alias, e.blocked, e.metadata, e.created_by, e.created_at, \
             e.budget_id, ",
            budget_columns!(),
            " FROM end_users AS e \
             LEFT JOIN budget_counters AS b ON b.subject = 'end_user:' || e.user_id "
        )
    };
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EndUserRow {
    pub user_id: String,
    pub alias: Option<String>,
    pub blocked: bool,
    pub metadata: serde_json::Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    /// The named budget whose limits it has (`/budget/*`).
    pub budget_id: Option<String>,
    #[sqlx(flatten)]
    pub budget: BudgetState,
}

/// An end user's fields as `/customer/new` sets them and `/customer/update` changes them; `None` is the
/// default on creation and unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct EndUserFields {
    pub alias: Option<String>,
    pub blocked: Option<bool>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
    /// `Some(Some(id))`: take a named budget's limits instead; `Some(None)`: `budget` is its own.
    pub budget_link: Option<Option<String>>,
}

keyed_record! {
    row: EndUserRow,
    select: concat!(end_user_select!(), "WHERE e.user_id = $1"),
    lock: "SELECT 1 FROM end_users WHERE user_id = $1 FOR UPDATE",
    budget: BudgetSubject::end_user,
    delete: "DELETE FROM end_users WHERE user_id = ANY($1) RETURNING user_id",
}

/// Creates an end user in the caller's transaction. `UnknownReference`: no such named budget.
pub async fn create(
    transaction: &mut PgConnection,
    user_id: &str,
    fields: EndUserFields,
    created_by: &str,
) -> Result<EndUserRow, DbError> {
    let budget_id = fields.budget_link.flatten();
    let insert = sqlx::query(
        "INSERT INTO end_users (user_id, alias, blocked, metadata, created_by, budget_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(fields.alias)
    .bind(fields.blocked.unwrap_or(false))
    .bind(fields.metadata.unwrap_or_else(|| serde_json::json!({})))
    .bind(created_by)
    .bind(budget_id.clone());
    let budget = fields.budget.as_ref();
    inserted(write_with_budget(transaction, user_id, insert, budget_id.as_deref(), budget).await?)
}

/// End users by id, `limit` from the one after `after` (keyset paging).
pub async fn list_page(
    pool: &PgPool,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<EndUserRow>, sqlx::Error> {
    let query = concat!(
        end_user_select!(),
        "WHERE ($1::text IS NULL OR e.user_id > $1) ORDER BY e.user_id LIMIT $2"
    );
    sqlx::query_as(query)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Applies a change; `None` when there is no such end user.
pub async fn update(
    transaction: &mut PgConnection,
    user_id: &str,
    change: EndUserFields,
) -> Result<Option<EndUserRow>, DbError> {
    let budget_id = change.budget_link.clone().flatten();
    let update = sqlx::query(
        "UPDATE end_users SET alias = COALESCE($2, alias), blocked = COALESCE($3, blocked), \
         metadata = COALESCE($4, metadata), \
         budget_id = CASE WHEN $5 THEN $6 ELSE budget_id END WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(change.alias)
    .bind(change.blocked)
    .bind(change.metadata)
    .bind(change.budget_link.is_some())
    .bind(budget_id.clone());
    write_with_budget(
        transaction,
        user_id,
        update,
        budget_id.as_deref(),
        change.budget.as_ref(),
    )
    .await
}

/// Blocks or unblocks end users; returns those that exist.
pub async fn set_blocked(
    transaction: &mut PgConnection,
    user_ids: &[String],
    blocked: bool,
) -> Result<Vec<String>, DbError> {
    sqlx::query_scalar(
        "UPDATE end_users SET blocked = $2 WHERE user_id = ANY($1) RETURNING user_id",
    )
    .bind(user_ids)
    .bind(blocked)
    .fetch_all(&mut *transaction)
    .await
    .map_err(DbError::from)
}

/// Deletes end users with their budgets; returns those deleted. Their spend rows stay.
pub async fn delete(
    transaction: &mut PgConnection,
    user_ids: &[String],
) -> Result<Vec<String>, DbError> {
    delete_with_budgets(transaction, user_ids).await
}
