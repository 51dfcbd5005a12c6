//! What the pages of budgeted entities share: a budget's utilisation as text, money values as
//! the forms show them, and the budget fields of create and edit forms.

use leptos::prelude::*;

use crate::model::views::BudgetSummary;

/// How much of a budget is spent: `$1.00 of $5.00 (20 %)`, or the spend alone without one.
pub fn utilisation(budget: &BudgetSummary) -> String {
    let spend = budget.spend;
    match budget.max_budget {
        Some(max) if max > 0.0 => format!(
            "${spend:.2} of ${max:.2} ({:.0} %)",
            (spend / max * 100.0).min(999.0)
        ),
        _ => format!("${spend:.2} (no budget)"),
    }
}

/// The window a budget resets over: `30d`, or `all time`.
pub fn budget_window(budget: &BudgetSummary) -> String {
    budget
        .budget_duration
        .clone()
        .unwrap_or_else(|| "all time".into())
}

/// A money field's current value, as a form shows it.
pub fn dollars_text(value: Option<f64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// The budget fields of a create form.
pub fn new_budget_inputs() -> impl IntoView {
    view! {
        <label>"Budget in USD (empty = none)" <input type="text" name="max_budget" inputmode="decimal"/></label>
        <label>"Soft budget in USD (an alert)" <input type="text" name="soft_budget" inputmode="decimal"/></label>
        <label>"Budget window (e.g. 30d, empty = all time)" <input type="text" name="budget_duration"/></label>
    }
}

/// The budget fields of a row's edit form, filled with the current budget.
pub fn budget_edit_inputs(budget: &BudgetSummary) -> impl IntoView {
    let (max_budget, soft_budget) = (
        dollars_text(budget.max_budget),
        dollars_text(budget.soft_budget),
    );
    let duration = budget.budget_duration.clone().unwrap_or_default();
    view! {
        <input type="text" name="max_budget" aria-label="Budget in USD" inputmode="decimal" value=max_budget/>
        <input type="text" name="soft_budget" aria-label="Soft budget in USD" inputmode="decimal" value=soft_budget/>
        <input type="text" name="budget_duration" aria-label="Budget window" value=duration/>
    }
}
