//! Every budget with a limit, for the console's Budgets page. Admins and finance read it.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::BudgetView;

/// Most budgets the page lists.
pub const BUDGET_LIST_LIMIT: i64 = 500;

#[server(endpoint = "list_budgets")]
pub async fn list_budgets() -> Result<Vec<BudgetView>, ConsoleError> {
    use crate::api::guard;
    use crate::db::budgets;
    use crate::db::keys::format_time;
    use crate::model::subject::BudgetSubject;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::require_role(&session, &[Role::Admin, Role::Finance]).await?;
    let rows = budgets::list_limited(&crate::state::pool()?, BUDGET_LIST_LIMIT).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let budget = row.budget;
            let (kind, id) = BudgetSubject::parse(&budget.subject)
                .map(|subject| (subject.kind().to_string(), subject.id()))
                .unwrap_or_default();
            BudgetView {
                kind,
                owner: row.owner.unwrap_or(id),
                subject: budget.subject,
                spend_micros: budget.spend_micros,
                leased_micros: budget.leased_micros,
                max_micros: budget.max_micros,
                soft_micros: budget.soft_micros,
                duration: budget.duration,
                resets_at: budget.resets_at.map(format_time),
            }
        })
        .collect())
}
