//! Reading the console's form fields: empty means absent; numbers and lists in the shapes the
//! management operations take.

use crate::error::ConsoleError;

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
