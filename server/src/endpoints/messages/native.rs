//! `/v1/messages` relayed to a deployment that speaks Anthropic's Messages API: the request relayed as
//! the client wrote it (the model replaced; `anthropic-version` and `anthropic-beta`
//! forwarded), the reply and the event stream unchanged — so thinking blocks and their
//! signatures, documents, citations and server tools survive, as Claude Code needs. Usage is
//! read on the way for metering.

use std::sync::Arc;

use axum::http::HeaderMap;
use futures::future::BoxFuture;
use futures::FutureExt;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde_json::{Map, Value};

use crate::core::capabilities::{Missing, Mode, Needs};
use crate::core::error::ApiError;
use crate::core::usage::estimate_tokens;
use crate::engine::{CallInfo, EventsAttempt, Opening, WholeAttempt};
use crate::providers::adapter::{invalid_request as invalid, to_body, ChatReply, UpstreamRequest};
use crate::providers::anthropic::{self, MessagesRelay};
use crate::providers::framing::Framing;
use crate::providers::{transport, Deployment, Upstream};
use crate::routing::attempts::{Reusable, Route};
use crate::state::SharedGateway;
use app::model::identity;

/// Client headers forwarded to Anthropic as they are.
const FORWARDED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// What routing needs to know of a Messages request, read without translating it.
pub struct MessagesProbe {
    pub model: String,
    pub needs: Needs,
    pub end_user: Option<String>,
    /// The request body's size: it bounds the prompt's tokens.
    pub body_bytes: usize,
}

/// Checks the fields every Messages request needs and reads what routing uses.
pub fn probe(request: &Map<String, Value>, body_bytes: usize) -> Result<MessagesProbe, ApiError> {
    let model = match request.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => {
            return Err(invalid(
                "model: Field required (a non-empty string).",
                "model",
            ))
        }
    };
    if !request.get("max_tokens").is_some_and(Value::is_u64) {
        return Err(invalid(
            "max_tokens: Field required (a positive integer).",
            "max_tokens",
        ));
    }
    let Some(Value::Array(turns)) = request.get("messages") else {
        return Err(invalid("messages: Field required (an array).", "messages"));
    };
    if turns.is_empty() {
        return Err(invalid(
            "messages: at least one message is required.",
            "messages",
        ));
    }
    let streaming = match request.get("stream") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(invalid("stream: must be a boolean.", "stream")),
    };
    let tools = request
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| !tools.is_empty());
    let vision = turns.iter().any(|turn| {
        turn.get("content")
            .and_then(Value::as_array)
            .is_some_and(|blocks| blocks.iter().any(|block| block["type"] == "image"))
    });
    identity::check_metadata(request)?;
    let end_user = match request
        .get("metadata")
        .and_then(|metadata| metadata.get("user_id"))
    {
        None | Some(Value::Null) => None,
        Some(Value::String(user)) => identity::end_user(user, "metadata.user_id")?,
        Some(_) => {
            return Err(invalid(
                "metadata.user_id: must be a string.",
                "metadata.user_id",
            ))
        }
    };
    Ok(MessagesProbe {
        model,
        needs: Needs {
            mode: Mode::Chat,
            streaming,
            tools,
            parallel_tool_calls: false,
            vision,
            json_schema: false,
            prompt_tokens: estimate_tokens(body_bytes),
        },
        end_user,
        body_bytes,
    })
}

/// The deployment's own Messages URL, when it speaks Anthropic's API.
pub fn messages_url(deployment: &Deployment) -> Option<Url> {
    match &deployment.upstream {
        Upstream::Http(adapter) => adapter.anthropic_messages_url().cloned(),
        Upstream::Mock => None,
    }
}

/// The attempts of a relayed Messages request: the body as the client wrote it (the model
/// replaced), to deployments that speak Messages; others are passed over.
pub struct RelayAttempts {
    request: Reusable<Map<String, Value>>,
    headers: reqwest::header::HeaderMap,
}

