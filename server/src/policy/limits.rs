//! Rate limits: requests per minute, tokens per minute and requests in flight, for a key, its
//! team and each model of the key. Windows slide: a request counts for the minute after it was
//! admitted, tokens for the minute after the request that used them ended (with Redis to the
//! millisecond; in one instance by the second). With Redis one script checks and counts every
//! limit of a request atomically, so a limit holds exactly across instances; without Redis each
//! instance counts its own requests.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::core::error::ApiError;
use crate::core::limits::{Exceeded, LimitKind, Remaining};
use crate::core::redis_link::RedisLink;
use dashmap::DashMap;

/// The window of `rpm` and `tpm` limits.
const WINDOW: Duration = Duration::from_secs(60);
/// A request in flight counts against `max_parallel_requests` at most this long on Redis (in
/// case its instance stops before it ends).
const PARALLEL_LEASE: Duration = Duration::from_secs(600);

/// The limits of one scope (`key:…`, `team:…`, `key:…:model:…`); `None`: no limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLimits {
    pub scope: Arc<str>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub parallel: Option<u64>,
}

impl ScopeLimits {
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none() && self.parallel.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate limit reached")]
    Exceeded(Exceeded),
    #[error("the shared rate-limit store cannot be reached")]
    Unavailable(#[from] redis::RedisError),
}

/// Where requests are counted.
pub enum Limiter {
    Local(LocalLimiter),
    Redis(RedisLimiter),
}

/// An admitted request's hold on its scopes: its place in flight until dropped (or `finish`ed,
/// which also counts its tokens).
pub struct Admission {
    limiter: Arc<Limiter>,
    scopes: Vec<ScopeLimits>,
    request_id: Arc<str>,
    pub remaining: Remaining,
    finished: bool,
}

impl Admission {
    /// The request ended having used `tokens`.
    pub fn finish(mut self, tokens: u64) {
        self.finished = true;
        let scopes = std::mem::take(&mut self.scopes);
        self.limiter.end(&scopes, &self.request_id, tokens);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.finished {
            let scopes = std::mem::take(&mut self.scopes);
            self.limiter.end(&scopes, &self.request_id, 0);
        }
    }
}

impl Limiter {
    /// Admits a request against every scope's limits, all or none.
    pub async fn admit(
        self: &Arc<Self>,
        scopes: Vec<ScopeLimits>,
        request_id: Arc<str>,
    ) -> Result<Admission, LimitError> {
        let remaining = match &**self {
            Limiter::Local(local) => local.admit(&scopes).map_err(LimitError::Exceeded)?,
            Limiter::Redis(redis) => redis.admit(&scopes, &request_id).await?,
        };
        Ok(Admission {
            limiter: self.clone(),
            scopes,
            request_id,
            remaining,
            finished: false,
        })
    }

    fn end(&self, scopes: &[ScopeLimits], request_id: &str, tokens: u64) {
        match self {
            Limiter::Local(local) => local.end(scopes, tokens),
            Limiter::Redis(redis) => redis.end(scopes, request_id, tokens),
        }
    }
}

/// Seconds a local window keeps: a request counts in the second it was admitted and the 59
/// before the current one.
const WINDOW_SECONDS: u64 = 60;

/// One second's counts.
#[derive(Debug, Default, Clone, Copy)]
struct Second {
    /// Which second since the process's epoch these counts are of.
    at: u64,
    requests: u64,
    tokens: u64,
}

/// One scope's counts on this instance: the last minute in one-second buckets, so memory stays
/// the same however high the limit or the traffic.
#[derive(Debug)]
struct LocalWindow {
    seconds: [Second; WINDOW_SECONDS as usize],
    in_flight: u64,
}

impl Default for LocalWindow {
    fn default() -> Self {
        LocalWindow {
            // Empty buckets count nothing, whichever second they claim.
            seconds: [Second::default(); WINDOW_SECONDS as usize],
            in_flight: 0,
        }
    }
}

/// Seconds (and the instant) since the process's first reading.
fn clock(now: Instant) -> (u64, Duration) {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let since = now.duration_since(*EPOCH.get_or_init(Instant::now));
    (since.as_secs(), since)
}

impl LocalWindow {
    /// The bucket of second `at`, emptied if it still holds an older second.
    fn bucket(&mut self, at: u64) -> &mut Second {
        let bucket = &mut self.seconds[(at % WINDOW_SECONDS) as usize];
        if bucket.at != at {
            *bucket = Second {
                at,
                ..Second::default()
            };
        }
        bucket
    }

    /// Buckets still in the window at second `now`.
    fn live(&self, now: u64) -> impl Iterator<Item = &Second> {
        self.seconds
            .iter()
            .filter(move |second| second.at + WINDOW_SECONDS > now)
    }

