//! Reading and validating a chat-completions request, and rewriting it for the upstream.
//! Fields Gatehouse does not know are passed through untouched.

use axum::body::Body;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::metering::usage::estimate_tokens;
use crate::providers::Deployment;

/// Largest request body accepted (images inline as base64 can be large).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    /// The client asked for the usage chunk itself (`stream_options.include_usage`).
    pub client_wants_usage: bool,
    /// OpenAI's `user` field: the end user on whose behalf the call is made.
    pub end_user: Option<String>,
    body: Map<String, Value>,
}

impl ChatRequest {
    pub async fn read(body: Body) -> Result<ChatRequest, ApiError> {
        let bytes = read_body(body).await?;
        ChatRequest::parse(&bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| {
            ApiError::bad_request(
                format!("We could not parse the JSON body of your request: {error}."),
                None,
            )
        })?;
        let Value::Object(body) = value else {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object.",
                None,
            ));
        };
        let model = match body.get("model") {
            Some(Value::String(model)) if !model.is_empty() => model.clone(),
            _ => {
                return Err(ApiError::bad_request(
                    "You must provide a model parameter (a non-empty string).",
                    Some("model"),
                ))
            }
        };
        match body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {}
            _ => {
                return Err(ApiError::bad_request(
                    "`messages` must be a non-empty array of messages.",
                    Some("messages"),
                ))
            }
        }
        let stream = optional_bool(&body, "stream")?.unwrap_or(false);
        let client_wants_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) => {
                optional_bool(options, "include_usage")?.unwrap_or(false)
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`stream_options` must be an object.",
                    Some("stream_options"),
                ))
            }
        };
        let end_user = match body.get("user") {
            None | Some(Value::Null) => None,
            Some(Value::String(user)) => Some(user.clone()),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`user` must be a string.",
                    Some("user"),
                ))
            }
        };
        Ok(ChatRequest {
            model,
            stream,
            client_wants_usage,
            end_user,
            body,
        })
    }

    /// Tokens of the prompt, estimated from the messages' text (used only when the upstream
    /// reports no usage).
    pub fn prompt_token_estimate(&self) -> u64 {
        let Some(Value::Array(messages)) = self.body.get("messages") else {
            return 0;
        };
        let bytes: usize = messages
            .iter()
            .map(|message| match message.get("content") {
                Some(Value::String(text)) => text.len(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|part| part.get("text")?.as_str())
                    .map(str::len)
                    .sum(),
                _ => 0,
            })
            .sum();
        estimate_tokens(bytes)
    }

    /// The body for the upstream: its model id, and for streams a request for the final usage
    /// chunk (stripped again if the client did not ask for it).
    pub fn into_upstream_body(mut self, deployment: &Deployment) -> Result<Bytes, ApiError> {
        self.body.insert(
            "model".into(),
            Value::String(deployment.upstream_model.clone()),
        );
        if self.stream {
            let options = self
                .body
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(options) = options {
                options.insert("include_usage".into(), Value::Bool(true));
            } else {
                *options = serde_json::json!({ "include_usage": true });
            }
        }
        serde_json::to_vec(&self.body)
            .map(Bytes::from)
            .map_err(|error| {
                tracing::error!(%error, "cannot serialise an upstream request");
                ApiError::Internal
            })
    }
}

fn optional_bool(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(ApiError::bad_request(
            format!("`{field}` must be a boolean."),
            Some(field),
        )),
    }
}

/// Reads a request body up to `MAX_BODY_BYTES`.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::BodyTooLarge(MAX_BODY_BYTES)
            } else {
                ApiError::bad_request("The request body could not be read.", None)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn deployment() -> Deployment {
        Config::parse(
            "model_list:\n- {model_name: small, litellm_params: {model: openai/gpt-4o-mini, api_base: 'http://x'}}\n",
            "test",
            &|_| None,
        )
        .unwrap()
        .deployments
        .remove(0)
    }

    fn error_param(body: &str) -> Option<&'static str> {
        match ChatRequest::parse(body.as_bytes()) {
            Err(ApiError::BadRequest { param, .. }) => param,
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("accepted {body}"),
        }
    }

    #[test]
    fn refuses_malformed_requests_with_the_parameter() {
        assert_eq!(error_param("not json"), None);
        assert_eq!(error_param("[1]"), None);
        assert_eq!(
            error_param(r#"{"messages":[{"role":"user","content":"hi"}]}"#),
            Some("model")
        );
        assert_eq!(error_param(r#"{"model":"x"}"#), Some("messages"));
        assert_eq!(
            error_param(r#"{"model":"x","messages":[]}"#),
            Some("messages")
        );
        assert_eq!(
            error_param(
                r#"{"model":"x","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#
            ),
            Some("stream")
        );
    }

    #[test]
    fn rewrites_model_and_keeps_unknown_fields() {
        let request = ChatRequest::parse(
            br#"{"model":"small","messages":[{"role":"user","content":"hello world!"}],"x_custom":{"a":1},"temperature":0.2}"#,
        )
        .unwrap();
        assert_eq!(request.prompt_token_estimate(), 3);
        let body: Value =
            serde_json::from_slice(&request.into_upstream_body(&deployment()).unwrap()).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["x_custom"]["a"], 1);
        assert_eq!(body["temperature"], 0.2);
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn streams_ask_the_upstream_for_usage() {
        let request = ChatRequest::parse(
            br#"{"model":"small","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
        )
        .unwrap();
        assert!(request.stream);
        assert!(!request.client_wants_usage);
        let body: Value =
            serde_json::from_slice(&request.into_upstream_body(&deployment()).unwrap()).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);

        let asked = ChatRequest::parse(
            br#"{"model":"small","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert!(asked.client_wants_usage);
    }
}
