//! `/budget/new`, `/budget/info`, `/budget/list`, `/budget/update`, `/budget/delete`,
//! `/budget/settings` in LiteLLM's shapes: named budgets that end users (`/customer/*`) and
//! organizations link to by `budget_id`. Each linked entity spends against the named limits on
//! its own; changing a named budget changes them all at once. Admins change named budgets;
//! roles that read everything read them.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::budget_templates::{self, BudgetTemplateError, BudgetTemplateRow};
use app::model::micros_to_dollars;

use super::access::actor;
use super::audit::{self, Change};
use super::{admin, budget_limits, json_body, rfc3339, ApiQuery};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

fn template_error(error: BudgetTemplateError) -> ApiError {
    match error {
        BudgetTemplateError::Duplicate => ApiError::bad_request(
            "A budget with that `budget_id` already exists.",
            Some("budget_id"),
        ),
        BudgetTemplateError::Linked => ApiError::bad_request(error.to_string(), Some("id")),
        BudgetTemplateError::Database(error) => ApiError::from(error),
    }
}

/// A named budget in LiteLLM's shape.
fn template_fields(row: &BudgetTemplateRow) -> Value {
    json!({
        "budget_id": row.budget_id,
        "max_budget": row.max_micros.map(micros_to_dollars),
        "soft_budget": row.soft_micros.map(micros_to_dollars),
        "budget_duration": row.duration,
        "max_parallel_requests": null,
        "tpm_limit": null,
        "rpm_limit": null,
        "model_max_budget": null,
        "linked": row.links,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

/// Fields outside these are refused rather than ignored: a named budget's rate limits and
/// per-model budgets are not enforced here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRequest {
    budget_id: Option<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: BudgetRequest = json_body(body).await?;
    let budget_id = request
        .budget_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if budget_id.trim().is_empty() || budget_id.len() > 200 {
        return Err(ApiError::bad_request(
            "`budget_id` must be 1 to 200 characters.",
            Some("budget_id"),
        ));
    }
    let limits = budget_limits(
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?;
    let row = budget_templates::create(&gateway.pool, &budget_id, &limits, &actor.name)
        .await
        .map_err(template_error)?;
    let after = template_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "budget.new",
            target_type: "budget",
            target_id: &row.budget_id,
            before: None,
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

/// Replaces a named budget's limits (fields not given are removed, as a new budget would have
/// them) and so those of every end user and organization linked to it.
pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: BudgetRequest = json_body(body).await?;
    let budget_id = request.budget_id.ok_or_else(|| {
        ApiError::bad_request("Pass the `budget_id` to update.", Some("budget_id"))
    })?;
    let current = budget_templates::find(&gateway.pool, &budget_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Budget `{budget_id}` not found.")))?;
    let limits = budget_limits(
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?;
    let row = budget_templates::update(&gateway.pool, &budget_id, &limits)
        .await
        .map_err(template_error)?
        .ok_or_else(|| ApiError::NotFound(format!("Budget `{budget_id}` not found.")))?;
    let after = template_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "budget.update",
            target_type: "budget",
            target_id: &row.budget_id,
            before: Some(template_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct BudgetInfoRequest {
    budgets: Vec<String>,
}

/// The named budgets asked for (those that exist).
pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("read budgets")?;
    let request: BudgetInfoRequest = json_body(body).await?;
    if request.budgets.is_empty() {
        return Err(ApiError::bad_request(
            "Pass the ids of the `budgets` to read.",
            Some("budgets"),
        ));
    }
    let rows = budget_templates::list(&gateway.pool, Some(&request.budgets)).await?;
    Ok(Json(Value::Array(
        rows.iter().map(template_fields).collect(),
    )))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("list budgets")?;
    let rows = budget_templates::list(&gateway.pool, None).await?;
    Ok(Json(Value::Array(
        rows.iter().map(template_fields).collect(),
    )))
}

#[derive(Deserialize)]
pub struct BudgetSettingsQuery {
    budget_id: String,
}

/// A named budget's fields as LiteLLM's settings list describes them.
pub async fn settings(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<BudgetSettingsQuery>,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("read budgets")?;
    let row = budget_templates::find(&gateway.pool, &query.budget_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Budget `{}` not found.", query.budget_id)))?;
    let fields = template_fields(&row);
    let described = [
        (
            "max_budget",
            "float",
            "Most that may be spent in a window, in USD.",
        ),
        (
            "soft_budget",
            "float",
            "Spend at which an alert is sent, in USD.",
        ),
        (
            "budget_duration",
            "str",
            "Window after which spend returns to 0 (`30s`, `1h`, `1d`, `1mo`).",
        ),
    ]
    .map(|(name, kind, description)| {
        json!({
            "field_name": name,
            "field_type": kind,
            "field_description": description,
            "field_value": fields[name],
            "stored_in_db": true,
            "field_default_value": null,
        })
    });
    Ok(Json(json!(described)))
}

#[derive(Deserialize)]
pub struct DeleteBudgetRequest {
    id: String,
}

/// Deletes a named budget nothing links to.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: DeleteBudgetRequest = json_body(body).await?;
    let deleted = budget_templates::delete(&gateway.pool, &request.id)
        .await
        .map_err(template_error)?;
    if !deleted {
        return Err(ApiError::NotFound(format!(
            "Budget `{}` not found.",
            request.id
        )));
    }
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "budget.delete",
            target_type: "budget",
            target_id: &request.id,
            before: None,
            after: Some(json!({ "deleted": true })),
        },
    )
    .await;
    Ok(Json(json!({ "budget_id": request.id, "deleted": true })))
}
