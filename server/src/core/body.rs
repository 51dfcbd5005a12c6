//! Reading a request body whole, within the one size limit every route shares.

use axum::body::Body;
use bytes::Bytes;

use crate::core::error::ApiError;

/// Largest request body accepted (images inline as base64 can be large).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Reads a request body up to `MAX_BODY_BYTES`.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    read_body_within(body, MAX_BODY_BYTES).await
}

/// Reads a request body up to `limit` bytes (a 413 past it).
pub async fn read_body_within(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::BodyTooLarge(limit)
        } else {
            ApiError::bad_request("The request body could not be read.", None)
        }
    })
}
