//! `/v1/messages`: Anthropic's Messages API in front of every provider (Claude Code and the
//! Anthropic SDK point here). Deployments that speak it get the request as it is (`native`);
//! for the others it is translated to OpenAI's chat format and run through the same pipeline,
//! with replies, streams and errors translated back to Anthropic's shapes.

pub mod native;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::core::body::read_body;
use crate::core::capabilities::Needs;
use crate::core::error::ApiError;
use crate::core::tokens::Encoding;
use crate::endpoints::chat::{chat_call, chat_cost, Egress};
use crate::endpoints::request::ChatRequest;
use crate::endpoints::translate::anthropic::request::to_chat_request;
use crate::engine::litellm_fields::{self, LitellmFields, MetadataOwner};
use crate::engine::{Call, Cost, Endpoint, OutputCost};
use crate::metering::CALL_TYPE_CHAT;
use crate::providers::forwarding;
use crate::routing::attempts::Route;
use app::model::invalid;
use native::{forwarded_headers, messages_url, MessagesProbe, RelayAttempts};

/// `/v1/messages`: relayed as it is to a deployment that speaks Messages, else translated to
/// chat (decided by the route's first deployment).
pub struct Messages {
    request: Map<String, Value>,
    probe: MessagesProbe,
    /// The client's `anthropic-version` and `anthropic-beta`, for a relay.
    forwarded: reqwest::header::HeaderMap,
    /// The client's headers an upstream may receive (for the chat it may be served as).
    client_headers: HeaderMap,
    /// LiteLLM's fields from the body (moved into `as_chat` when it is served as chat).
    litellm: LitellmFields,
    /// Set once the route is known: `None` relays, `Some` serves it as chat.
    as_chat: Option<ChatRequest>,
}

impl Endpoint for Messages {
    async fn parse(headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        let (mut request, body_bytes) = read(body).await?;
        // LiteLLM's fields ride in `litellm_metadata`: `metadata` is Anthropic's own.
        let litellm = litellm_fields::take(&mut request, MetadataOwner::Provider)?;
        let probe = native::probe(&request, body_bytes)?;
        Ok(Messages {
            request,
            probe,
            litellm,
            forwarded: forwarded_headers(headers),
            client_headers: forwarding::forwardable(headers),
            as_chat: None,
        })
    }

    fn call_type(&self) -> &'static str {
        CALL_TYPE_CHAT
    }

    fn model(&self) -> &str {
        &self.probe.model
    }

    fn needs(&self) -> Needs {
        self.probe.needs
    }

    fn end_user(&self) -> Option<String> {
        match &self.as_chat {
            Some(chat) => chat.end_user.clone(),
            None => self.probe.end_user.clone(),
        }
    }

    fn litellm(&self) -> Option<&LitellmFields> {
        Some(
            self.as_chat
                .as_ref()
                .map_or(&self.litellm, |chat| &chat.litellm),
        )
    }

    fn bind(&mut self, route: &Route) -> Result<(), ApiError> {
        if messages_url(route.first()).is_none() {
            let request = std::mem::take(&mut self.request);
            let mut chat = ChatRequest::from_object(to_chat_request(request)?)?;
            chat.litellm = std::mem::take(&mut self.litellm);
            chat.client_headers = std::mem::take(&mut self.client_headers);
            self.as_chat = Some(chat);
        }
        Ok(())
    }

    fn cost(&self, _route: &Route) -> Result<Cost, ApiError> {
        Ok(match &self.as_chat {
            Some(chat) => chat_cost(chat),
            None => Cost::Output(OutputCost {
                prompt_bound: self.probe.body_bytes as u64,
                max_output: self.request.get("max_tokens").and_then(Value::as_u64),
                choices: 1,
            }),
        })
    }

    fn exact_prompt_tokens(&self, encoding: Encoding) -> Option<u64> {
        self.as_chat.as_ref()?.exact_prompt_tokens(encoding)
    }

    fn limit_output(&mut self, tokens: u64) {
        match &mut self.as_chat {
            Some(chat) => chat.limit_output_tokens(tokens),
            None => {
                self.request
                    .insert("max_tokens".into(), Value::from(tokens));
            }
        }
    }

    fn payload(&self) -> Option<Value> {
        self.as_chat.as_ref().map(ChatRequest::payload)
    }

    fn into_call(self, route: &Route) -> Result<Call, ApiError> {
        if let Some(chat) = self.as_chat {
            return Ok(chat_call(chat, route, Egress::Anthropic));
        }
        let attempts = RelayAttempts::new(self.request, &self.forwarded, route);
        Ok(if self.probe.needs.streaming {
            Call::Events(Box::new(attempts))
        } else {
            Call::Whole {
                attempts: Box::new(attempts),
                content_type: None,
            }
        })
    }

    fn error_response(error: ApiError) -> Response {
        error.into_anthropic_response()
    }
}

/// Reads an Anthropic Messages request body: the JSON object, and its size in bytes.
pub async fn read(body: Body) -> Result<(Map<String, Value>, usize), ApiError> {
    let bytes = read_body(body).await?;
    let object = invalid::json_object(&bytes)?;
    Ok((object, bytes.len()))
}
