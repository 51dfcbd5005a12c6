//! What a failed upstream attempt means for the next one: whether it may be retried (only
//! timeouts, 408, 429 and 5xx — never another 4xx), how long to wait (exponential backoff with
//! full jitter, or the upstream's `Retry-After` up to a cap), which fallback chain applies, and
//! whether it counts against the deployment's health. Plus the retry budget that keeps a failing
//! upstream from being hammered.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{FallbackKind, RouterSettings};
use crate::core::failure::Failure;

/// Retries in flight may be this share of the requests in flight…
const RETRY_BUDGET_RATIO: f64 = 0.2;
/// …but never fewer than this many.
const RETRY_BUDGET_MIN: u64 = 3;

/// The fallback chain that applies once a failure's group cannot serve the request, if any: a
/// client error fails the same way anywhere, so it has none.
pub fn fallback_kind(failure: Failure) -> Option<FallbackKind> {
    match failure {
        Failure::Timeout
        | Failure::RateLimited { .. }
        | Failure::Server
        | Failure::Credentials
        | Failure::NotFound
        | Failure::Unsuitable => Some(FallbackKind::General),
        Failure::ContextWindow => Some(FallbackKind::ContextWindow),
        Failure::ContentPolicy => Some(FallbackKind::ContentPolicy),
        Failure::Final => None,
    }
}

/// Retries the router's settings allow a failure of this kind: its `retry_policy` count, else
/// `num_retries`.
pub fn retries_allowed(failure: Failure, settings: &RouterSettings) -> u32 {
    let policy = settings.retry_policy;
    let specific = match failure {
        Failure::Timeout => policy.timeout,
        Failure::RateLimited { .. } => policy.rate_limit,
        Failure::Server => policy.internal_server,
        Failure::ContextWindow
        | Failure::ContentPolicy
        | Failure::Credentials
        | Failure::NotFound
        | Failure::Unsuitable
        | Failure::Final => return 0,
    };
    specific.unwrap_or(settings.num_retries)
}

/// Retries one gateway may have in flight: at most 20 % of its requests in flight, at least 3.
#[derive(Debug, Default)]
pub struct RetryBudget {
    requests: AtomicU64,
    retries: AtomicU64,
    /// Retries refused because the budget was spent.
    exhausted: AtomicU64,
}

impl RetryBudget {
    /// Counts a request in flight until the guard drops.
    pub fn request(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight {
            counter: &self.requests,
        }
    }

    /// A retry in flight until the guard drops, or `None` when the budget is spent.
    pub fn retry(&self) -> Option<InFlight<'_>> {
        let requests = self.requests.load(Ordering::Relaxed);
        let allowed = ((requests as f64 * RETRY_BUDGET_RATIO) as u64).max(RETRY_BUDGET_MIN);
        let taken = self
            .retries
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |retries| {
                (retries < allowed).then_some(retries + 1)
            });
        if taken.is_err() {
            self.exhausted.fetch_add(1, Ordering::Relaxed);
        }
        taken.ok().map(|_| InFlight {
            counter: &self.retries,
        })
    }

    /// Retries refused so far because the budget was spent.
    pub fn exhausted(&self) -> u64 {
        self.exhausted.load(Ordering::Relaxed)
    }
}

