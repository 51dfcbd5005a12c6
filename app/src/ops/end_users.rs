//! End users (LiteLLM's customers), named by the `user` of requests: admins create, change,
//! block and delete them; roles that read everything read them. Each returns the ids it
//! changed, so that the caller can drop what its instance holds of them at once (the others
//! follow the database's notice).

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::end_users::{self, EndUserFields, EndUserRow};
use crate::db::error::DbError;
use crate::model::identity::metadata_object;
use crate::model::invalid::{text_length, Invalid, Problem};
use crate::model::views::EndUserView;
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::{rfc3339, Actor, OpsError};

/// `/customer/new`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewEndUser {
    pub user_id: String,
    pub alias: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub budget_id: Option<String>,
    pub metadata: Option<Value>,
}

/// `/customer/update`: the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndUserUpdate {
    pub user_id: String,
    pub alias: Option<String>,
    pub blocked: Option<bool>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub budget_id: Option<String>,
    pub metadata: Option<Value>,
}

/// Largest page of end users.
pub const MAX_PAGE: i64 = 1_000;

fn refused(error: DbError) -> OpsError {
    match error {
        DbError::Duplicate => OpsError::conflict("an end user with that user_id exists", "user_id"),
        DbError::UnknownReference => {
            OpsError::conflict("no budget with that budget_id exists", "budget_id")
        }
        other => OpsError::from(other),
    }
}

pub fn view(row: &EndUserRow) -> EndUserView {
    EndUserView {
        user_id: row.user_id.clone(),
        alias: row.alias.clone(),
        blocked: row.blocked,
        metadata: row.metadata.clone(),
        budget: budget_view(&row.budget),
        budget_id: row.budget_id.clone(),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
    }
}

pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    input: NewEndUser,
) -> Result<EndUserView, OpsError> {
    actor.require_admin("change this")?;
    text_length(input.user_id.trim(), "user_id", 1, 200)?;
    let fields = EndUserFields {
        alias: input.alias,
        blocked: Some(input.blocked),
        metadata: metadata_object(input.metadata)?,
        budget_link: input.budget.link(input.budget_id)?,
        budget: Some(input.budget.limits()?),
    };
    let mut transaction = pool.begin().await?;
    let row = end_users::create(&mut transaction, &input.user_id, fields, &actor.name)
        .await
        .map_err(refused)?;
    let view = view(&row);
    let change = changed("customer.new", &row.user_id, None, snapshot(&view));
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(view)
}

fn changed<'a>(
    action: &'a str,
    user_id: &'a str,
    before: Option<Value>,
    after: Option<Value>,
) -> Change<'a> {
    Change {
        action,
        target_type: "customer",
        target_id: user_id,
        before,
        after,
    }
}

pub async fn find(pool: &PgPool, actor: &Actor, user_id: &str) -> Result<EndUserView, OpsError> {
    actor.require_reads_everything("read end users")?;
    end_users::find(pool, user_id)
        .await?
        .map(|row| view(&row))
        .ok_or_else(|| OpsError::NotFound(format!("End user `{user_id}` not found.")))
}

/// End users by id, `limit` (1 to `MAX_PAGE`) from the one after `after`.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<EndUserView>, OpsError> {
    actor.require_reads_everything("list end users")?;
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(
            Invalid::field("limit", Problem::Value(format!("must be 1 to {MAX_PAGE}."))).into(),
        );
    }
    Ok(end_users::list_page(pool, after, limit)
        .await?
        .iter()
        .map(view)
        .collect())
}

pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    input: EndUserUpdate,
) -> Result<EndUserView, OpsError> {
    actor.require_admin("change this")?;
    let not_found = || OpsError::NotFound("End user not found.".into());
    let mut transaction = pool.begin().await?;
    end_users::lock(&mut transaction, &input.user_id).await?;
    let current = end_users::find(&mut *transaction, &input.user_id)
        .await?
        .ok_or_else(not_found)?;
    let budget_link = input.budget.link(input.budget_id)?;
    let budget = input.budget.update_of(&current.budget)?;
    let change = EndUserFields {
        alias: input.alias,
        blocked: input.blocked,
        metadata: metadata_object(input.metadata)?,
        budget,
        budget_link,
    };
    let row = end_users::update(&mut transaction, &input.user_id, change)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let view = view(&row);
    let change = changed(
        "customer.update",
        &row.user_id,
        snapshot(&self::view(&current)),
        snapshot(&view),
    );
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(view)
}

/// Blocks or unblocks end users: the ids changed.
pub async fn set_blocked(
    pool: &PgPool,
    actor: &Actor,
    user_ids: &[String],
    blocked: bool,
) -> Result<Vec<String>, OpsError> {
    actor.require_admin("change this")?;
    let mut transaction = pool.begin().await?;
    let changed_ids = end_users::set_blocked(&mut transaction, user_ids, blocked).await?;
    if changed_ids.is_empty() {
        return Err(OpsError::NotFound("None of those end users exist.".into()));
    }
    let action = if blocked {
        "customer.block"
    } else {
        "customer.unblock"
    };
    for user_id in &changed_ids {
        let change = changed(action, user_id, None, Some(json!({ "blocked": blocked })));
        record(&mut transaction, actor, change).await?;
    }
    transaction.commit().await?;
    Ok(changed_ids)
}

/// Deletes end users and their budgets (their spend rows stay): the ids deleted.
pub async fn delete(
    pool: &PgPool,
    actor: &Actor,
    user_ids: &[String],
) -> Result<Vec<String>, OpsError> {
    actor.require_admin("change this")?;
    let mut transaction = pool.begin().await?;
    let deleted = end_users::delete(&mut transaction, user_ids).await?;
    if deleted.is_empty() {
        return Err(OpsError::NotFound("None of those end users exist.".into()));
    }
    for user_id in &deleted {
        let change = changed(
            "customer.delete",
            user_id,
            None,
            Some(json!({ "deleted": true })),
        );
        record(&mut transaction, actor, change).await?;
    }
    transaction.commit().await?;
    Ok(deleted)
}
