//! What kind of failure an upstream attempt ended in, read from the error it gave: whether it
//! may be retried, whether it counts against the deployment's health, how long to wait.

use std::time::Duration;

use axum::http::StatusCode;

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;

/// The first retry waits up to this long; each further one doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// No backoff waits longer.
pub const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// A `Retry-After` longer than this is not waited for: the request moves on instead.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);

/// What kind of failure an attempt ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer in time (or 408): retryable, counts against health.
    Timeout,
    /// 429: retryable after `Retry-After`, counts against health.
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, a refused connection or a reply that broke its own format: retryable, counts
    /// against health.
    Server,
    /// The prompt is longer than the deployment's context window: not retried, but
    /// `context_window_fallbacks` apply.
    ContextWindow,
    /// The upstream refused the content: not retried, `content_policy_fallbacks` apply.
    ContentPolicy,
    /// The upstream refused the deployment's credentials (401/403): not retried, counts against
    /// health, general fallbacks apply.
    Credentials,
    /// The upstream does not know the deployment's model or route (404): not retried, never
    /// against health, general fallbacks apply.
    NotFound,
    /// The deployment an attempt reached cannot serve this request's format (a native-format
    /// endpoint on a deployment that speaks another): passed over, never against health,
    /// general fallbacks apply.
    Unsuitable,
    /// Any other client error: the same request would fail the same way anywhere.
    Final,
}

impl Failure {
    pub fn of(error: &ApiError) -> Failure {
        match error {
            ApiError::Upstream(failed) => Failure::of_upstream(failed),
            ApiError::Unsupported { .. } => Failure::Unsuitable,
            _ => Failure::Final,
        }
    }

    fn of_upstream(error: &ProviderError) -> Failure {
        match error {
            ProviderError::Timeout(_) => Failure::Timeout,
            ProviderError::RateLimited { retry_after } => Failure::RateLimited {
                retry_after: retry_after
                    .as_ref()
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<f64>().ok())
                    .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok()),
            },
            ProviderError::Failed(_)
            | ProviderError::ServerError(_)
            | ProviderError::Malformed(_) => Failure::Server,
            ProviderError::Credentials { .. } | ProviderError::Misconfigured(_) => {
                Failure::Credentials
            }
            ProviderError::Rejected { status, message } => {
                if *status == StatusCode::REQUEST_TIMEOUT {
                    Failure::Timeout
                } else if *status == StatusCode::NOT_FOUND {
                    Failure::NotFound
                } else if mentions_any(message, CONTEXT_WINDOW_PHRASES) {
                    Failure::ContextWindow
                } else if mentions_any(message, CONTENT_POLICY_PHRASES) {
                    Failure::ContentPolicy
                } else {
                    Failure::Final
                }
            }
        }
    }

    /// Whether the same request may be tried again (on this or another deployment of the
    /// group).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Failure::Timeout | Failure::RateLimited { .. } | Failure::Server
        )
    }

    /// Whether it says something about the deployment's health (a 400 or 404 never does).
    pub fn counts_against_health(self) -> bool {
        self.retryable() || self == Failure::Credentials
    }

    /// How the attempt ended, as the spend row's attempt list names it.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::RateLimited { .. } => "rate_limited",
            Failure::Server => "server_error",
            Failure::ContextWindow => "context_window_exceeded",
            Failure::ContentPolicy => "content_policy_violation",
            Failure::Credentials => "upstream_auth_error",
            Failure::NotFound => "not_found",
            Failure::Unsuitable => "unsuitable",
            Failure::Final => "rejected",
        }
    }

    /// How long to wait before retry number `retry` (1 for the first), given a jitter draw in
    /// `[0, 1)`; `None` when the upstream asked for a longer pause than the cap, so the request
    /// should move on rather than wait.
    pub fn wait_before(self, retry: u32, min_wait: Duration, jitter: f64) -> Option<Duration> {
        if let Failure::RateLimited {
            retry_after: Some(asked),
        } = self
        {
            return (asked <= RETRY_AFTER_CAP).then(|| asked.max(min_wait));
        }
        let ceiling = BACKOFF_BASE
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(BACKOFF_CAP);
        Some(ceiling.mul_f64(jitter.clamp(0.0, 1.0)).max(min_wait))
    }
}

/// Lower-case phrases providers use when a prompt exceeds the context window (OpenAI's
/// `context_length_exceeded`, Anthropic's "prompt is too long", Gemini's and Bedrock's
/// "input token count exceeds" / "input is too long").
const CONTEXT_WINDOW_PHRASES: &[&str] = &[
    "context_length_exceeded",
    "context length",
    "context window",
    "prompt is too long",
    "input is too long",
    "token count exceeds",
    "exceeds the maximum number of tokens",
    "maximum context",
    "too many tokens",
];

/// Lower-case phrases of content-policy refusals.
const CONTENT_POLICY_PHRASES: &[&str] = &[
    "content_policy_violation",
    "content policy",
    "content management policy",
    "responsibleaipolicyviolation",
    "safety system",
];

fn mentions_any(message: &str, phrases: &[&str]) -> bool {
    let message = message.to_lowercase();
    phrases.iter().any(|phrase| message.contains(phrase))
}
