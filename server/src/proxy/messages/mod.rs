//! `/v1/messages`: Anthropic's Messages API in front of every provider (Claude Code and the
//! Anthropic SDK point here). Deployments that speak it get the request as it is (`native`);
//! for the others it is translated to OpenAI's chat format and run through the same pipeline,
//! with replies, streams and errors translated back to Anthropic's shapes.

pub mod native;
pub mod reply;
pub mod request;
pub mod stream;

use axum::body::Body;
use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::proxy::request::read_body;

/// Reads an Anthropic Messages request body: the JSON object, and its size in bytes.
pub async fn read(body: Body) -> Result<(Map<String, Value>, usize), ApiError> {
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
    Ok((object, bytes.len()))
}