    fn requests(&self, now: u64) -> u64 {
        self.live(now).map(|second| second.requests).sum()
    }

    fn tokens_used(&self, now: u64) -> u64 {
        self.live(now).map(|second| second.tokens).sum()
    }

    /// Until the oldest second holding what `counts` counts leaves the window.
    fn reset(&self, now: Duration, counts: impl Fn(&Second) -> u64) -> Duration {
        self.live(now.as_secs())
            .filter(|second| counts(second) > 0)
            .map(|second| second.at)
            .min()
            .map_or(Duration::ZERO, |oldest| {
                Duration::from_secs(oldest + WINDOW_SECONDS).saturating_sub(now)
            })
    }

    fn check(&self, limits: &ScopeLimits, now: Duration) -> Result<(), Exceeded> {
        let exceeded = |kind, limit, retry_after| Exceeded {
            scope: limits.scope.clone(),
            kind,
            limit,
            retry_after,
        };
        let second = now.as_secs();
        if let Some(rpm) = limits.rpm {
            if self.requests(second) >= rpm {
                let retry = self.reset(now, |second| second.requests);
                return Err(exceeded(LimitKind::Requests, rpm, retry));
            }
        }
        if let Some(tpm) = limits.tpm {
            if self.tokens_used(second) >= tpm {
                let retry = self.reset(now, |second| second.tokens);
                return Err(exceeded(LimitKind::Tokens, tpm, retry));
            }
        }
        if let Some(parallel) = limits.parallel {
            if self.in_flight >= parallel {
                return Err(exceeded(
                    LimitKind::Parallel,
                    parallel,
                    Duration::from_secs(1),
                ));
            }
        }
        Ok(())
    }
}

/// Counts on this instance only.
#[derive(Default)]
pub struct LocalLimiter {
    windows: DashMap<Arc<str>, Arc<Mutex<LocalWindow>>>,
}

impl LocalLimiter {
    fn window(&self, scope: &Arc<str>) -> Arc<Mutex<LocalWindow>> {
        if let Some(window) = self.windows.get(scope) {
            return window.clone();
        }
        self.windows.entry(scope.clone()).or_default().clone()
    }

    fn admit(&self, scopes: &[ScopeLimits]) -> Result<Remaining, Exceeded> {
        let (second, now) = clock(Instant::now());
        // Locked in scope order, so two requests sharing scopes cannot deadlock.
        let mut order: Vec<usize> = (0..scopes.len()).collect();
        order.sort_by(|a, b| scopes[*a].scope.cmp(&scopes[*b].scope));
        let windows: Vec<Arc<Mutex<LocalWindow>>> = order
            .iter()
            .map(|index| self.window(&scopes[*index].scope))
            .collect();
        let mut locked: Vec<MutexGuard<'_, LocalWindow>> = windows.iter().map(lock).collect();
        for (window, index) in locked.iter().zip(&order) {
            window.check(&scopes[*index], now)?;
        }
        let mut remaining = Remaining::default();
        for (window, index) in locked.iter_mut().zip(&order) {
            let limits = &scopes[*index];
            if limits.rpm.is_some() {
                window.bucket(second).requests += 1;
            }
            if limits.parallel.is_some() {
                window.in_flight += 1;
            }
            if *index == 0 {
                remaining = Remaining {
                    requests: limits.rpm.map(|rpm| {
                        let reset = window.reset(now, |second| second.requests);
                        (rpm, rpm.saturating_sub(window.requests(second)), reset)
                    }),
                    tokens: limits.tpm.map(|tpm| {
                        let reset = window.reset(now, |second| second.tokens);
                        (tpm, tpm.saturating_sub(window.tokens_used(second)), reset)
                    }),
                };
            }
        }
        Ok(remaining)
    }

