//! The OpenAI-compatible wire format: one POST to `{api_base}/chat/completions`, upstream
//! failures mapped to the gateway's errors (4xx the client caused keep their status and
//! message; credentials, 5xx and transport failures become 502/504 without upstream text).

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::error::ApiError;
use crate::providers::{ByteStream, Deployment};

/// Longest upstream error message passed on to a client.
const MAX_UPSTREAM_MESSAGE: usize = 1_000;

/// A non-streaming completion: the upstream's JSON body, unchanged.
pub async fn complete(
    http: &reqwest::Client,
    deployment: &Deployment,
    url: &Url,
    body: Bytes,
) -> Result<Bytes, ApiError> {
    let response = post(http, deployment, url, body)
        .timeout(deployment.timeout)
        .send()
        .await
        .map_err(|error| transport_error(&error, deployment.timeout))?;
    if !response.status().is_success() {
        return Err(error_from_response(response).await);
    }
    response
        .bytes()
        .await
        .map_err(|error| transport_error(&error, deployment.timeout))
}

/// Opens a streaming completion: waits at most `stream_timeout` for the response headers.
pub async fn open_stream(
    http: &reqwest::Client,
    deployment: &Deployment,
    url: &Url,
    body: Bytes,
) -> Result<ByteStream, ApiError> {
    let response = tokio::time::timeout(
        deployment.stream_timeout,
        post(http, deployment, url, body).send(),
    )
    .await
    .map_err(|_| ApiError::UpstreamTimeout(deployment.stream_timeout.as_secs().max(1)))?
    .map_err(|error| transport_error(&error, deployment.stream_timeout))?;
    if !response.status().is_success() {
        return Err(
            tokio::time::timeout(deployment.stream_timeout, error_from_response(response))
                .await
                .unwrap_or(ApiError::UpstreamTimeout(
                    deployment.stream_timeout.as_secs().max(1),
                )),
        );
    }
    Ok(response
        .bytes_stream()
        .map_err(|error| error.to_string())
        .boxed())
}

fn post(
    http: &reqwest::Client,
    deployment: &Deployment,
    url: &Url,
    body: Bytes,
) -> reqwest::RequestBuilder {
    let request = http
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    match &deployment.api_key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    }
}

fn transport_error(error: &reqwest::Error, limit: Duration) -> ApiError {
    if error.is_timeout() {
        ApiError::UpstreamTimeout(limit.as_secs().max(1))
    } else if error.is_connect() {
        ApiError::UpstreamFailed("could not connect to the upstream".into())
    } else {
        tracing::warn!(%error, "upstream transport error");
        ApiError::UpstreamFailed("the connection to the upstream failed".into())
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// The `error.message` of an OpenAI-shaped error body, shortened.
fn upstream_message(body: &[u8]) -> Option<String> {
    let message = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()?
        .error
        .message?;
    Some(message.chars().take(MAX_UPSTREAM_MESSAGE).collect())
}

/// Maps an upstream error response to the gateway's error.
pub async fn error_from_response(response: reqwest::Response) -> ApiError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| axum::http::HeaderValue::from_bytes(value.as_bytes()).ok());
    let body = response.bytes().await.unwrap_or_default();
    map_upstream_status(status, retry_after, &body)
}

fn map_upstream_status(
    status: StatusCode,
    retry_after: Option<axum::http::HeaderValue>,
    body: &[u8],
) -> ApiError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => ApiError::UpstreamRateLimited { retry_after },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::UpstreamFailed(format!(
            "the upstream refused Gatehouse's credentials (HTTP {})",
            status.as_u16()
        )),
        StatusCode::REQUEST_TIMEOUT => ApiError::UpstreamFailed("HTTP 408".into()),
        status if status.is_client_error() => ApiError::UpstreamRejected {
            status: axum::http::StatusCode::from_u16(status.as_u16())
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            message: upstream_message(body).unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
        },
        status => ApiError::UpstreamFailed(format!("HTTP {}", status.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_upstream_statuses() {
        let body = br#"{"error":{"message":"context too long","type":"invalid_request_error"}}"#;
        match map_upstream_status(StatusCode::BAD_REQUEST, None, body) {
            ApiError::UpstreamRejected { status, message } => {
                assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
                assert_eq!(message, "context too long");
            }
            other => panic!("{other:?}"),
        }
        let server = map_upstream_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            b"secret stack trace",
        );
        assert_eq!(server.status(), axum::http::StatusCode::BAD_GATEWAY);
        assert!(!server.to_string().contains("stack"));
        let auth = map_upstream_status(StatusCode::UNAUTHORIZED, None, body);
        assert_eq!(auth.status(), axum::http::StatusCode::BAD_GATEWAY);
        let limited = map_upstream_status(
            StatusCode::TOO_MANY_REQUESTS,
            Some(axum::http::HeaderValue::from_static("7")),
            b"",
        );
        assert_eq!(limited.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
    }
}
