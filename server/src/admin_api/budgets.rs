//! `/budget/new`, `/budget/info`, `/budget/list`, `/budget/settings`, `/budget/update`,
//! `/budget/delete` in LiteLLM's shapes, over `app::ops::named_budgets`.

use serde::Deserialize;
use serde_json::{json, Value};

use app::model::views::NamedBudgetView;
use app::ops::named_budgets::{self, NamedBudgetInput};

use super::extract::{answer, Admin, Answer, Input, Manager, Reader};
use super::ApiQuery;

pub async fn create(
    admin: Admin,
    Input(input): Input<NamedBudgetInput>,
) -> Answer<NamedBudgetView> {
    answer(named_budgets::create(admin.pool(), &admin, input).await)
}

/// Replaces a named budget's limits, and so those of every end user and organization linked to
/// it.
pub async fn update(
    admin: Admin,
    Input(input): Input<NamedBudgetInput>,
) -> Answer<NamedBudgetView> {
    answer(named_budgets::update(admin.pool(), &admin, input).await)
}

#[derive(Deserialize)]
pub struct BudgetInfoRequest {
    budgets: Vec<String>,
}

/// The named budgets asked for (those that exist).
pub async fn info(
    reader: Reader,
    Input(request): Input<BudgetInfoRequest>,
) -> Answer<Vec<NamedBudgetView>> {
    answer(named_budgets::list(reader.pool(), &reader, Some(&request.budgets)).await)
}

pub async fn list(manager: Manager) -> Answer<Vec<NamedBudgetView>> {
    answer(named_budgets::list(manager.pool(), &manager, None).await)
}

#[derive(Deserialize)]
pub struct BudgetSettingsQuery {
    budget_id: String,
}

/// A named budget's fields as LiteLLM's settings list describes them.
pub async fn settings(
    manager: Manager,
    ApiQuery(query): ApiQuery<BudgetSettingsQuery>,
) -> Answer<Value> {
    let fields = json!(named_budgets::find(manager.pool(), &manager, &query.budget_id).await?);
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
    Ok(json!(described).into())
}

#[derive(Deserialize)]
pub struct DeleteBudgetRequest {
    id: String,
}

/// Deletes a named budget nothing links to.
pub async fn delete(admin: Admin, Input(request): Input<DeleteBudgetRequest>) -> Answer<Value> {
    named_budgets::delete(admin.pool(), &admin, &request.id).await?;
    Ok(json!({ "budget_id": request.id, "deleted": true }).into())
}