    fn end(&self, scopes: &[ScopeLimits], tokens: u64) {
        let (second, _) = clock(Instant::now());
        for limits in scopes {
            let window = self.window(&limits.scope);
            let mut window = lock(&window);
            if limits.parallel.is_some() {
                window.in_flight = window.in_flight.saturating_sub(1);
            }
            if limits.tpm.is_some() && tokens > 0 {
                window.bucket(second).tokens += tokens;
            }
        }
    }
}

fn lock(window: &Arc<Mutex<LocalWindow>>) -> MutexGuard<'_, LocalWindow> {
    window
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long recording a finished request's tokens in Redis may take (off the request path).
const END_TIMEOUT: Duration = Duration::from_secs(2);

/// Counts in Redis, shared by every instance.
pub struct RedisLimiter {
    link: Arc<RedisLink>,
    admit_script: redis::Script,
    tasks: tokio_util::task::TaskTracker,
}

/// Checks every scope's limits, then (only if all pass) counts the request in each. KEYS: per
/// scope its request log (sorted set, scored by admission time), token buckets (hash of Unix
/// second → tokens) and in-flight set (sorted set, scored by lease end). ARGV: now (ms), the
/// request id, the lease end (ms), then per scope rpm, tpm, parallel (-1: none). Returns
/// `{1, requests left, request reset ms, tokens left, token reset ms}` for the first scope, or
/// `{0, scope index, kind (1 requests, 2 tokens, 3 parallel), retry after ms}`.
const ADMIT_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local id = ARGV[2]
local lease_end = tonumber(ARGV[3])
local scopes = #KEYS / 3
local window = 60000
local summary = {1, -1, 0, -1, 0}
for i = 0, scopes - 1 do
  local log, buckets, flight = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local rpm = tonumber(ARGV[4 + i * 3])
  local tpm = tonumber(ARGV[5 + i * 3])
  local parallel = tonumber(ARGV[6 + i * 3])
  if rpm >= 0 then
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
    local count = redis.call('ZCARD', log)
    local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
    local reset = 0
    if oldest[2] then reset = tonumber(oldest[2]) + window - now end
    if count >= rpm then return {0, i, 1, reset} end
    if i == 0 then summary[2] = rpm - count - 1; summary[3] = reset end
  end
  if tpm >= 0 then
    local fields = redis.call('HGETALL', buckets)
    local used = 0
    local oldest = nil
    for j = 1, #fields, 2 do
      local second = tonumber(fields[j])
      if second * 1000 + window <= now then
        redis.call('HDEL', buckets, fields[j])
      else
        used = used + tonumber(fields[j + 1])
        if oldest == nil or second < oldest then oldest = second end
      end
    end
    local reset = 0
    if oldest then reset = oldest * 1000 + window - now end
    if used >= tpm then return {0, i, 2, reset} end
    if i == 0 then summary[4] = tpm - used; summary[5] = reset end
  end
  if parallel >= 0 then
    redis.call('ZREMRANGEBYSCORE', flight, '-inf', now)
    if redis.call('ZCARD', flight) >= parallel then return {0, i, 3, 1000} end
  end
end
for i = 0, scopes - 1 do
  local log, flight = KEYS[i * 3 + 1], KEYS[i * 3 + 3]
  if tonumber(ARGV[4 + i * 3]) >= 0 then
    redis.call('ZADD', log, now, id)
    redis.call('PEXPIRE', log, window + 1000)
  end
  if tonumber(ARGV[6 + i * 3]) >= 0 then
    redis.call('ZADD', flight, lease_end, id)
    redis.call('PEXPIREAT', flight, lease_end)
  end
end
return summary
";

impl RedisLimiter {
    pub fn new(link: Arc<RedisLink>, tasks: tokio_util::task::TaskTracker) -> Self {
        RedisLimiter {
            link,
            admit_script: redis::Script::new(ADMIT_SCRIPT),
            tasks,
        }
    }

    fn keys(scope: &str) -> [String; 3] {
        [
            format!("gatehouse:rpm:{scope}"),
            format!("gatehouse:tpm:{scope}"),
            format!("gatehouse:flight:{scope}"),
        ]
    }