impl RelayAttempts {
    /// `forwarded`: the client's headers the relay passes on (`forwarded_headers`).
    pub fn new(
        request: Map<String, Value>,
        forwarded: &reqwest::header::HeaderMap,
        route: &Route,
    ) -> RelayAttempts {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(anthropic::API_VERSION),
        );
        for (name, value) in forwarded {
            headers.insert(name.clone(), value.clone());
        }
        RelayAttempts {
            request: Reusable::new(request, route.may_retry()),
            headers,
        }
    }

    fn build(&mut self, deployment: &Deployment) -> Result<UpstreamRequest, ApiError> {
        // A deployment that does not speak Messages is passed over for the route's next one.
        let url = messages_url(deployment).ok_or_else(|| ApiError::Unsupported {
            model: deployment.model_group.clone(),
            missing: Missing::Mode(Mode::Chat),
        })?;
        let mut body = self.request.for_attempt().ok_or(ApiError::Internal)?;
        body.insert(
            "model".into(),
            Value::String(deployment.upstream_model.clone()),
        );
        Ok(UpstreamRequest {
            url,
            headers: self.headers.clone(),
            body: to_body(&Value::Object(body))?,
        })
    }
}

/// The client headers a relay forwards (`anthropic-version`, `anthropic-beta`).
pub fn forwarded_headers(client_headers: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut forwarded = reqwest::header::HeaderMap::new();
    for name in FORWARDED_HEADERS {
        if let Some(value) = client_headers.get(name) {
            forwarded.insert(HeaderName::from_static(name), value.clone());
        }
    }
    forwarded
}

impl WholeAttempt for RelayAttempts {
    fn attempt(
        &mut self,
        gateway: &SharedGateway,
        deployment: Arc<Deployment>,
        _call: &CallInfo,
    ) -> BoxFuture<'static, Result<ChatReply, ApiError>> {
        let upstream_request = self.build(&deployment);
        let http = gateway.http.clone();
        async move {
            let reply = transport::fetch(&http, &deployment, upstream_request?).await?;
            Ok(ChatReply {
                usage: anthropic::messages_usage(&reply),
                body: reply,
            })
        }
        .boxed()
    }
}

impl EventsAttempt for RelayAttempts {
    fn open(&mut self, deployment: &Deployment, _call: &CallInfo) -> Result<Opening, ApiError> {
        Ok(Opening {
            request: Some(self.build(deployment)?),
            framing: Framing::ServerSentEvents,
            translator: Box::new(MessagesRelay::default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn probed(body: Value) -> Result<MessagesProbe, ApiError> {
        let bytes = body.to_string().len();
        probe(body.as_object().unwrap(), bytes)
    }

    #[test]
    fn reads_what_routing_needs_without_translating() {
        let found = probed(json!({
            "model": "claude", "max_tokens": 10, "stream": true,
            "metadata": { "user_id": "u-1" },
            "tools": [{ "name": "t", "input_schema": { "type": "object" } }],
            "messages": [
                { "role": "user", "content": [{ "type": "image", "source": { "type": "url", "url": "https://x/y.png" } }] },
                { "role": "assistant", "content": [{ "type": "thinking", "thinking": "…", "signature": "sig" }] },
            ],
        }))
        .unwrap();
        assert_eq!(found.model, "claude");
        assert!(found.needs.streaming && found.needs.tools && found.needs.vision);
        assert_eq!(found.end_user.as_deref(), Some("u-1"));
        assert!(found.needs.prompt_tokens > 10);
    }

    #[test]
    fn refuses_what_every_messages_request_needs() {
        let param = |body: Value| match probed(body) {
            Err(ApiError::BadRequest { param, .. }) => param,
            other => panic!("accepted: {}", other.is_ok()),
        };
        let turn = json!([{ "role": "user", "content": "x" }]);
        assert_eq!(
            param(json!({ "max_tokens": 1, "messages": turn })),
            Some("model")
        );
        assert_eq!(
            param(json!({ "model": "m", "messages": turn })),
            Some("max_tokens")
        );
        assert_eq!(
            param(json!({ "model": "m", "max_tokens": 1 })),
            Some("messages")
        );
        assert_eq!(
            param(json!({ "model": "m", "max_tokens": 1, "messages": [] })),
            Some("messages")
        );
        assert_eq!(
            param(json!({ "model": "m", "max_tokens": 1, "messages": turn, "stream": "yes" })),
            Some("stream")
        );
    }
}
