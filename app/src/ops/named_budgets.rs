//! Named budgets (LiteLLM's `/budget/*`): limits end users and organizations take by their
//! `budget_id`, so a change reaches all of them. Admins change them; roles that read everything
//! read them.

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::budget_templates::{self, BudgetTemplateRow};
use crate::db::error::DbError;
use crate::model::invalid::text_length;
use crate::model::micros_to_dollars;
use crate::model::views::NamedBudgetView;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::{rfc3339, Actor, OpsError};

/// `/budget/new` and `/budget/update`. Fields outside these are refused rather than ignored: a
/// named budget's rate limits and per-model budgets are not enforced here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedBudgetInput {
    pub budget_id: Option<String>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
}

impl NamedBudgetInput {
    fn budget(&self) -> BudgetFields {
        BudgetFields {
            max_budget: self.max_budget,
            soft_budget: self.soft_budget,
            budget_duration: self.budget_duration.clone(),
        }
    }
}

fn refused(error: DbError) -> OpsError {
    match error {
        DbError::Duplicate => OpsError::conflict(
            "A budget with that `budget_id` already exists.",
            "budget_id",
        ),
        DbError::InUse => OpsError::conflict(
            "end users or organizations still use the budget; unlink them first",
            "id",
        ),
        other => OpsError::from(other),
    }
}

pub fn view(row: &BudgetTemplateRow) -> NamedBudgetView {
    NamedBudgetView {
        budget_id: row.budget_id.clone(),
        max_budget: row.max_micros.map(micros_to_dollars),
        soft_budget: row.soft_micros.map(micros_to_dollars),
        budget_duration: row.duration.clone(),
        max_parallel_requests: None,
        tpm_limit: None,
        rpm_limit: None,
        model_max_budget: None,
        linked: row.links,
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn changed<'a>(
    action: &'a str,
    budget_id: &'a str,
    before: Option<Value>,
    after: Option<Value>,
) -> Change<'a> {
    Change {
        action,
        target_type: "budget",
        target_id: budget_id,
        before,
        after,
    }
}

pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    input: NamedBudgetInput,
) -> Result<NamedBudgetView, OpsError> {
    actor.require_admin("change this")?;
    let budget_id = input
        .budget_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    text_length(budget_id.trim(), "budget_id", 1, 200)?;
    let limits = input.budget().limits()?;
    let mut transaction = pool.begin().await?;
    let row = budget_templates::create(&mut transaction, &budget_id, &limits, &actor.name)
        .await
        .map_err(refused)?;
    let view = view(&row);
    record(
        &mut transaction,
        actor,
        changed("budget.new", &row.budget_id, None, snapshot(&view)),
    )
    .await?;
    transaction.commit().await?;
    Ok(view)
}

/// Replaces a named budget's limits (fields not given are removed, as a new budget would have
/// them) and so those of every end user and organization linked to it.
pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    input: NamedBudgetInput,
) -> Result<NamedBudgetView, OpsError> {
    actor.require_admin("change this")?;
    let budget_id = input
        .budget_id
        .clone()
        .ok_or_else(|| OpsError::conflict("Pass the `budget_id` to update.", "budget_id"))?;
    let not_found = || OpsError::NotFound(format!("Budget `{budget_id}` not found."));
    let limits = input.budget().limits()?;
    let mut transaction = pool.begin().await?;
    budget_templates::lock(&mut transaction, &budget_id).await?;
    let current = budget_templates::find(&mut *transaction, &budget_id)
        .await?
        .ok_or_else(not_found)?;
    let row = budget_templates::update(&mut transaction, &budget_id, &limits)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let view = view(&row);
    record(
        &mut transaction,
        actor,
        changed(
            "budget.update",
            &row.budget_id,
            snapshot(&self::view(&current)),
            snapshot(&view),
        ),
    )
    .await?;
    transaction.commit().await?;
    Ok(view)
}

/// The named budgets asked for (those that exist); all of them for `None`.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    ids: Option<&[String]>,
) -> Result<Vec<NamedBudgetView>, OpsError> {
    actor.require_reads_everything("read budgets")?;
    if ids.is_some_and(<[String]>::is_empty) {
        return Err(OpsError::conflict(
            "Pass the ids of the `budgets` to read.",
            "budgets",
        ));
    }
    Ok(budget_templates::list(pool, ids)
        .await?
        .iter()
        .map(view)
        .collect())
}

pub async fn find(
    pool: &PgPool,
    actor: &Actor,
    budget_id: &str,
) -> Result<NamedBudgetView, OpsError> {
    actor.require_reads_everything("read budgets")?;
    budget_templates::find(pool, budget_id)
        .await?
        .map(|row| view(&row))
        .ok_or_else(|| OpsError::NotFound(format!("Budget `{budget_id}` not found.")))
}

/// Deletes a named budget nothing links to.
pub async fn delete(pool: &PgPool, actor: &Actor, budget_id: &str) -> Result<(), OpsError> {
    actor.require_admin("change this")?;
    let mut transaction = pool.begin().await?;
    let deleted = budget_templates::delete(&mut transaction, budget_id)
        .await
        .map_err(refused)?;
    if !deleted {
        return Err(OpsError::NotFound(format!(
            "Budget `{budget_id}` not found."
        )));
    }
    record(
        &mut transaction,
        actor,
        changed(
            "budget.delete",
            budget_id,
            None,
            Some(json!({ "deleted": true })),
        ),
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}
