//! LiteLLM's own request fields, sent beside OpenAI's (often through the OpenAI SDK's
//! `extra_body`), and what Gatehouse does with each: one table, applied by `take` in the parse
//! phase of every OpenAI-shaped endpoint, so that none of them reaches a provider (OpenAI
//! answers an unknown field with a 400, "Unrecognized request argument supplied").

use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::core::secret::Secret;
use crate::providers::openai_params::ParamRules;
use crate::routing::overrides::RouteOverrides;
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
    /// A client's own key or address: refused with a 400 unless the model lists it in
    /// `configurable_clientside_auth_params` (`providers::client_auth` decides).
    ClientAuth,
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
    ("api_key", Handling::ClientAuth),
    ("api_base", Handling::ClientAuth),
    ("base_url", Handling::ClientAuth),
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
    /// `drop_params`, `additional_drop_params`, `allowed_openai_params`.
    pub params: ParamRules,
    /// `fallbacks`, `context_window_fallback_dict`, `num_retries`, `timeout`.
    pub route: RouteOverrides,
    /// What the spend row keeps of the metadata: trace, session, generation, custom fields.
    pub spend: SpendMetadata,
    /// `mock_response`: a reply to give instead of calling the model, where allowed.
    pub mock_response: Option<String>,
    /// The client's own `api_base`/`base_url` and `api_key`, for models that allow them.
    pub client_auth: Option<ClientAuth>,
}

/// A client's own upstream address and key (`configurable_clientside_auth_params`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientAuth {
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
}

/// The longest `api_base` or `api_key` a request may send.
const MAX_CLIENT_AUTH_BYTES: usize = 2048;

/// The longest trace id, session id or generation name kept.
pub const MAX_TRACE_CHARS: usize = 256;

/// LiteLLM's request metadata the spend row keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendMetadata {
    /// `metadata.trace_id`, else `litellm_trace_id`.
    pub trace_id: Option<String>,
    /// `metadata.session_id`, else `litellm_session_id`.
    pub session_id: Option<String>,
    /// `metadata.generation_name`.
    pub generation_name: Option<String>,
    /// `metadata.spend_logs_metadata` (or the `x-litellm-spend-logs-metadata` header): the
    /// client's own fields, bounded with the rest of `metadata`.
    pub spend_logs_metadata: Option<Map<String, Value>>,
    /// What the request asked of features still to come (`cache`, `guardrails`), recorded
    /// as it was sent until they read it.
    pub requested: Map<String, Value>,
}

/// The largest `cache` or `guardrails` value recorded.
const MAX_REQUESTED_BYTES: usize = 4096;

impl SpendMetadata {
    /// The spend row's `metadata`: `{trace_id, generation_name, spend_logs_metadata}`, what is
    /// set of them; `None` when nothing is.
    pub fn row_metadata(&self) -> Option<Value> {
        let mut fields = Map::new();
        if let Some(trace_id) = &self.trace_id {
            fields.insert("trace_id".into(), Value::String(trace_id.clone()));
        }
        if let Some(name) = &self.generation_name {
            fields.insert("generation_name".into(), Value::String(name.clone()));
        }
        if let Some(custom) = &self.spend_logs_metadata {
            fields.insert("spend_logs_metadata".into(), Value::Object(custom.clone()));
        }
        for (name, value) in &self.requested {
            fields.insert(name.clone(), value.clone());
        }
        (!fields.is_empty()).then_some(Value::Object(fields))
    }

    /// These fields, with what `other` sets where these are unset.
    pub fn or(mut self, other: &SpendMetadata) -> SpendMetadata {
        for (mine, theirs) in [
            (&mut self.trace_id, &other.trace_id),
            (&mut self.session_id, &other.session_id),
            (&mut self.generation_name, &other.generation_name),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        if self.spend_logs_metadata.is_none() {
            self.spend_logs_metadata
                .clone_from(&other.spend_logs_metadata);
        }
        for (name, value) in &other.requested {
            self.requested
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        self
    }
}

/// What Gatehouse does with a body field: `None` for a field that is not LiteLLM's.
fn handling(field: &str) -> Option<Handling> {
    FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, handling)| *handling)
}

