//! LiteLLM's route groups a key's `allowed_routes` may name, and the check of an
//! `allowed_routes` list as a request gives it (the gateway matches paths against it).

use crate::model::invalid::{Invalid, Problem};

/// The route groups.
pub const ROUTE_GROUPS: [&str; 6] = [
    "llm_api_routes",
    "openai_routes",
    "anthropic_routes",
    "info_routes",
    "management_routes",
    "spend_tracking_routes",
];

/// Checks a key's `allowed_routes` as given: each a route group or a path starting with `/`.
pub fn check_allowed_routes(entries: &[String]) -> Result<(), Invalid> {
    match entries
        .iter()
        .find(|entry| !entry.starts_with('/') && !ROUTE_GROUPS.contains(&entry.as_str()))
    {
        Some(entry) => Err(Invalid::field(
            "allowed_routes",
            Problem::Value(format!(
                "`{entry}` is neither a path (starting with `/`) nor one of {}.",
                ROUTE_GROUPS.join(", ")
            )),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_groups_pass_and_anything_else_is_named() {
        assert!(check_allowed_routes(&["/chat/completions".into(), "info_routes".into()]).is_ok());
        let refused = check_allowed_routes(&["chat".into()]).unwrap_err();
        assert_eq!(refused.param, Some("allowed_routes"));
        assert!(refused.to_string().contains("`chat` is neither a path"));
    }
}
