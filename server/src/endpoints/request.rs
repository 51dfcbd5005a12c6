//! Reading and validating a chat-completions request, and rewriting it for the upstream.
//! LiteLLM's own fields are taken off (`litellm_fields`); fields Gatehouse does not know are
//! passed through untouched.

use axum::body::Body;
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use crate::core::body::read_body;
use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::core::tokens::Encoding;
use crate::core::usage::estimate_tokens;
use crate::engine::litellm_fields::{self, LitellmFields, MetadataOwner};
use crate::providers::adapter::ChatBody;
use crate::providers::Deployment;
use app::model::identity;
use app::model::invalid;

/// Most choices one request may ask for (`n`, `best_of`): each is billed, and reserved for.
pub const MAX_CHOICES: u64 = 128;

/// A request's `field` (`n`, `best_of`): a whole number from 1 to `MAX_CHOICES`, 1 when absent.
pub fn choice_count(body: &Map<String, Value>, field: &'static str) -> Result<u64, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(1),
        Some(value) => value
            .as_u64()
            .filter(|count| (1..=MAX_CHOICES).contains(count))
            .ok_or_else(|| {
                ApiError::bad_request(
                    format!("`{field}` must be a whole number from 1 to {MAX_CHOICES}."),
                    Some(field),
                )
            }),
    }
}

pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    /// The client asked for the usage chunk itself (`stream_options.include_usage`).
    pub client_wants_usage: bool,
    /// OpenAI's `user` field: the end user on whose behalf the call is made.
    pub end_user: Option<String>,
    /// LiteLLM's fields from the body (tags, routing limits, parameter rules, …).
    pub litellm: LitellmFields,
    /// The client's headers an upstream may receive, where its group forwards them.
    pub client_headers: HeaderMap,
    /// The size of the JSON body the client sent, when it was read as it arrived.
    sent_bytes: Option<usize>,
    /// `n`: how many choices the reply holds, each up to the output limit.
    choices: u64,
    body: Map<String, Value>,
}

impl ChatRequest {
    /// The body as the client sent it (tags removed), for payload logging.
    pub fn payload(&self) -> Value {
        Value::Object(self.body.clone())
    }