/// Applies the table to a body: refuses a client-side credential or destination, reads the
/// tags, routing limits, parameter rules and spend metadata, and takes every other LiteLLM
/// field off the body. A `metadata` too large, or a field of the wrong shape, is refused.
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
    let spend = spend_metadata(body, metadata)?;
    let mut fields = LitellmFields {
        tags,
        spend,
        ..LitellmFields::default()
    };
    let taken: Vec<(String, Value)> = {
        let names: Vec<String> = body
            .keys()
            .filter(|field| {
                handling(field).is_some()
                    && !(field.as_str() == "metadata" && metadata == MetadataOwner::Provider)
            })
            .cloned()
            .collect();
        names
            .into_iter()
            .filter_map(|name| body.remove(&name).map(|value| (name, value)))
            .collect()
    };
    for (name, value) in taken {
        if !value.is_null() {
            read_control(&mut fields, &name, value)?;
        }
    }
    Ok(fields)
}

/// Reads one control field into `fields` (others are only taken off).
fn read_control(fields: &mut LitellmFields, name: &str, value: Value) -> Result<(), ApiError> {
    match name {
        "fallbacks" => fields.route.fallbacks = Some(RouteOverrides::read_fallbacks(value)?),
        "context_window_fallback_dict" => {
            fields.route.context_window_fallbacks =
                RouteOverrides::read_context_window_fallbacks(value)?;
        }
        "num_retries" | "max_retries" => {
            let field = if name == "num_retries" {
                "num_retries"
            } else {
                "max_retries"
            };
            let retries = RouteOverrides::read_retries(&value, field)?;
            fields.route.num_retries =
                Some(fields.route.num_retries.map_or(retries, |n| n.min(retries)));
        }
        "timeout" | "request_timeout" => {
            let field = if name == "timeout" {
                "timeout"
            } else {
                "request_timeout"
            };
            let limit = RouteOverrides::read_timeout(&value, field)?;
            fields.route.timeout = Some(fields.route.timeout.map_or(limit, |t| t.min(limit)));
        }
        "drop_params" => match value {
            Value::Bool(drop) => fields.params.drop_params = Some(drop),
            _ => {
                return Err(ApiError::bad_request(
                    "`drop_params` must be true or false.",
                    Some("drop_params"),
                ))
            }
        },
        "additional_drop_params" => {
            fields.params.additional_drop_params =
                ParamRules::read_list(value, "additional_drop_params")?;
        }
        "allowed_openai_params" => {
            fields.params.allowed_openai_params =
                ParamRules::read_list(value, "allowed_openai_params")?;
        }
        "mock_response" => match value {
            Value::String(reply) if reply.len() <= MAX_MOCK_RESPONSE_BYTES => {
                fields.mock_response = Some(reply);
            }
            _ => {
                return Err(ApiError::bad_request(
                    format!(
                        "`mock_response` must be text of at most {MAX_MOCK_RESPONSE_BYTES} bytes."
                    ),
                    Some("mock_response"),
                ))
            }
        },
        "api_base" | "base_url" | "api_key" => {
            let Value::String(text) = value else {
                return Err(client_auth_refused(name));
            };
            if text.is_empty() || text.len() > MAX_CLIENT_AUTH_BYTES {
                return Err(client_auth_refused(name));
            }
            let auth = fields.client_auth.get_or_insert_with(ClientAuth::default);
            if name == "api_key" {
                auth.api_key = Some(Secret::new(text));
            } else {
                auth.api_base = Some(text);
            }
        }
        "cache" | "caching" | "guardrails" => {
            let size = serde_json::to_vec(&value).map_or(usize::MAX, |bytes| bytes.len());
            if size > MAX_REQUESTED_BYTES {
                return Err(ApiError::bad_request(
                    format!("`{name}` may be at most {MAX_REQUESTED_BYTES} bytes."),
                    FIELDS
                        .iter()
                        .map(|(field, _)| *field)
                        .find(|field| *field == name),
                ));
            }
            fields.spend.requested.insert(name.to_string(), value);
        }
        _ => {}
    }
    Ok(())
}

fn client_auth_refused(name: &str) -> ApiError {
    let param = FIELDS
        .iter()
        .map(|(field, _)| *field)
        .find(|field| *field == name);
    ApiError::bad_request(
        format!("`{name}` must be text of at most {MAX_CLIENT_AUTH_BYTES} bytes."),
        param,
    )
}

/// The longest `mock_response` a request may send.
pub const MAX_MOCK_RESPONSE_BYTES: usize = 64 * 1024;

