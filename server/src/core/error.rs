//! The HTTP API's one error type and its single mapping to OpenAI's error body
//! `{"error": {"message", "type", "param", "code"}}` with the right status.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::model::format_usd;
use app::model::subject::BudgetSubject;

use crate::core::capabilities::Missing;
use crate::core::provider_error::ProviderError;
use app::model::invalid::Invalid;

/// Every way an API request can fail. Messages are safe for clients: no upstream bodies from
/// 5xx, no database text, no secrets.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("No API key was provided. Send it as `Authorization: Bearer sk-...`.")]
    MissingKey,
    #[error("Invalid API key. Check the key, or ask your Gatehouse admin for a new one.")]
    InvalidKey,
    #[error("This API key expired. Ask your Gatehouse admin for a new one.")]
    ExpiredKey,
    #[error("This API key is blocked. Ask your Gatehouse admin to unblock it.")]
    BlockedKey,
    #[error("This API key's team is blocked or was deleted.")]
    BlockedTeam,
    #[error("The end user `{0}` (the request's `user`) is blocked.")]
    BlockedEndUser(String),
    /// The caller is known but its role does not allow this; the message says what is missing.
    #[error("{0}")]
    Forbidden(String),
    #[error("This key is not allowed to use model `{0}`.")]
    ModelNotAllowed(String),
    #[error("The model `{0}` does not exist on this gateway.")]
    UnknownModel(String),
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<&'static str>,
    },
    #[error("The model `{model}` cannot serve this request: it does not support {}. Change the request or use a model that supports it.", missing.describe())]
    Unsupported { model: String, missing: Missing },
    #[error("The request body is larger than {0} bytes.")]
    BodyTooLarge(usize),
    #[error("Budget has been exceeded: {} has spent {} of its {} budget, and what is left (spend in flight included) cannot pay for this request.", budget_owner(subject), format_usd(*spend_micros), format_usd(*budget_micros))]
    BudgetExceeded {
        subject: std::sync::Arc<str>,
        spend_micros: i64,
        budget_micros: i64,
    },
    #[error("Budgets cannot be checked right now; retry shortly.")]
    BudgetsUnavailable,
    #[error("Rate limit reached: {} allows {}; retry in {} s.", budget_owner(&.0.scope), limit_text(.0), retry_in_seconds(.0.retry_after))]
    RateLimited(crate::core::limits::Exceeded),
    #[error("Rate limits cannot be checked right now; retry shortly.")]
    LimitsUnavailable,
    #[error("The server is busy; retry shortly.")]
    Busy,
    #[error("Too many requests with unknown API keys came from this address; retry in a minute.")]
    TooManyFailedAuthentications,
    #[error("This key named too many new end users or tags this minute; retry in a minute.")]
    TooManyNewNames,
    #[error("{0}")]
    NotFound(String),
    #[error("This route does not accept that HTTP method.")]
    MethodNotAllowed,
    /// A request field broke a common rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// An upstream call failed.
    #[error(transparent)]
    Upstream(#[from] ProviderError),
    #[error("No deployment of `{model}` is available right now (all are cooling down after failures); retry in {} s.", retry_in_seconds(*retry_in))]
    NoDeploymentAvailable {
        model: String,
        retry_in: std::time::Duration,
    },
    #[error("Gatehouse could not complete the request; the details are in the server log.")]
    Internal,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, param: Option<&'static str>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            param,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey
            | ApiError::InvalidKey
            | ApiError::ExpiredKey
            | ApiError::BlockedKey
            | ApiError::BlockedTeam
            | ApiError::ModelNotAllowed(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::BlockedEndUser(_) => StatusCode::FORBIDDEN,
            ApiError::UnknownModel(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest { .. }
            | ApiError::Invalid(_)
            | ApiError::BudgetExceeded { .. }
            | ApiError::Unsupported { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Upstream(failed) => failed.status(),
            ApiError::RateLimited(_)
            | ApiError::TooManyFailedAuthentications
            | ApiError::TooManyNewNames => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoDeploymentAvailable { .. }
            | ApiError::BudgetsUnavailable
            | ApiError::LimitsUnavailable
            | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `type` field.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::MissingKey
            | ApiError::InvalidKey
            | ApiError::ExpiredKey
            | ApiError::BlockedKey
            | ApiError::BlockedTeam => "authentication_error",
            ApiError::Forbidden(_) | ApiError::ModelNotAllowed(_) | ApiError::BlockedEndUser(_) => {
                "permission_error"
            }
            ApiError::BudgetExceeded { .. } => "budget_exceeded",
            ApiError::Upstream(failed) => failed.kind(),
            ApiError::RateLimited(_)
            | ApiError::TooManyFailedAuthentications
            | ApiError::TooManyNewNames => "rate_limit_error",
            ApiError::NoDeploymentAvailable { .. }
            | ApiError::BudgetsUnavailable
            | ApiError::LimitsUnavailable
            | ApiError::Busy
            | ApiError::Internal => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// OpenAI's `code` field.
    fn code(&self) -> Option<&'static str> {
        match self {
            ApiError::MissingKey | ApiError::InvalidKey => Some("invalid_api_key"),
            ApiError::ExpiredKey => Some("expired_api_key"),
            ApiError::BlockedKey => Some("blocked_api_key"),
            ApiError::BlockedTeam => Some("blocked_team"),
            ApiError::ModelNotAllowed(_) => Some("key_model_access_denied"),
            ApiError::Forbidden(_) => Some("permission_denied"),
            ApiError::BlockedEndUser(_) => Some("blocked_end_user"),
            ApiError::UnknownModel(_) => Some("model_not_found"),
            ApiError::BodyTooLarge(_) => Some("request_too_large"),
            ApiError::Unsupported { .. } => Some("unsupported_capability"),
            ApiError::BudgetExceeded { .. } => Some("budget_exceeded"),
            ApiError::Upstream(failed) => failed.code(),
            ApiError::RateLimited(_) => Some("rate_limit_exceeded"),
            ApiError::NoDeploymentAvailable { .. } => Some("no_deployment_available"),
            _ => None,
        }
    }

    /// The request field at fault, when one is.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            ApiError::BadRequest { param, .. } => *param,
            ApiError::Invalid(invalid) => invalid.param,
            ApiError::Unsupported { missing, .. } => missing.param(),
            ApiError::UnknownModel(_) | ApiError::ModelNotAllowed(_) => Some("model"),
            _ => None,
        }
    }
}

