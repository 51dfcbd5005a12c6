//! Organizations: teams belong to them, and their budget (`org:<organization_id>`) binds every
//! key of every team in them. An organization with live teams cannot be deleted.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::budget_state::{budget_columns, BudgetState};
use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;
use crate::db::record::{inserted, keyed_record, release_dependents, Dependents};
use crate::model::subject::BudgetSubject;

macro_rules! organization_select {
    () => {
        concat!(
            "SELECT o.organization_id, o.organization_alias, o.models, o.metadata, o.created_by, \
             o.created_at, o.budget_id, \
             (SELECT count(*) FROM teams AS t \
              WHERE t.organization_id = o.organization_id AND t.deleted_at IS NULL) AS teams, ",
            budget_columns!(),
            " FROM organizations AS o \
             LEFT JOIN budget_counters AS b ON b.subject = 'org:' || o.organization_id "
        )
    };
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OrganizationRow {
    pub organization_id: String,
    pub organization_alias: String,
    pub models: Vec<String>,
    pub metadata: serde_json::Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    /// The named budget whose limits it has (`/budget/*`).
    pub budget_id: Option<String>,
    #[sqlx(flatten)]
    pub budget: BudgetState,
    /// Live teams in the organization.
    pub teams: i64,
}

/// An organization's fields as `/organization/new` sets them and `/organization/update` changes them; `None` is the
/// default on creation and unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct OrganizationFields {
    pub organization_alias: Option<String>,
    pub models: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
    /// `Some(Some(id))`: take a named budget's limits instead; `Some(None)`: `budget` is its own.
    pub budget_link: Option<Option<String>>,
}

keyed_record! {
    row: OrganizationRow,
    select: concat!(organization_select!(), "WHERE o.organization_id = $1"),
    lock: "SELECT 1 FROM organizations WHERE organization_id = $1 FOR UPDATE",
    budget: BudgetSubject::organization,
    delete: "DELETE FROM organizations WHERE organization_id = ANY($1) \
             RETURNING organization_id",
}

/// Creates an organization, `organization_id` or a new UUID, in the caller's transaction.
/// `UnknownReference`: no such named budget.
pub async fn create(
    transaction: &mut PgConnection,
    organization_id: Option<String>,
    fields: OrganizationFields,
    created_by: &str,
) -> Result<OrganizationRow, DbError> {
    let organization_id = organization_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let budget_id = fields.budget_link.flatten();
    let insert = sqlx::query(
        "INSERT INTO organizations (organization_id, organization_alias, models, metadata, \
         created_by, budget_id) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&organization_id)
    .bind(fields.organization_alias)
    .bind(fields.models.unwrap_or_default())
    .bind(fields.metadata.unwrap_or_else(|| serde_json::json!({})))
    .bind(created_by)
    .bind(budget_id.clone());
    let budget = fields.budget.as_ref();
    inserted(
        write_with_budget(
            transaction,
            &organization_id,
            insert,
            budget_id.as_deref(),
            budget,
        )
        .await?,
    )
}

pub async fn list(pool: &PgPool) -> Result<Vec<OrganizationRow>, sqlx::Error> {
    let query = concat!(
        organization_select!(),
        "ORDER BY o.organization_alias, o.organization_id"
    );
    sqlx::query_as(query).fetch_all(pool).await
}

/// Applies a change in the caller's transaction; `None` when there is no such organization.
pub async fn update(
    transaction: &mut PgConnection,
    organization_id: &str,
    change: OrganizationFields,
) -> Result<Option<OrganizationRow>, DbError> {
    let budget_id = change.budget_link.clone().flatten();
    let update = sqlx::query(
        "UPDATE organizations SET organization_alias = COALESCE($2, organization_alias), \
         models = COALESCE($3, models), metadata = COALESCE($4, metadata), \
         budget_id = CASE WHEN $5 THEN $6 ELSE budget_id END \
         WHERE organization_id = $1",
    )
    .bind(organization_id)
    .bind(change.organization_alias)
    .bind(change.models)
    .bind(change.metadata)
    .bind(change.budget_link.is_some())
    .bind(budget_id.clone());
    write_with_budget(
        transaction,
        organization_id,
        update,
        budget_id.as_deref(),
        change.budget.as_ref(),
    )
    .await
}

/// Deletes organizations without live teams (deleted teams let go of them), with their budgets,
/// in the caller's transaction. Returns the ids deleted; `InUse` when one has live teams.
pub async fn delete(
    transaction: &mut PgConnection,
    organization_ids: &[String],
) -> Result<Vec<String>, DbError> {
    let teams = Dependents {
        lock: "SELECT 1 FROM organizations WHERE organization_id = ANY($1) FOR UPDATE",
        count_live: "SELECT count(*) FROM teams \
                     WHERE organization_id = ANY($1) AND deleted_at IS NULL",
        release: "UPDATE teams SET organization_id = NULL WHERE organization_id = ANY($1)",
    };
    release_dependents(transaction, organization_ids, &teams).await?;
    delete_with_budgets(transaction, organization_ids).await
}
