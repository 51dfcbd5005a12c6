//! LiteLLM's own request fields, sent beside OpenAI's (often through the OpenAI SDK's
//! `extra_body`), and what Gatehouse does with each: one table, applied by `take` in the parse
//! phase of every OpenAI-shaped endpoint, so that none of them reaches a provider (OpenAI
//! answers an unknown field with a 400, "Unrecognized request argument supplied").

use serde_json::{Map, Value};

use crate::core::error::ApiError;
use app::model::identity::{self, push_tag, MAX_TAGS};

/// What Gatehouse does with one of LiteLLM's request fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Read here (tags; trace, session and spend-log metadata); never sent upstream.
    Read,
    /// A per-request control of what the operator configures here (fallbacks, retries,
    /// timeouts, parameter dropping, mock replies); never sent upstream, the route policy rules.
    Control,
    /// For a feature of its own (response cache, guardrails); never sent upstream.
    Feature,
    /// A client-side credential or destination: refused with a 400, as nothing from a request
    /// may point Gatehouse's credentials at another host (LiteLLM's CVE-2024-6587).
    Refused,
}

/// LiteLLM's request fields and what Gatehouse does with each (`docs/COMPATIBILITY.md`).
/// Fields not listed are forwarded as they are, to the providers that take extra fields.
pub const FIELDS: [(&str, Handling); 41] = [
    ("metadata", Handling::Read),
    ("litellm_metadata", Handling::Read),
    ("tags", Handling::Read),
    ("litellm_trace_id", Handling::Read),
    ("litellm_session_id", Handling::Read),
    ("fallbacks", Handling::Control),
    ("context_window_fallback_dict", Handling::Control),
    ("num_retries", Handling::Control),
    ("max_retries", Handling::Control),
    ("timeout", Handling::Control),
    ("request_timeout", Handling::Control),
    ("stream_timeout", Handling::Control),
    ("drop_params", Handling::Control),
    ("additional_drop_params", Handling::Control),
    ("allowed_openai_params", Handling::Control),
    ("mock_response", Handling::Control),
    ("mock_tool_calls", Handling::Control),
    ("mock_timeout", Handling::Control),
    ("mock_delay", Handling::Control),
    ("mock_testing_fallbacks", Handling::Control),
    ("mock_testing_context_fallbacks", Handling::Control),
    ("mock_testing_content_policy_fallbacks", Handling::Control),
    ("mock_testing_rate_limit_error", Handling::Control),
    ("cache", Handling::Feature),
    ("caching", Handling::Feature),
    ("guardrails", Handling::Feature),
    ("no-log", Handling::Feature),
    ("api_key", Handling::Refused),
    ("api_base", Handling::Refused),
    ("base_url", Handling::Refused),
    ("api_version", Handling::Refused),
    ("extra_headers", Handling::Refused),
    ("headers", Handling::Refused),
    ("custom_llm_provider", Handling::Refused),
    ("user_config", Handling::Refused),
    ("model_list", Handling::Refused),
    ("vertex_credentials", Handling::Refused),
    ("vertex_project", Handling::Refused),
    ("aws_access_key_id", Handling::Refused),
    ("aws_secret_access_key", Handling::Refused),
    ("azure_ad_token", Handling::Refused),
];

/// Whose a body's `metadata` is: LiteLLM's (chat, completions, embeddings: read here) or the
/// provider's own (the Responses API: forwarded, LiteLLM's is `litellm_metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataOwner {
    Litellm,
    Provider,
}

/// LiteLLM's fields taken off a request body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LitellmFields {
    /// Request tags (`tags`, `metadata.tags`, `litellm_metadata.tags`).
    pub tags: Vec<String>,
}

/// What Gatehouse does with a body field: `None` for a field that is not LiteLLM's.
fn handling(field: &str) -> Option<Handling> {
    FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, handling)| *handling)
}