fn with_retry_after(mut response: Response, retry_after: Option<HeaderValue>) -> Response {
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

/// Whole seconds to wait, rounded up.
fn retry_in_seconds(retry_in: std::time::Duration) -> u64 {
    retry_in.as_secs() + u64::from(retry_in.subsec_nanos() > 0)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "param": self.param(),
                "code": self.code(),
            }
        });
        let retry_after = self.retry_after();
        let unknown_caller = self.is_unknown_caller();
        let mut response =
            with_retry_after((self.status(), Json(body)).into_response(), retry_after);
        if unknown_caller {
            response.extensions_mut().insert(UnknownCaller);
        }
        response
    }
}

/// Marks a response refusing a caller nobody knows (no key, an unknown key): the audit counts
/// these per address rather than recording each one.
#[derive(Debug, Clone, Copy)]
pub struct UnknownCaller;

impl ApiError {
    /// The caller presented no key, or one that opens nothing.
    fn is_unknown_caller(&self) -> bool {
        matches!(
            self,
            ApiError::MissingKey | ApiError::InvalidKey | ApiError::TooManyFailedAuthentications
        )
    }
}

impl ApiError {
    /// The error in Anthropic's shape, for `/v1/messages` callers:
    /// `{"type": "error", "error": {"type", "message"}}` with the same status.
    pub fn into_anthropic_response(self) -> Response {
        let status = self.status();
        let kind = match status.as_u16() {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            _ => "api_error",
        };
        let body = serde_json::json!({
            "type": "error",
            "error": { "type": kind, "message": self.to_string() },
        });
        let retry_after = self.retry_after();
        with_retry_after((status, Json(body)).into_response(), retry_after)
    }

