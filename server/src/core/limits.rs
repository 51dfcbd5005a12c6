//! What a rate limit says when it refuses a request or admits one: which limit, of which scope,
//! and what is left (for `x-ratelimit-*` headers).

use std::sync::Arc;
use std::time::Duration;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Requests,
    Tokens,
    Parallel,
}

/// A request refused by a limit: which, of which scope, and when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub scope: Arc<str>,
    pub kind: LimitKind,
    pub limit: u64,
    pub retry_after: Duration,
}

/// What the first limited scope (the key's, usually) has left, for `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    pub requests: Option<(u64, u64, Duration)>,
    pub tokens: Option<(u64, u64, Duration)>,
}
