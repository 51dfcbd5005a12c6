//! The chat-completions pipeline. The stage order of the data plane is written here, once:
//! authenticate → authorize → limit → reserve → plan → call → respond → settle → meter.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::metering::{MeteredCall, CALL_TYPE_CHAT};
use crate::policy::auth::authenticate;
use crate::proxy::request::ChatRequest;
use crate::proxy::{messages, stream, unary};
use crate::state::SharedGateway;

/// The API shape a caller speaks: requests are read from it, replies and errors written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// OpenAI chat completions (`/v1/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
}

pub async fn chat_completions(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run(gateway, &headers, body, Egress::OpenAi).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

pub async fn messages(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run(gateway, &headers, body, Egress::Anthropic).await {
        Ok(response) => response,
        Err(error) => error.into_anthropic_response(),
    }
}

async fn run(
    gateway: SharedGateway,
    headers: &HeaderMap,
    body: Body,
    egress: Egress,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc();

    // 1. authenticate: the key from memory (one database read for a key never seen here).
    let caller = authenticate(&gateway.keys, gateway.master_key.as_ref(), headers).await?;
    let request = match egress {
        Egress::OpenAi => ChatRequest::read(body).await?,
        Egress::Anthropic => messages::read(body).await?,
    };

    // 2. authorize: the model exists and the key may use it.
    let group = gateway
        .models
        .get(&request.model)
        .ok_or_else(|| ApiError::UnknownModel(request.model.clone()))?;
    if !caller.may_use(&request.model) {
        return Err(ApiError::ModelNotAllowed(request.model.clone()));
    }

    // 3. limit: rate limits arrive with the governance work; nothing to check yet.
    // 4. reserve: a key whose spend reached its budget is refused before any upstream call.
    caller.check_budget()?;

    // 5. plan: a deployment whose declared capabilities cover the request.
    let needs = request.needs();
    let deployment = group
        .pick(&needs)
        .map_err(|missing| ApiError::Unsupported {
            model: request.model.clone(),
            missing,
        })?;

    // 6–9. call, respond, settle (the key is charged in memory) and meter (one spend row),
    // inside a tracked task that outlives a client disconnect.
    let call = MeteredCall {
        request_id: uuid::Uuid::new_v4().to_string(),
        call_type: CALL_TYPE_CHAT,
        token_hash: caller.token_hash().clone(),
        spend: caller.spend(),
        prompt_estimate: needs.prompt_tokens,
        end_user: request.end_user.clone(),
        is_stream: request.stream,
        deployment: deployment.clone(),
        started,
        started_at,
    };
    let client_wants_usage = request.client_wants_usage;
    let upstream_body = request.into_body_for(&deployment);
    if call.is_stream {
        stream::relay(gateway, call, upstream_body, client_wants_usage, egress).await
    } else {
        unary::complete(gateway, call, upstream_body, egress).await
    }
}