    /// The `Retry-After` a client should honour, if any.
    fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            ApiError::Upstream(failed) => failed.retry_after(),
            ApiError::NoDeploymentAvailable { retry_in, .. } => {
                HeaderValue::from_str(&retry_in_seconds(*retry_in).to_string()).ok()
            }
            ApiError::RateLimited(exceeded) => {
                HeaderValue::from_str(&retry_in_seconds(exceeded.retry_after).to_string()).ok()
            }
            ApiError::TooManyFailedAuthentications | ApiError::TooManyNewNames => {
                Some(HeaderValue::from_static("60"))
            }
            _ => None,
        }
    }
}

/// Who owns a budget, for its refusal message: `this key`, `team X`.
fn budget_owner(subject: &str) -> String {
    BudgetSubject::parse(subject).map_or_else(|| subject.to_string(), |owner| owner.owner())
}

/// What a limit allows: `60 requests per minute`.
fn limit_text(exceeded: &crate::core::limits::Exceeded) -> String {
    use crate::core::limits::LimitKind;
    let limit = exceeded.limit;
    match exceeded.kind {
        LimitKind::Requests => format!("{limit} requests per minute"),
        LimitKind::Tokens => format!("{limit} tokens per minute"),
        LimitKind::Parallel => format!("{limit} requests in flight at once"),
    }
}

impl From<app::ops::OpsError> for ApiError {
    fn from(error: app::ops::OpsError) -> Self {
        use app::ops::OpsError;
        match error {
            OpsError::Forbidden(message) => ApiError::Forbidden(message),
            OpsError::NotFound(message) => ApiError::NotFound(message),
            OpsError::Invalid(invalid) => ApiError::Invalid(invalid),
            OpsError::Conflict { message, param } => ApiError::BadRequest { message, param },
            OpsError::Busy => ApiError::Busy,
            OpsError::Database(error) => ApiError::from(error),
            OpsError::Internal(problem) => {
                tracing::error!(%problem, "a management operation failed");
                ApiError::Internal
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if app::db::is_invalid_value(&error) {
            return ApiError::bad_request(app::db::INVALID_VALUE_MESSAGE, None);
        }
        crate::core::faults::postgres_error();
        tracing::error!(%error, "database error in the API");
        ApiError::Internal
    }
}

/// The OpenAI-shaped error object as an SSE event, for failures after a stream has started.
pub fn sse_error_event(message: &str, kind: &str) -> bytes::Bytes {
    let body = serde_json::json!({
        "error": { "message": message, "type": kind, "param": null, "code": null }
    });
    bytes::Bytes::from(format!("data: {body}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn errors_have_openai_shape_and_status() {
        let (status, body) = body_of(ApiError::InvalidKey).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["type"], "authentication_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(body["error"]["param"].is_null());

        let (status, body) = body_of(ApiError::UnknownModel("nope".into())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["param"], "model");

        let (status, body) = body_of(ApiError::BudgetExceeded {
            subject: std::sync::Arc::from("team:research"),
            spend_micros: 2_000_000,
            budget_micros: 1_000_000,
        })
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("$2.00"), "{message}");
        assert!(message.contains("team `research`"), "{message}");

        let (status, body) = body_of(ApiError::Unsupported {
            model: "small".into(),
            missing: Missing::Tools,
        })
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["param"], "tools");
        assert_eq!(body["error"]["code"], "unsupported_capability");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tools (function calling)"));

        let (status, _) = body_of(ApiError::Upstream(ProviderError::Timeout(3))).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    }
}
