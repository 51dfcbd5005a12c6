//! How an upstream call failed, in words safe for a client (no upstream body of a 5xx, no
//! credentials). Each kind has one status, one OpenAI `type` and `code`, and one routing
//! meaning (`core::failure`).

use axum::http::{HeaderValue, StatusCode};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A client error of the upstream's (a 4xx other than 401, 403 and 429), with its message.
    #[error("The upstream rejected the request: {message}")]
    Rejected { status: StatusCode, message: String },
    /// 429, with the upstream's `Retry-After`.
    #[error("The upstream is rate limiting requests; retry later.")]
    RateLimited { retry_after: Option<HeaderValue> },
    /// 401 or 403: the deployment's credentials are refused.
    #[error("The upstream refused Gatehouse's credentials (HTTP {status}); the admin must fix the deployment.")]
    Credentials { status: u16 },
    /// A 5xx, or the connection failed: what happened, in words.
    #[error("The upstream provider failed ({0}).")]
    Failed(String),
    /// A 5xx status, by number.
    #[error("The upstream provider failed (HTTP {0}).")]
    ServerError(u16),
    /// The reply broke its own format: which part.
    #[error("The upstream provider failed ({0}).")]
    Malformed(String),
    /// The call could not be made as the deployment is configured (its credentials cannot
    /// sign it): not the upstream's fault, and no retry mends it.
    #[error("The upstream provider failed ({0}).")]
    Misconfigured(&'static str),
    /// No answer within the limit (seconds).
    #[error("The upstream did not answer within {0} seconds.")]
    Timeout(u64),
}

impl ProviderError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProviderError::Rejected { status, .. } => *status,
            ProviderError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ProviderError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProviderError::Credentials { .. }
            | ProviderError::Failed(_)
            | ProviderError::ServerError(_)
            | ProviderError::Malformed(_)
            | ProviderError::Misconfigured(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// OpenAI's `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Rejected { .. } => "invalid_request_error",
            ProviderError::RateLimited { .. } => "rate_limit_error",
            ProviderError::Timeout(_) => "timeout_error",
            _ => "api_error",
        }
    }

    /// OpenAI's `code` field.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ProviderError::Rejected { .. } => None,
            ProviderError::RateLimited { .. } => Some("rate_limit_exceeded"),
            ProviderError::Timeout(_) => Some("upstream_timeout"),
            _ => Some("upstream_error"),
        }
    }

    /// The upstream's `Retry-After`, passed on.
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            ProviderError::RateLimited { retry_after } => retry_after.clone(),
            _ => None,
        }
    }
}

/// Why the gateway ended a stream before its upstream finished it; the client's last event
/// says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamFailure {
    #[error("the upstream sent a malformed stream")]
    Malformed,
    #[error("the upstream stopped sending")]
    Stalled,
    #[error("the upstream connection failed mid-stream")]
    Broken,
    #[error("Budget exhausted mid-stream: the budget cannot pay for more output, so the stream was ended here; what it produced is billed.")]
    BudgetExhausted,
}

/// Bytes of an upstream stream that are not a valid frame of its framing.
#[derive(Debug, thiserror::Error)]
#[error("invalid event-stream frame: {0}")]
pub struct InvalidFrame(pub String);