    async fn admit(
        &self,
        scopes: &[ScopeLimits],
        request_id: &str,
    ) -> Result<Remaining, LimitError> {
        let now = unix_millis();
        let mut invocation = self.admit_script.prepare_invoke();
        for limits in scopes {
            for key in Self::keys(&limits.scope) {
                invocation.key(key);
            }
        }
        invocation
            .arg(now)
            .arg(request_id)
            .arg(now.saturating_add(PARALLEL_LEASE.as_millis() as u64));
        let as_arg =
            |limit: Option<u64>| limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
        for limits in scopes {
            invocation
                .arg(as_arg(limits.rpm))
                .arg(as_arg(limits.tpm))
                .arg(as_arg(limits.parallel));
        }
        let reply: Vec<i64> = self
            .link
            .call(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await?;
        let millis = |value: i64| Duration::from_millis(u64::try_from(value).unwrap_or(0));
        match reply.as_slice() {
            [1, requests_left, requests_reset, tokens_left, tokens_reset] => {
                let first = scopes.first();
                Ok(Remaining {
                    requests: first.and_then(|limits| limits.rpm).map(|rpm| {
                        (
                            rpm,
                            u64::try_from(*requests_left).unwrap_or(0),
                            millis(*requests_reset),
                        )
                    }),
                    tokens: first.and_then(|limits| limits.tpm).map(|tpm| {
                        (
                            tpm,
                            u64::try_from(*tokens_left).unwrap_or(0),
                            millis(*tokens_reset),
                        )
                    }),
                })
            }
            [0, index, kind, retry] => {
                let limits = usize::try_from(*index)
                    .ok()
                    .and_then(|index| scopes.get(index))
                    .ok_or_else(|| script_error("a scope it was not given"))?;
                let (kind, limit) = match kind {
                    1 => (LimitKind::Requests, limits.rpm),
                    2 => (LimitKind::Tokens, limits.tpm),
                    _ => (LimitKind::Parallel, limits.parallel),
                };
                Err(LimitError::Exceeded(Exceeded {
                    scope: limits.scope.clone(),
                    kind,
                    limit: limit.unwrap_or(0),
                    retry_after: millis(*retry),
                }))
            }
            _ => Err(script_error("an unexpected reply").into()),
        }
    }

    /// Counts a request's tokens and ends its place in flight, off the request path.
    fn end(&self, scopes: &[ScopeLimits], request_id: &str, tokens: u64) {
        let mut pipe = redis::pipe();
        let second = unix_millis() / 1000;
        let mut commands = 0;
        for limits in scopes {
            let [_, buckets, flight] = Self::keys(&limits.scope);
            if limits.parallel.is_some() {
                pipe.cmd("ZREM").arg(&flight).arg(request_id).ignore();
                commands += 1;
            }
            if limits.tpm.is_some() && tokens > 0 {
                pipe.cmd("HINCRBY")
                    .arg(&buckets)
                    .arg(second)
                    .arg(tokens)
                    .ignore();
                pipe.cmd("EXPIRE")
                    .arg(&buckets)
                    .arg(WINDOW.as_secs() + 60)
                    .ignore();
                commands += 2;
            }
        }
        if commands == 0 {
            return;
        }
        let link = self.link.clone();
        self.tasks.spawn(async move {
            // Off the request path: a slow Redis may take longer before the counts are lost.
            let ended = link
                .call_within(END_TIMEOUT, |mut connection| async move {
                    pipe.query_async::<()>(&mut connection).await
                })
                .await;
            if let Err(error) = ended {
                tracing::warn!(%error, "rate-limit counts not updated in Redis");
            }
        });
    }
}

fn script_error(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "rate-limit script returned",
        what.to_string(),
    ))
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl LimitError {
    /// What the client is told.
    pub fn into_api_error(self) -> ApiError {
        let error = self;
        match error {
            LimitError::Exceeded(exceeded) => ApiError::RateLimited(exceeded),
            LimitError::Unavailable(error) => {
                tracing::error!(%error, "rate-limit store unavailable; refusing");
                ApiError::LimitsUnavailable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(name: &str, rpm: Option<u64>, parallel: Option<u64>) -> ScopeLimits {
        ScopeLimits {
            scope: Arc::from(name),
            rpm,
            tpm: None,
            parallel,
        }
    }

    #[test]
    fn a_request_is_counted_in_every_scope_or_in_none() {
        let limiter = LocalLimiter::default();
        let both = [
            scope("key:a", Some(3), None),
            scope("team:t", Some(2), None),
        ];
        assert!(limiter.admit(&both).is_ok());
        assert!(limiter.admit(&both).is_ok());
        let refused = limiter.admit(&both).unwrap_err();
        assert_eq!(
            (refused.scope.as_ref(), refused.kind),
            ("team:t", LimitKind::Requests)
        );
        // The refused request did not count against the key.
        let key_only = [scope("key:a", Some(3), None)];
        let remaining = limiter.admit(&key_only).unwrap();
        assert_eq!(
            remaining.requests.map(|(limit, left, _)| (limit, left)),
            Some((3, 0))
        );
        assert!(limiter.admit(&key_only).is_err());
    }

    #[test]
    fn requests_in_flight_are_released_when_they_end() {
        let limiter = LocalLimiter::default();
        let one = [scope("key:p", None, Some(1))];
        limiter.admit(&one).unwrap();
        assert_eq!(limiter.admit(&one).unwrap_err().kind, LimitKind::Parallel);
        limiter.end(&one, 0);
        assert!(limiter.admit(&one).is_ok());
    }

    #[test]
    fn tokens_count_once_their_request_ended() {
        let limiter = LocalLimiter::default();
        let tokens = [ScopeLimits {
            scope: Arc::from("key:t"),
            rpm: None,
            tpm: Some(100),
            parallel: None,
        }];
        limiter.admit(&tokens).unwrap();
        limiter.end(&tokens, 60);
        let remaining = limiter.admit(&tokens).unwrap();
        assert_eq!(remaining.tokens.map(|(_, left, _)| left), Some(40));
        limiter.end(&tokens, 40);
        let refused = limiter.admit(&tokens).unwrap_err();
        assert_eq!(refused.kind, LimitKind::Tokens);
        assert!(refused.retry_after > Duration::from_secs(59));
    }
}
