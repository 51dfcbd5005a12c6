//! `/v1/messages`: Anthropic's Messages API in front of every provider (Claude Code and the
//! Anthropic SDK point here). Requests are translated to OpenAI's chat format and run through the
//! same pipeline; replies, streams and errors are translated back to Anthropic's shapes.

pub mod reply;
pub mod request;
pub mod stream;

use axum::body::Body;
use serde_json::Value;

use crate::error::ApiError;
use crate::proxy::request::{read_body, ChatRequest};

/// Reads an Anthropic Messages request as the equivalent chat request.
pub async fn read(body: Body) -> Result<ChatRequest, ApiError> {
    let bytes = read_body(body).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::bad_request(
            format!("We could not parse the JSON body of your request: {error}."),
            None,
        )
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
            None,
        ));
    };
    ChatRequest::from_object(request::to_chat_request(object)?)
}
