//! `/tag/new`, `/tag/info`, `/tag/list`, `/tag/update`, `/tag/delete` in LiteLLM's shapes. A
//! tag made here has a budget that every request carrying the tag counts against, whichever key
//! sends it. Admins change tags; roles that read everything read them.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use app::db::tags::{self, TagChange, TagError, TagRow, TagSpec};
use app::model::micros_to_dollars;

use super::access::actor;
use super::audit::{self, Change};
use super::{admin, budget_limits, json_body, metadata_object, rfc3339, BudgetUpdate};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

fn tag_error(error: TagError) -> ApiError {
    match error {
        TagError::Duplicate => ApiError::bad_request(error.to_string(), Some("name")),
        TagError::Database(error) => ApiError::from(error),
    }
}

/// A tag in LiteLLM's shape, with its budget.
fn tag_fields(row: &TagRow) -> Value {
    json!({
        "name": row.name,
        "description": row.description,
        "metadata": row.metadata,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

/// Fields outside these are refused rather than ignored: LiteLLM's tag routing (`models`) and
/// per-tag rate limits are not enforced here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    name: String,
    description: Option<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    metadata: Option<Value>,
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: TagRequest = json_body(body).await?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(',') {
        return Err(ApiError::bad_request(
            "`name` must be 1 to 200 characters, without commas.",
            Some("name"),
        ));
    }
    let spec = TagSpec {
        name: name.to_string(),
        description: request.description,
        metadata: metadata_object(request.metadata)?.unwrap_or_else(|| json!({})),
        budget: budget_limits(
            request.max_budget,
            request.soft_budget,
            request.budget_duration.as_deref(),
        )?,
        created_by: actor.name.clone(),
    };
    let row = tags::create(&gateway.pool, spec).await.map_err(tag_error)?;
    let after = tag_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "tag.new",
            target_type: "tag",
            target_id: &row.name,
            before: None,
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(json!({
        "message": format!("Tag {} created successfully", row.name),
        "tag": after,
    })))
}

#[derive(Deserialize)]
pub struct TagInfoRequest {
    names: Vec<String>,
}

/// The named tags, keyed by name (LiteLLM's shape); a 404 when none exists.
pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("read tags")?;
    let request: TagInfoRequest = json_body(body).await?;
    if request.names.is_empty() {
        return Err(ApiError::bad_request(
            "Pass the `names` of the tags to read.",
            Some("names"),
        ));
    }
    let rows = tags::list(&gateway.pool, Some(&request.names)).await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound("None of those tags exist.".into()));
    }
    let found: Map<String, Value> = rows
        .iter()
        .map(|row| (row.name.clone(), tag_fields(row)))
        .collect();
    Ok(Json(Value::Object(found)))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("list tags")?;
    let rows = tags::list(&gateway.pool, None).await?;
    Ok(Json(Value::Array(rows.iter().map(tag_fields).collect())))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: TagRequest = json_body(body).await?;
    let current = tags::find(&gateway.pool, &request.name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Tag `{}` not found.", request.name)))?;
    let budget = BudgetUpdate {
        max_budget: request.max_budget,
        soft_budget: request.soft_budget,
        budget_duration: request.budget_duration,
        current_max_micros: current.max_budget_micros,
        current_soft_micros: current.soft_budget_micros,
        current_duration: current.budget_duration.as_deref(),
    }
    .limits()?;
    let change = TagChange {
        description: request.description,
        metadata: metadata_object(request.metadata)?,
        budget,
    };
    let row = tags::update(&gateway.pool, &current.name, change)
        .await
        .map_err(tag_error)?
        .ok_or_else(|| ApiError::NotFound(format!("Tag `{}` not found.", request.name)))?;
    let after = tag_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "tag.update",
            target_type: "tag",
            target_id: &row.name,
            before: Some(tag_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(json!({
        "message": format!("Tag {} updated successfully", row.name),
        "tag": after,
    })))
}

#[derive(Deserialize)]
pub struct DeleteTagRequest {
    name: String,
}

/// Deletes a tag and its budget; its spend rows keep the tag.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: DeleteTagRequest = json_body(body).await?;
    let deleted = tags::delete(&gateway.pool, std::slice::from_ref(&request.name))
        .await
        .map_err(tag_error)?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound(format!(
            "Tag `{}` not found.",
            request.name
        )));
    }
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "tag.delete",
            target_type: "tag",
            target_id: &request.name,
            before: None,
            after: Some(json!({ "deleted": true })),
        },
    )
    .await;
    Ok(Json(json!({
        "message": format!("Tag {} deleted successfully", request.name)
    })))
}
