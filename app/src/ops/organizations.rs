//! Organizations: admins create, change and delete them; roles that read everything read them.
//! An organization's budget binds every key of every team in it; its model list bounds its
//! teams' models.

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::error::DbError;
use crate::db::organizations::{self, OrganizationFields, OrganizationRow};
use crate::model::identity::metadata_object;
use crate::model::invalid::text_length;
use crate::model::views::OrganizationView;
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::{rfc3339, Actor, OpsError};

/// `/organization/new`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewOrganization {
    pub organization_id: Option<String>,
    pub organization_alias: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub budget_id: Option<String>,
    pub metadata: Option<Value>,
}

/// `/organization/update`: the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrganizationUpdate {
    pub organization_id: String,
    pub organization_alias: Option<String>,
    pub models: Option<Vec<String>>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub budget_id: Option<String>,
    pub metadata: Option<Value>,
}

fn refused(error: DbError) -> OpsError {
    match error {
        DbError::Duplicate => OpsError::conflict(
            "an organization with that organization_id exists",
            "organization_id",
        ),
        DbError::InUse => OpsError::conflict(
            "the organization still has teams; move or delete them first",
            "organization_ids",
        ),
        DbError::UnknownReference => {
            OpsError::conflict("no budget with that budget_id exists", "budget_id")
        }
        DbError::Database(error) => OpsError::Database(error),
    }
}

pub fn view(row: &OrganizationRow) -> OrganizationView {
    OrganizationView {
        organization_id: row.organization_id.clone(),
        organization_alias: row.organization_alias.clone(),
        models: row.models.clone(),
        metadata: row.metadata.clone(),
        budget: budget_view(&row.budget),
        budget_id: row.budget_id.clone(),
        teams: row.teams,
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
    }
}

pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    input: NewOrganization,
) -> Result<OrganizationView, OpsError> {
    actor.require_admin("change this")?;
    let alias = input.organization_alias.trim().to_string();
    text_length(&alias, "organization_alias", 1, 200)?;
    if let Some(id) = &input.organization_id {
        text_length(id.trim(), "organization_id", 1, 200)?;
    }
    let fields = OrganizationFields {
        organization_alias: Some(alias),
        models: Some(input.models),
        metadata: metadata_object(input.metadata)?,
        budget_link: input.budget.link(input.budget_id)?,
        budget: Some(input.budget.limits()?),
    };
    let mut transaction = pool.begin().await?;
    let row = organizations::create(&mut transaction, input.organization_id, fields, &actor.name)
        .await
        .map_err(refused)?;
    let view = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "organization.new",
            target_type: "organization",
            target_id: &row.organization_id,
            before: None,
            after: snapshot(&view),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(view)
}

pub async fn find(
    pool: &PgPool,
    actor: &Actor,
    organization_id: &str,
) -> Result<OrganizationView, OpsError> {
    actor.require_reads_everything("read organizations")?;
    organizations::find(pool, organization_id)
        .await?
        .map(|row| view(&row))
        .ok_or_else(|| OpsError::NotFound(format!("Organization `{organization_id}` not found.")))
}

pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<OrganizationView>, OpsError> {
    actor.require_reads_everything("list organizations")?;
    Ok(organizations::list(pool).await?.iter().map(view).collect())
}

pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    input: OrganizationUpdate,
) -> Result<OrganizationView, OpsError> {
    actor.require_admin("change this")?;
    let not_found = || OpsError::NotFound("Organization not found.".into());
    let mut transaction = pool.begin().await?;
    organizations::lock(&mut transaction, &input.organization_id).await?;
    let current = organizations::find(&mut *transaction, &input.organization_id)
        .await?
        .ok_or_else(not_found)?;
    let budget_link = input.budget.link(input.budget_id)?;
    let budget = input.budget.update_of(&current.budget)?;
    if let Some(alias) = &input.organization_alias {
        text_length(alias.trim(), "organization_alias", 1, 200)?;
    }
    let change = OrganizationFields {
        organization_alias: input
            .organization_alias
            .map(|alias| alias.trim().to_string()),
        models: input.models,
        metadata: metadata_object(input.metadata)?,
        budget,
        budget_link,
    };
    let row = organizations::update(&mut transaction, &input.organization_id, change)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let view = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "organization.update",
            target_type: "organization",
            target_id: &row.organization_id,
            before: snapshot(&self::view(&current)),
            after: snapshot(&view),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(view)
}

/// Deletes organizations that have no live teams; the ids deleted.
pub async fn delete(
    pool: &PgPool,
    actor: &Actor,
    organization_ids: &[String],
) -> Result<Vec<String>, OpsError> {
    actor.require_admin("change this")?;
    if organization_ids.is_empty() {
        return Err(OpsError::conflict(
            "Pass the `organization_ids` to delete.",
            "organization_ids",
        ));
    }
    let mut transaction = pool.begin().await?;
    let deleted = organizations::delete(&mut transaction, organization_ids)
        .await
        .map_err(refused)?;
    if deleted.is_empty() {
        return Err(OpsError::NotFound(
            "None of those organizations exist.".into(),
        ));
    }
    for organization_id in &deleted {
        record(
            &mut transaction,
            actor,
            Change {
                action: "organization.delete",
                target_type: "organization",
                target_id: organization_id,
                before: None,
                after: Some(json!({ "deleted": true })),
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(deleted)
}