    pub async fn read(body: Body) -> Result<ChatRequest, ApiError> {
        let bytes = read_body(body).await?;
        ChatRequest::parse(&bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
        let body = invalid::json_object(bytes)?;
        let mut request = ChatRequest::from_object(body)?;
        request.sent_bytes = Some(bytes.len());
        Ok(request)
    }

    /// Validates a chat request already read as a JSON object.
    pub fn from_object(mut body: Map<String, Value>) -> Result<ChatRequest, ApiError> {
        let model = invalid::model(&body)?;
        match body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {}
            _ => {
                return Err(ApiError::bad_request(
                    "`messages` must be a non-empty array of messages.",
                    Some("messages"),
                ))
            }
        }
        let stream = invalid::optional_bool(&body, "stream")?.unwrap_or(false);
        let client_wants_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) => {
                invalid::optional_bool(options, "include_usage")?.unwrap_or(false)
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`stream_options` must be an object.",
                    Some("stream_options"),
                ))
            }
        };
        let end_user = identity::body_end_user(&body, "user")?;
        let choices = choice_count(&body, "n")?;
        let litellm = litellm_fields::take(&mut body, MetadataOwner::Litellm)?;
        Ok(ChatRequest {
            choices,
            model,
            stream,
            client_wants_usage,
            end_user,
            litellm,
            client_headers: HeaderMap::new(),
            sent_bytes: None,
            body,
        })
    }

    /// At least as many tokens as the prompt can be: a token covers at least one byte of text,
    /// so the body's size in bytes bounds every text token it carries (images excepted).
    pub fn prompt_token_bound(&self) -> u64 {
        let bytes = self
            .sent_bytes
            .unwrap_or_else(|| serde_json::to_vec(&self.body).map_or(0, |body| body.len()));
        bytes as u64
    }

    /// The prompt's tokens counted exactly with `encoding`, where it can be: text messages
    /// and nothing offered beside them (tools and schemas add tokens OpenAI does not publish
    /// a formula for).
    pub fn exact_prompt_tokens(&self, encoding: Encoding) -> Option<u64> {
        let extras = [
            "tools",
            "functions",
            "response_format",
            "audio",
            "prediction",
        ];
        if extras.iter().any(|field| self.body.contains_key(*field)) {
            return None;
        }
        match self.body.get("messages") {
            Some(Value::Array(messages)) => encoding.chat_tokens(messages),
            _ => None,
        }
    }

    /// How many choices the reply holds (`n`).
    pub fn choices(&self) -> u64 {
        self.choices
    }

    /// The output limit the client set (`max_completion_tokens`, else `max_tokens`).
    pub fn max_output_tokens(&self) -> Option<u64> {
        ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|field| self.body.get(*field).and_then(Value::as_u64))
    }

    /// Lowers the output limit to what a budget can pay for, in the field the client used.
    pub fn limit_output_tokens(&mut self, tokens: u64) {
        let field = if self.body.contains_key("max_completion_tokens") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        self.body.insert(field.into(), Value::from(tokens));
    }

    /// Tokens of the prompt, estimated from the messages' text (used only when the upstream
    /// reports no usage).
    pub fn prompt_token_estimate(&self) -> u64 {
        let Some(Value::Array(messages)) = self.body.get("messages") else {
            return 0;
        };
        let bytes: usize = messages.iter().map(message_text_bytes).sum();
        estimate_tokens(bytes)
    }

    /// What a deployment must be able to do to serve this request.
    pub fn needs(&self) -> Needs {
        let non_empty = |field: &str| {
            self.body
                .get(field)
                .and_then(Value::as_array)
                .is_some_and(|items| !items.is_empty())
        };
        let has_image = || {
            let Some(Value::Array(messages)) = self.body.get("messages") else {
                return false;
            };
            messages.iter().any(|message| {
                message
                    .get("content")
                    .and_then(Value::as_array)
                    .is_some_and(|parts| {
                        parts.iter().any(|part| {
                            part.get("type").and_then(Value::as_str) == Some("image_url")
                        })
                    })
            })
        };
        let tools = non_empty("tools") || non_empty("functions");
        Needs {
            mode: Mode::Chat,
            streaming: self.stream,
            tools,
            parallel_tool_calls: tools
                && self.body.get("parallel_tool_calls") == Some(&Value::Bool(true)),
            vision: has_image(),
            json_schema: self
                .body
                .get("response_format")
                .and_then(|format| format.get("type"))
                .and_then(Value::as_str)
                == Some("json_schema"),
            prompt_tokens: self.prompt_token_estimate(),
        }
    }

    /// The request for the chosen deployment: OpenAI's format with the upstream model id.
    /// The body to send, its `model` still the client's (see `for_deployment`).
    pub fn into_body(self) -> ChatBody {
        self.body
    }
}

/// The bytes of a chat message's text: its content as text, or its text parts.
pub fn message_text_bytes(message: &Value) -> usize {
    match message.get("content") {
        Some(Value::String(text)) => text.len(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text")?.as_str())
            .map(str::len)
            .sum(),
        _ => 0,
    }
}

/// A chat body addressed to a deployment: its upstream model id in `model`.
pub fn for_deployment(mut body: ChatBody, deployment: &Deployment) -> ChatBody {
    body.insert(
        "model".into(),
        Value::String(deployment.upstream_model.clone()),
    );
    body
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
            Err(error) if error.status().as_u16() == 400 => error.param(),
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
        let body = for_deployment(request.into_body(), &deployment());
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["x_custom"]["a"], 1);
        assert_eq!(body["temperature"], 0.2);
    }

    #[test]
    fn reads_what_a_request_needs() {
        let plain = ChatRequest::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert!(plain.client_wants_usage);
        let needs = plain.needs();
        assert!(needs.streaming && !needs.tools && !needs.vision && !needs.json_schema);

        let rich = ChatRequest::parse(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what"},
                {"type":"image_url","image_url":{"url":"https://x/a.png"}}]}],
                "tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":true,
                "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}"#,
        )
        .unwrap();
        let needs = rich.needs();
        assert!(needs.tools && needs.parallel_tool_calls && needs.vision && needs.json_schema);
        assert!(!needs.streaming);
        let empty_tools = ChatRequest::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[]}"#,
        )
        .unwrap();
        assert!(!empty_tools.needs().tools);
    }
}