/// The trace, session and generation names and the custom spend-log fields in a body's
/// LiteLLM metadata (`metadata` or `litellm_metadata`) and root `litellm_trace_id`,
/// `litellm_session_id`.
fn spend_metadata(
    body: &Map<String, Value>,
    owner: MetadataOwner,
) -> Result<SpendMetadata, ApiError> {
    let sources: Vec<&Map<String, Value>> = [
        (owner == MetadataOwner::Litellm)
            .then(|| body.get("metadata"))
            .flatten(),
        body.get("litellm_metadata"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_object)
    .collect();
    let text =
        |field: &'static str, root: Option<&'static str>| -> Result<Option<String>, ApiError> {
            let value = sources
                .iter()
                .find_map(|metadata| metadata.get(field))
                .or_else(|| root.and_then(|root| body.get(root)));
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => {
                    Ok(identity::checked(text, field, MAX_TRACE_CHARS)?.map(str::to_string))
                }
                Some(_) => Err(ApiError::bad_request(
                    format!("`metadata.{field}` must be text."),
                    Some("metadata"),
                )),
            }
        };
    let spend_logs_metadata = match sources
        .iter()
        .find_map(|metadata| metadata.get("spend_logs_metadata"))
    {
        None | Some(Value::Null) => None,
        Some(Value::Object(custom)) => Some(custom.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "`metadata.spend_logs_metadata` must be an object.",
                Some("metadata"),
            ))
        }
    };
    Ok(SpendMetadata {
        trace_id: text("trace_id", Some("litellm_trace_id"))?,
        session_id: text("session_id", Some("litellm_session_id"))?,
        generation_name: text("generation_name", None)?,
        spend_logs_metadata,
        requested: Map::new(),
    })
}

/// Whether a multipart form's text field goes upstream: `false` for LiteLLM's fields (taken
/// off: a form carries no routing limits or rules, and tags come by `x-litellm-tags`), a 400
/// for a client-side destination or credential.
pub fn keeps_form_field(field: &str) -> Result<bool, ApiError> {
    match handling(field) {
        None => Ok(true),
        Some(Handling::Refused | Handling::ClientAuth) => Err(refused(field)),
        Some(_) => Ok(false),
    }
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
        for field in [
            "extra_headers",
            "headers",
            "custom_llm_provider",
            "aws_access_key_id",
        ] {
            let mut body = object(json!({"model": "fast", "messages": []}));
            body.insert(field.into(), json!("http://169.254.169.254/"));
            let refused = take(&mut body, MetadataOwner::Litellm).unwrap_err();
            assert_eq!(refused.status().as_u16(), 400, "{field}");
            assert!(refused.to_string().contains(field), "{field}: {refused}");
        }
    }

    #[test]
    fn a_clients_own_address_and_key_are_read_for_the_route_to_judge() {
        let mut body = object(json!({
            "model": "fast", "messages": [], "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-own",
        }));
        let auth = take(&mut body, MetadataOwner::Litellm)
            .unwrap()
            .client_auth
            .unwrap();
        assert_eq!(auth.api_base.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(auth.api_key.unwrap().expose(), "sk-own");
        assert_eq!(body.len(), 2);
        let mut long = object(json!({"model": "fast", "api_base": "x".repeat(4096)}));
        assert!(take(&mut long, MetadataOwner::Litellm).is_err());
    }

    #[test]
    fn routing_limits_rules_and_spend_metadata_are_read() {
        let mut body = object(json!({
            "model": "fast", "messages": [],
            "metadata": {"trace_id": "t1", "session_id": "s1", "generation_name": "g",
                         "spend_logs_metadata": {"team": "x"}},
            "fallbacks": ["slow"], "num_retries": 2, "max_retries": 1, "timeout": 30,
            "request_timeout": 10, "drop_params": true, "allowed_openai_params": ["seed"],
            "mock_response": "hi",
        }));
        let taken = take(&mut body, MetadataOwner::Litellm).unwrap();
        assert_eq!(taken.route.fallbacks, Some(vec!["slow".to_string()]));
        assert_eq!(taken.route.num_retries, Some(1));
        assert_eq!(
            taken.route.timeout,
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(taken.params.drop_params, Some(true));
        assert_eq!(taken.params.allowed_openai_params, ["seed"]);
        assert_eq!(taken.mock_response.as_deref(), Some("hi"));
        assert_eq!(taken.spend.session_id.as_deref(), Some("s1"));
        assert_eq!(
            taken.spend.row_metadata(),
            Some(
                json!({"trace_id": "t1", "generation_name": "g", "spend_logs_metadata": {"team": "x"}})
            )
        );
        for (field, bad) in [
            ("drop_params", json!("yes")),
            ("num_retries", json!(-1)),
            ("timeout", json!(0)),
            ("mock_response", json!(1)),
            ("metadata", json!({"trace_id": 5})),
        ] {
            let mut body = object(json!({"model": "fast"}));
            body.insert(field.into(), bad);
            let refused = take(&mut body, MetadataOwner::Litellm).unwrap_err();
            assert_eq!(refused.status().as_u16(), 400, "{field}");
        }
    }
}
