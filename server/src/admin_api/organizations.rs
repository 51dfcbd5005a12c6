//! `/organization/new`, `/organization/info`, `/organization/list`, `/organization/update`,
//! `/organization/delete` in LiteLLM's shapes. An organization's budget binds every key of every
//! team in it; its model list bounds its teams' models. Admins change organizations; roles that
//! read everything read them.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::db::organizations::{
    self, OrganizationChange, OrganizationError, OrganizationRow, OrganizationSpec,
};
use app::model::micros_to_dollars;

use super::access::actor;
use super::audit::{self, Change};
use super::{
    admin, budget_limits, budget_link, json_body, metadata_object, rfc3339, ApiQuery, BudgetUpdate,
};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;

fn organization_error(error: OrganizationError) -> ApiError {
    match error {
        OrganizationError::Duplicate => {
            ApiError::bad_request(error.to_string(), Some("organization_id"))
        }
        OrganizationError::HasTeams => {
            ApiError::bad_request(error.to_string(), Some("organization_ids"))
        }
        OrganizationError::UnknownBudget => {
            ApiError::bad_request(error.to_string(), Some("budget_id"))
        }
        OrganizationError::Database(error) => ApiError::from(error),
    }
}

/// An organization in LiteLLM's shape.
fn organization_fields(row: &OrganizationRow) -> Value {
    json!({
        "organization_id": row.organization_id,
        "organization_alias": row.organization_alias,
        "models": row.models,
        "metadata": row.metadata,
        "spend": micros_to_dollars(row.spend_micros),
        "spend_micros": row.spend_micros,
        "max_budget": row.max_budget_micros.map(micros_to_dollars),
        "soft_budget": row.soft_budget_micros.map(micros_to_dollars),
        "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at.map(rfc3339),
        "budget_id": row.budget_id,
        "teams": row.teams,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
    })
}

#[derive(Deserialize)]
pub struct NewOrganizationRequest {
    organization_id: Option<String>,
    organization_alias: String,
    #[serde(default)]
    models: Vec<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    budget_id: Option<String>,
    metadata: Option<Value>,
}

pub async fn create(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: NewOrganizationRequest = json_body(body).await?;
    let valid_text = |text: &str| !text.trim().is_empty() && text.len() <= 200;
    if !valid_text(&request.organization_alias)
        || request
            .organization_id
            .as_deref()
            .is_some_and(|id| !valid_text(id))
    {
        return Err(ApiError::bad_request(
            "`organization_alias` and `organization_id` must be 1 to 200 characters.",
            Some("organization_alias"),
        ));
    }
    let budget_id = budget_link(
        request.budget_id,
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?
    .flatten();
    let spec = OrganizationSpec {
        organization_id: request.organization_id,
        budget_id,
        organization_alias: request.organization_alias.trim().to_string(),
        models: request.models,
        metadata: metadata_object(request.metadata)?.unwrap_or_else(|| json!({})),
        budget: budget_limits(
            request.max_budget,
            request.soft_budget,
            request.budget_duration.as_deref(),
        )?,
        created_by: actor.name.clone(),
    };
    let row = organizations::create(&gateway.pool, spec)
        .await
        .map_err(organization_error)?;
    let after = organization_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "organization.new",
            target_type: "organization",
            target_id: &row.organization_id,
            before: None,
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct OrganizationInfoQuery {
    organization_id: String,
}

pub async fn info(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    ApiQuery(query): ApiQuery<OrganizationInfoQuery>,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("read organizations")?;
    let row = organizations::find(&gateway.pool, &query.organization_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "Organization `{}` not found.",
                query.organization_id
            ))
        })?;
    Ok(Json(organization_fields(&row)))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
) -> Result<Json<Value>, ApiError> {
    actor(&gateway, &headers, &origin)
        .await?
        .require_reads_everything("list organizations")?;
    let rows = organizations::list(&gateway.pool).await?;
    Ok(Json(Value::Array(
        rows.iter().map(organization_fields).collect(),
    )))
}

#[derive(Deserialize)]
pub struct UpdateOrganizationRequest {
    organization_id: String,
    organization_alias: Option<String>,
    models: Option<Vec<String>>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    budget_id: Option<String>,
    metadata: Option<Value>,
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: UpdateOrganizationRequest = json_body(body).await?;
    let current = organizations::find(&gateway.pool, &request.organization_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Organization not found.".into()))?;
    let budget_link = budget_link(
        request.budget_id,
        request.max_budget,
        request.soft_budget,
        request.budget_duration.as_deref(),
    )?;
    let budget = BudgetUpdate {
        max_budget: request.max_budget,
        soft_budget: request.soft_budget,
        budget_duration: request.budget_duration,
        current_max_micros: current.max_budget_micros,
        current_soft_micros: current.soft_budget_micros,
        current_duration: current.budget_duration.as_deref(),
    }
    .limits()?;
    let change = OrganizationChange {
        organization_alias: request.organization_alias,
        models: request.models,
        metadata: metadata_object(request.metadata)?,
        budget,
        budget_link,
    };
    let row = organizations::update(&gateway.pool, &request.organization_id, change)
        .await
        .map_err(organization_error)?
        .ok_or_else(|| ApiError::NotFound("Organization not found.".into()))?;
    let after = organization_fields(&row);
    audit::changed(
        &gateway,
        &actor,
        Change {
            action: "organization.update",
            target_type: "organization",
            target_id: &row.organization_id,
            before: Some(organization_fields(&current)),
            after: Some(after.clone()),
        },
    )
    .await;
    Ok(Json(after))
}

#[derive(Deserialize)]
pub struct DeleteOrganizationsRequest {
    organization_ids: Vec<String>,
}

/// Deletes organizations that have no live teams.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    origin: Origin,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&gateway, &headers, &origin).await?;
    let request: DeleteOrganizationsRequest = json_body(body).await?;
    if request.organization_ids.is_empty() {
        return Err(ApiError::bad_request(
            "Pass the `organization_ids` to delete.",
            Some("organization_ids"),
        ));
    }
    let deleted = organizations::delete(&gateway.pool, &request.organization_ids)
        .await
        .map_err(organization_error)?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound(
            "None of those organizations exist.".into(),
        ));
    }
    for organization_id in &deleted {
        audit::changed(
            &gateway,
            &actor,
            Change {
                action: "organization.delete",
                target_type: "organization",
                target_id: organization_id,
                before: None,
                after: Some(json!({ "deleted": true })),
            },
        )
        .await;
    }
    Ok(Json(json!({ "deleted_organizations": deleted })))
}
