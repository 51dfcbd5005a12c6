//! What the pages of budgeted entities share: a budget's utilisation as text, money values as
//! the forms show them, and the budget fields of create and edit forms.

use leptos::prelude::*;

/// How much of a budget is spent: `$1.00 of $5.00 (20 %)`, or the spend alone without one.
pub fn utilisation(spend: f64, max_budget: Option<f64>) -> String {
    match max_budget {
        Some(max) if max > 0.0 => format!(
            "${spend:.2} of ${max:.2} ({:.0} %)",
            (spend / max * 100.0).min(999.0)
        ),
        _ => format!("${spend:.2} (no budget)"),
    }
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
pub fn budget_edit_inputs(
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
) -> impl IntoView {
    view! {
        <input type="text" name="max_budget" aria-label="Budget in USD" inputmode="decimal" value=dollars_text(max_budget)/>
        <input type="text" name="soft_budget" aria-label="Soft budget in USD" inputmode="decimal" value=dollars_text(soft_budget)/>
        <input type="text" name="budget_duration" aria-label="Budget window" value=budget_duration.unwrap_or_default()/>
    }
}
