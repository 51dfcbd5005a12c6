//! Sending an adapter's request: credentials, timeouts, and one mapping of upstream failures to
//! the gateway's errors for every provider (4xx the client caused keep their status and the
//! provider's message; credentials, 5xx and transport failures become 502/504 without upstream
//! text).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::Value;

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;
use crate::providers::adapter::UpstreamRequest;
use crate::providers::{ByteStream, Deployment};

/// Longest upstream error message passed on to a client.
const MAX_UPSTREAM_MESSAGE: usize = 1_000;

/// Sends a request and returns the whole successful body, within the deployment's `timeout`.
pub async fn fetch(
    http: &reqwest::Client,
    deployment: &Deployment,
    request: UpstreamRequest,
) -> Result<Bytes, ApiError> {
    let limit = deployment.timeout;
    let exchange = async {
        let response = send(
            http,
            deployment,
            request.url,
            request.headers,
            request.body.into(),
        )
        .await?;
        if !response.status().is_success() {
            return Err(error_from_response(response).await);
        }
        response
            .bytes()
            .await
            .map_err(|error| transport_error(&error, limit))
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or(Err(timed_out(limit)))
}

/// Opens a stream: waits at most `stream_timeout` for the response headers.
pub async fn open_stream(
    http: &reqwest::Client,
    deployment: &Deployment,
    request: UpstreamRequest,
) -> Result<ByteStream, ApiError> {
    let response = open_response(http, deployment, request).await?;
    Ok(response.bytes_stream().boxed())
}

/// Sends a request and returns the successful response as soon as its headers arrive (within
/// `stream_timeout`), its body still to be read.
pub async fn open_response(
    http: &reqwest::Client,
    deployment: &Deployment,
    request: UpstreamRequest,
) -> Result<reqwest::Response, ApiError> {
    open_with_body(
        http,
        deployment,
        request.url,
        request.headers,
        request.body.into(),
    )
    .await
}

/// `open_response` for a body that is itself a stream (a multipart upload being relayed).
pub async fn open_with_body(
    http: &reqwest::Client,
    deployment: &Deployment,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    body: reqwest::Body,
) -> Result<reqwest::Response, ApiError> {
    let limit = deployment.stream_timeout;
    let opening = async {
        let response = send(http, deployment, url, headers, body).await?;
        if !response.status().is_success() {
            return Err(error_from_response(response).await);
        }
        Ok(response)
    };
    tokio::time::timeout(limit, opening)
        .await
        .unwrap_or(Err(timed_out(limit)))
}

/// Reads a whole successful response's body within the deployment's `timeout`.
pub async fn read_whole(
    deployment: &Deployment,
    response: reqwest::Response,
) -> Result<Bytes, ApiError> {
    let limit = deployment.timeout;
    match tokio::time::timeout(limit, response.bytes()).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => Err(transport_error(&error, limit)),
        Err(_) => Err(timed_out(limit)),
    }
}

async fn send(
    http: &reqwest::Client,
    deployment: &Deployment,
    url: reqwest::Url,
    mut headers: reqwest::header::HeaderMap,
    body: reqwest::Body,
) -> Result<reqwest::Response, ApiError> {
    // Before the credentials: a signature (SigV4) covers it.
    crate::core::trace_context::add_to(&mut headers);
    let mut outgoing = http
        .post(url)
        .headers(headers)
        .body(body)
        .build()
        .map_err(|error| {
            tracing::error!(%error, "cannot build an upstream request");
            ApiError::Internal
        })?;
    deployment.credentials.apply(http, &mut outgoing).await?;
    http.execute(outgoing)
        .await
        .map_err(|error| transport_error(&error, deployment.timeout))
}

fn timed_out(limit: Duration) -> ApiError {
    ApiError::Upstream(ProviderError::Timeout(limit.as_secs().max(1)))
}

fn transport_error(error: &reqwest::Error, limit: Duration) -> ApiError {
    if error.is_timeout() {
        timed_out(limit)
    } else if error.is_connect() {
        ApiError::Upstream(ProviderError::Failed(
            "could not connect to the upstream".into(),
        ))
    } else {
        tracing::warn!(%error, "upstream transport error");
        ApiError::Upstream(ProviderError::Failed(
            "the connection to the upstream failed".into(),
        ))
    }
}

/// The human message of a provider's error body: `error.message` (OpenAI, Anthropic, Gemini,
/// Mistral), or a top-level `message` / `Message` (Bedrock, Cohere), shortened.
pub fn upstream_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = value
        .get("error")
        .and_then(|error| error.get("message"))
        .or_else(|| value.get("message"))
        .or_else(|| value.get("Message"))?
        .as_str()?;
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

pub fn map_upstream_status(
    status: StatusCode,
    retry_after: Option<axum::http::HeaderValue>,
    body: &[u8],
) -> ApiError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            ApiError::Upstream(ProviderError::RateLimited { retry_after })
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            ApiError::Upstream(ProviderError::Credentials {
                status: status.as_u16(),
            })
        }
        status if status.is_client_error() => ApiError::Upstream(ProviderError::Rejected {
            status: axum::http::StatusCode::from_u16(status.as_u16())
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            message: upstream_message(body).unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
        }),
        status => ApiError::Upstream(ProviderError::ServerError(status.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_upstream_statuses() {
        let body = br#"{"error":{"message":"context too long","type":"invalid_request_error"}}"#;
        match map_upstream_status(StatusCode::BAD_REQUEST, None, body) {
            ApiError::Upstream(ProviderError::Rejected { status, message }) => {
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
        let overloaded = map_upstream_status(
            StatusCode::from_u16(529).unwrap(),
            None,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(overloaded.status(), axum::http::StatusCode::BAD_GATEWAY);
        let auth = map_upstream_status(StatusCode::UNAUTHORIZED, None, body);
        assert_eq!(auth.status(), axum::http::StatusCode::BAD_GATEWAY);
        let limited = map_upstream_status(
            StatusCode::TOO_MANY_REQUESTS,
            Some(axum::http::HeaderValue::from_static("7")),
            b"",
        );
        assert_eq!(limited.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn reads_every_providers_error_message() {
        assert_eq!(
            upstream_message(
                br#"{"error":{"code":400,"message":"bad arg","status":"INVALID_ARGUMENT"}}"#
            )
            .as_deref(),
            Some("bad arg")
        );
        assert_eq!(
            upstream_message(br#"{"message":"Malformed input request"}"#).as_deref(),
            Some("Malformed input request")
        );
        assert_eq!(
            upstream_message(br#"{"Message":"Throttled"}"#).as_deref(),
            Some("Throttled")
        );
        assert_eq!(upstream_message(b"<html>"), None);
    }
}
