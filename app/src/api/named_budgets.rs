//! Named budgets from the console, through `ops::named_budgets` (the API's write path): roles
//! that read everything list them; admins create, edit and delete them.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::BudgetForm;
use crate::model::views::NamedBudgetView;

#[server(endpoint = "list_named_budgets")]
pub async fn list_named_budgets() -> Result<Vec<NamedBudgetView>, ConsoleError> {
    use crate::api::guard;
    use crate::ops::named_budgets;

    let actor = guard::current_actor().await?;
    Ok(named_budgets::list(&crate::state::pool()?, &actor, None).await?)
}

/// Creates the named budget, or (`existing`) replaces the limits of the one with `budget_id`.
#[server(endpoint = "save_named_budget")]
pub async fn save_named_budget(
    csrf: String,
    existing: bool,
    budget_id: String,
    #[server(flatten)] budget: BudgetForm,
) -> Result<NamedBudgetView, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::named_budgets::{self, NamedBudgetInput};

    let actor = guard::admin_changer(&csrf, "change budgets").await?;
    let budget = form::budget(&budget)?;
    let input = NamedBudgetInput {
        budget_id: form::text(&budget_id),
        max_budget: budget.max_budget,
        soft_budget: budget.soft_budget,
        budget_duration: budget.budget_duration,
    };
    let pool = crate::state::pool()?;
    Ok(if existing {
        named_budgets::update(&pool, &actor, input).await?
    } else {
        named_budgets::create(&pool, &actor, input).await?
    })
}

#[server(endpoint = "delete_named_budget")]
pub async fn delete_named_budget(csrf: String, budget_id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::named_budgets;

    let actor = guard::changer(&csrf).await?;
    named_budgets::delete(&crate::state::pool()?, &actor, &budget_id).await?;
    Ok(())
}
