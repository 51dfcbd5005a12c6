//! Whether a key's or a team's metadata turns its request logs off: Gatehouse's
//! `disable_logging: true`, or LiteLLM's `callback_settings` with no success callback.

use serde_json::Value;

pub fn requested_by(metadata: &Value) -> bool {
    if metadata.get("disable_logging").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    metadata
        .get("callback_settings")
        .and_then(|settings| settings.get("success_callback"))
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn either_form_turns_logging_off() {
        assert!(requested_by(&json!({"disable_logging": true})));
        assert!(requested_by(
            &json!({"callback_settings": {"success_callback": [], "failure_callback": []}})
        ));
        assert!(!requested_by(&json!({"disable_logging": false})));
        assert!(!requested_by(
            &json!({"callback_settings": {"success_callback": ["langfuse"]}})
        ));
        assert!(!requested_by(&json!({})));
    }
}
