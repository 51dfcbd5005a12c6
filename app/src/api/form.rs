//! Reading the console's form fields: empty means absent; numbers and lists in the shapes the
//! management operations take.

use crate::error::ConsoleError;
use crate::model::forms::{BudgetForm, LimitsForm};
use crate::ops::budget_fields::BudgetFields;
use crate::ops::limit_fields::LimitFields;

/// A text field; `None` when empty.
pub fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Dollars (`12.5`); `None` when empty.
pub fn dollars(value: &str, field: &str) -> Result<Option<f64>, ConsoleError> {
    match value.trim() {
        "" => Ok(None),
        value => value
            .parse::<f64>()
            .map(Some)
            .map_err(|_| ConsoleError::Invalid(format!("{field} must be a number of dollars."))),
    }
}

/// A comma-separated list, each item trimmed, empty items dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// A whole number, 0 or more; `None` when empty.
pub fn count(value: &str, field: &str) -> Result<Option<i64>, ConsoleError> {
    match value.trim() {
        "" => Ok(None),
        value => value
            .parse::<i64>()
            .ok()
            .filter(|count| *count >= 0)
            .map(Some)
            .ok_or_else(|| ConsoleError::Invalid(format!("{field} must be a whole number."))),
    }
}

/// A JSON object (`{"team": "search"}`); `None` when empty.
pub fn json_object(value: &str, field: &str) -> Result<Option<serde_json::Value>, ConsoleError> {
    match value.trim() {
        "" => Ok(None),
        value => match serde_json::from_str::<serde_json::Value>(value) {
            Ok(object @ serde_json::Value::Object(_)) => Ok(Some(object)),
            _ => Err(ConsoleError::Invalid(format!(
                "{field} must be a JSON object."
            ))),
        },
    }
}

/// The budget fields of a form (each empty: not given).
pub fn budget(form: &BudgetForm) -> Result<BudgetFields, ConsoleError> {
    Ok(BudgetFields {
        max_budget: dollars(&form.max_budget, "The budget")?,
        soft_budget: dollars(&form.soft_budget, "The soft budget")?,
        budget_duration: text(&form.budget_duration),
    })
}

/// The rate-limit fields of a form (each empty: not given).
pub fn limits(form: &LimitsForm) -> Result<LimitFields, ConsoleError> {
    Ok(LimitFields {
        rpm_limit: count(&form.rpm_limit, "Requests per minute")?,
        tpm_limit: count(&form.tpm_limit, "Tokens per minute")?,
        max_parallel_requests: count(&form.max_parallel_requests, "Parallel requests")?,
        ..Default::default()
    })
}