/// Decrements its counter when dropped.
#[derive(Debug)]
pub struct InFlight<'a> {
    counter: &'a AtomicU64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetryPolicy;
    use crate::core::error::ApiError;
    use crate::core::failure::{BACKOFF_BASE, BACKOFF_CAP};
    use crate::core::provider_error::ProviderError;
    use axum::http::{HeaderValue, StatusCode};
    use std::time::Duration;

    fn rejected(status: u16, message: &str) -> ApiError {
        ApiError::Upstream(ProviderError::Rejected {
            status: StatusCode::from_u16(status).unwrap(),
            message: message.into(),
        })
    }

    #[test]
    fn only_timeouts_rate_limits_and_server_errors_are_retried() {
        assert_eq!(
            Failure::of(&ApiError::Upstream(ProviderError::Timeout(30))),
            Failure::Timeout
        );
        assert_eq!(Failure::of(&rejected(408, "slow")), Failure::Timeout);
        assert_eq!(
            Failure::of(&ApiError::Upstream(ProviderError::ServerError(503))),
            Failure::Server
        );
        let limited = ApiError::Upstream(ProviderError::RateLimited {
            retry_after: Some(HeaderValue::from_static("7")),
        });
        assert_eq!(
            Failure::of(&limited),
            Failure::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            Failure::of(&rejected(404, "no such model")),
            Failure::NotFound
        );
        assert!(!Failure::NotFound.counts_against_health() && !Failure::NotFound.retryable());
        let credentials = Failure::of(&ApiError::Upstream(ProviderError::Credentials {
            status: 401,
        }));
        assert!(credentials.counts_against_health() && !credentials.retryable());
        assert_eq!(fallback_kind(Failure::Final), None);
        for error in [
            rejected(400, "invalid tool schema"),
            rejected(422, "bad"),
            ApiError::bad_request("x", None),
            ApiError::InvalidKey,
        ] {
            let failure = Failure::of(&error);
            assert_eq!(failure, Failure::Final, "{error:?}");
            assert!(!failure.retryable() && !failure.counts_against_health());
        }
        assert!(Failure::Server.retryable() && Failure::Server.counts_against_health());
    }

    #[test]
    fn context_window_and_content_policy_refusals_are_recognised() {
        for message in [
            "This model's maximum context length is 128000 tokens (context_length_exceeded)",
            "prompt is too long: 210000 tokens > 200000 maximum",
            "The input token count (1200000) exceeds the maximum number of tokens allowed",
            "Input is too long for requested model.",
        ] {
            assert_eq!(
                Failure::of(&rejected(400, message)),
                Failure::ContextWindow,
                "{message}"
            );
        }
        let filtered = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.";
        assert_eq!(
            Failure::of(&rejected(400, filtered)),
            Failure::ContentPolicy
        );
        assert_eq!(
            retries_allowed(Failure::ContextWindow, &RouterSettings::default()),
            0
        );
    }

    #[test]
    fn retry_counts_come_from_the_policy_or_num_retries() {
        let settings = RouterSettings {
            num_retries: 2,
            retry_policy: RetryPolicy {
                rate_limit: Some(5),
                ..RetryPolicy::default()
            },
            ..RouterSettings::default()
        };
        let limited = Failure::RateLimited { retry_after: None };
        assert_eq!(retries_allowed(limited, &settings), 5);
        assert_eq!(retries_allowed(Failure::Server, &settings), 2);
        assert_eq!(retries_allowed(Failure::Final, &settings), 0);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after_up_to_the_cap() {
        let none = Duration::ZERO;
        assert_eq!(
            Failure::Server.wait_before(1, none, 0.999),
            Some(BACKOFF_BASE.mul_f64(0.999))
        );
        assert_eq!(
            Failure::Server.wait_before(3, none, 0.5),
            Some(BACKOFF_BASE * 2)
        );
        assert_eq!(
            Failure::Server.wait_before(30, none, 1.0),
            Some(BACKOFF_CAP)
        );
        assert_eq!(
            Failure::Server.wait_before(1, Duration::from_secs(1), 0.0),
            Some(Duration::from_secs(1))
        );
        let asked = |seconds| Failure::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            asked(2).wait_before(1, none, 0.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(asked(60).wait_before(1, none, 0.0), None);
    }

    #[test]
    fn the_retry_budget_is_a_fifth_of_requests_in_flight_and_at_least_three() {
        let budget = RetryBudget::default();
        let requests: Vec<_> = (0..20).map(|_| budget.request()).collect();
        let retries: Vec<_> = (0..4).map_while(|_| budget.retry()).collect();
        assert_eq!(retries.len(), 4);
        assert!(budget.retry().is_none());
        drop(retries);
        drop(requests);
        let few: Vec<_> = (0..5).map_while(|_| budget.retry()).collect();
        assert_eq!(few.len(), RETRY_BUDGET_MIN as usize);
    }
}
