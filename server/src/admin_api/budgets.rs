//! `/budget/new`, `/budget/info`, `/budget/list`, `/budget/settings`, `/budget/update`,
//! `/budget/delete` in LiteLLM's shapes, over `app::ops::named_budgets`.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::NamedBudgetView;
use app::ops::named_budgets::{self, NamedBudgetInput};

use super::access::Actor;
use super::{json_body, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<NamedBudgetView>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: NamedBudgetInput = json_body(body).await?;
    Ok(Json(
        named_budgets::create(&gateway.pool, &actor, input).await?,
    ))
}

/// Replaces a named budget's limits, and so those of every end user and organization linked to
/// it.
pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<NamedBudgetView>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: NamedBudgetInput = json_body(body).await?;
    Ok(Json(
        named_budgets::update(&gateway.pool, &actor, input).await?,
    ))
}

#[derive(Deserialize)]
pub struct BudgetInfoRequest {
    budgets: Vec<String>,
}

/// The named budgets asked for (those that exist).
pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Vec<NamedBudgetView>>, ApiError> {
    let actor = caller;
    actor.require_reads_everything("read budgets")?;
    let request: BudgetInfoRequest = json_body(body).await?;
    Ok(Json(
        named_budgets::list(&gateway.pool, &actor, Some(&request.budgets)).await?,
    ))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
) -> Result<Json<Vec<NamedBudgetView>>, ApiError> {
    let actor = caller;
    Ok(Json(
        named_budgets::list(&gateway.pool, &actor, None).await?,
    ))
}

#[derive(Deserialize)]
pub struct BudgetSettingsQuery {
    budget_id: String,
}

/// A named budget's fields as LiteLLM's settings list describes them.
pub async fn settings(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<BudgetSettingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller;
    let fields = json!(named_budgets::find(&gateway.pool, &actor, &query.budget_id).await?);
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
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let request: DeleteBudgetRequest = json_body(body).await?;
    named_budgets::delete(&gateway.pool, &actor, &request.id).await?;
    Ok(Json(json!({ "budget_id": request.id, "deleted": true })))
}
