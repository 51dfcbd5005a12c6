//! Tags made with `/tag/new`: each has a budget that every request carrying the tag counts
//! against, whichever key sends it. Admins change tags; roles that read everything read them.

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::error::DbError;
use crate::db::tags::{self, TagFields, TagRow};
use crate::model::identity::metadata_object;
use crate::model::invalid::{Invalid, Problem};
use crate::model::views::TagView;
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::{rfc3339, Actor, OpsError};

/// `/tag/new` and `/tag/update`. Fields outside these are refused rather than ignored:
/// LiteLLM's tag routing (`models`) and per-tag rate limits are not enforced here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    pub name: String,
    pub description: Option<String>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub metadata: Option<Value>,
}

impl TagInput {
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
        DbError::Duplicate => OpsError::conflict("a tag with that name exists", "name"),
        other => OpsError::from(other),
    }
}

pub fn view(row: &TagRow) -> TagView {
    TagView {
        name: row.name.clone(),
        description: row.description.clone(),
        metadata: row.metadata.clone(),
        budget: budget_view(&row.budget),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn changed<'a>(
    action: &'a str,
    name: &'a str,
    before: Option<Value>,
    after: Option<Value>,
) -> Change<'a> {
    Change {
        action,
        target_type: "tag",
        target_id: name,
        before,
        after,
    }
}

pub async fn create(pool: &PgPool, actor: &Actor, input: TagInput) -> Result<TagView, OpsError> {
    actor.require_admin("change this")?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(',') {
        return Err(Invalid::field(
            "name",
            Problem::Value("must be 1 to 200 characters, without commas.".into()),
        )
        .into());
    }
    let fields = TagFields {
        budget: Some(input.budget().limits()?),
        description: input.description,
        metadata: metadata_object(input.metadata)?,
    };
    let mut transaction = pool.begin().await?;
    let row = tags::create(&mut transaction, name, fields, &actor.name)
        .await
        .map_err(refused)?;
    let view = view(&row);
    record(
        &mut transaction,
        actor,
        changed("tag.new", &row.name, None, snapshot(&view)),
    )
    .await?;
    transaction.commit().await?;
    Ok(view)
}

/// The named tags; a 404 when none exists.
pub async fn find(
    pool: &PgPool,
    actor: &Actor,
    names: &[String],
) -> Result<Vec<TagView>, OpsError> {
    actor.require_reads_everything("read tags")?;
    if names.is_empty() {
        return Err(OpsError::conflict(
            "Pass the `names` of the tags to read.",
            "names",
        ));
    }
    let rows = tags::list(pool, Some(names)).await?;
    if rows.is_empty() {
        return Err(OpsError::NotFound("None of those tags exist.".into()));
    }
    Ok(rows.iter().map(view).collect())
}

pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<TagView>, OpsError> {
    actor.require_reads_everything("list tags")?;
    Ok(tags::list(pool, None).await?.iter().map(view).collect())
}

pub async fn update(pool: &PgPool, actor: &Actor, input: TagInput) -> Result<TagView, OpsError> {
    actor.require_admin("change this")?;
    let not_found = || OpsError::NotFound(format!("Tag `{}` not found.", input.name));
    let mut transaction = pool.begin().await?;
    tags::lock(&mut transaction, &input.name).await?;
    let current = tags::find(&mut *transaction, &input.name)
        .await?
        .ok_or_else(not_found)?;
    let budget = input.budget().update_of(&current.budget)?;
    let change = TagFields {
        description: input.description.clone(),
        metadata: metadata_object(input.metadata.clone())?,
        budget,
    };
    let row = tags::update(&mut transaction, &current.name, change)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let view = view(&row);
    record(
        &mut transaction,
        actor,
        changed(
            "tag.update",
            &row.name,
            snapshot(&self::view(&current)),
            snapshot(&view),
        ),
    )
    .await?;
    transaction.commit().await?;
    Ok(view)
}

/// Deletes a tag and its budget; its spend rows keep the tag.
pub async fn delete(pool: &PgPool, actor: &Actor, name: &str) -> Result<(), OpsError> {
    actor.require_admin("change this")?;
    let mut transaction = pool.begin().await?;
    let deleted = tags::delete(&mut transaction, &[name.to_string()])
        .await
        .map_err(refused)?;
    if deleted.is_empty() {
        return Err(OpsError::NotFound(format!("Tag `{name}` not found.")));
    }
    record(
        &mut transaction,
        actor,
        changed("tag.delete", name, None, Some(json!({ "deleted": true }))),
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}