/// Applies the table to a body: refuses a client-side credential or destination, reads the
/// tags, and takes every other LiteLLM field off the body. A `metadata` too large is refused.
pub fn take(
    body: &mut Map<String, Value>,
    metadata: MetadataOwner,
) -> Result<LitellmFields, ApiError> {
    let mut litellm_fields = 0;
    for field in body.keys() {
        match handling(field) {
            None => {}
            Some(Handling::Refused) => return Err(refused(field)),
            Some(_) => litellm_fields += 1,
        }
    }
    if litellm_fields == 0 {
        return Ok(LitellmFields::default());
    }
    identity::check_metadata(body)?;
    if let Some(litellm_metadata) = body.get("litellm_metadata") {
        identity::check_metadata_size(litellm_metadata)?;
    }
    let tags = take_tags(body)?;
    body.retain(|field, _| {
        handling(field).is_none() || (field == "metadata" && metadata == MetadataOwner::Provider)
    });
    Ok(LitellmFields { tags })
}

fn refused(field: &str) -> ApiError {
    let param = FIELDS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == field);
    ApiError::bad_request(
        format!(
            "`{field}` is not allowed in a request: Gatehouse calls only the deployments its \
             operator configured, with their own credentials."
        ),
        param,
    )
}

/// LiteLLM's request tags in a body: root `tags` (removed: it is LiteLLM's, not the
/// upstream's), `metadata.tags` and `litellm_metadata.tags`. Each a non-empty string; a 400
/// otherwise.
fn take_tags(body: &mut Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let root = body.remove("tags");
    let within = |field: &str| body.get(field).and_then(|metadata| metadata.get("tags"));
    let mut tags = Vec::new();
    let places = [
        ("tags", root.as_ref()),
        ("metadata.tags", within("metadata")),
        ("litellm_metadata.tags", within("litellm_metadata")),
    ];
    for (field, value) in places {
        match value {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(tag) => push_tag(&mut tags, identity::tag(tag, field)?),
                        _ => return Err(bad_tags(field)),
                    }
                }
            }
            Some(_) => return Err(bad_tags(field)),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(
            format!("A request carries at most {MAX_TAGS} tags."),
            Some("tags"),
        ));
    }
    Ok(tags)
}

fn bad_tags(field: &str) -> ApiError {
    ApiError::bad_request(
        format!(
            "`{field}` must be an array of tags (non-empty strings of at most {} characters).",
            identity::MAX_TAG_CHARS
        ),
        Some("tags"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(fields) => fields,
            _ => unreachable!("a test body is an object"),
        }
    }

    #[test]
    fn litellm_fields_are_taken_and_the_rest_stays() {
        let mut body = object(json!({
            "model": "fast", "messages": [], "temperature": 0.2, "top_k": 3,
            "metadata": {"tags": ["a"], "trace_id": "t1", "generation_name": "g"},
            "fallbacks": ["slow"], "num_retries": 2, "timeout": 30, "mock_response": "hi",
            "cache": {"no-cache": true}, "guardrails": ["pii"], "drop_params": true,
        }));
        let taken = take(&mut body, MetadataOwner::Litellm).unwrap();
        assert_eq!(taken.tags, ["a"]);
        let mut left: Vec<&str> = body.keys().map(String::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["messages", "model", "temperature", "top_k"]);
    }

    #[test]
    fn the_responses_api_keeps_its_own_metadata() {
        let mut body = object(json!({
            "model": "fast", "input": "hi", "metadata": {"run": "7"},
            "litellm_metadata": {"tags": ["b"]},
        }));
        let taken = take(&mut body, MetadataOwner::Provider).unwrap();
        assert_eq!(taken.tags, ["b"]);
        assert_eq!(body["metadata"], json!({"run": "7"}));
        assert!(!body.contains_key("litellm_metadata"));
    }

    #[test]
    fn client_side_destinations_and_credentials_are_refused() {
        for field in ["api_base", "base_url", "api_key", "extra_headers"] {
            let mut body = object(json!({"model": "fast", "messages": []}));
            body.insert(field.into(), json!("http://169.254.169.254/"));
            let refused = take(&mut body, MetadataOwner::Litellm).unwrap_err();
            assert_eq!(refused.status().as_u16(), 400, "{field}");
            assert!(refused.to_string().contains(field), "{field}: {refused}");
        }
    }
}
