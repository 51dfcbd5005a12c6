//! The one connection to Redis that limits, cooldowns and usage counts share, built so that a
//! Redis fault costs a request milliseconds, never minutes: every call has a short deadline
//! (`CALL_TIMEOUT`), consecutive failures open a circuit breaker that fails calls at once for
//! `BREAKER_OPEN` before calls are let through again, and Gatehouse starts without waiting for
//! Redis (it connects in the background, and again after it was lost). What each feature does
//! while Redis is away is its own choice: limits refuse (fail closed), cooldowns and usage
//! counts fall back to this instance (fail open); see docs/GOVERNANCE.md and docs/ROUTING.md.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult};

/// The longest a call (a command, a script, a pipeline) may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(80);
/// The longest one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// Consecutive failures that open the breaker.
const BREAKER_FAILURES: u32 = 3;
/// How long an open breaker fails calls before it lets one through.
pub const BREAKER_OPEN: Duration = Duration::from_secs(1);

pub struct RedisLink {
    client: redis::Client,
    connection: ArcSwapOption<ConnectionManager>,
    /// A connection attempt is under way (at most one at a time).
    connecting: AtomicBool,
    failures: AtomicU32,
    /// Unix milliseconds until which the breaker is open.
    open_until: AtomicU64,
}

impl RedisLink {
    /// A link to the Redis at `url`, not yet connected (no I/O: the URL is only parsed).
    pub fn open(url: &str) -> RedisResult<Arc<RedisLink>> {
        Ok(Arc::new(RedisLink {
            client: redis::Client::open(url)?,
            connection: ArcSwapOption::empty(),
            connecting: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
        }))
    }

    /// Connects now if Redis answers within `CONNECT_TIMEOUT`; otherwise the link stays down
    /// and connects in the background when next used. Never fails: start-up goes on.
    pub async fn connect(&self) -> bool {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(100);
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT.saturating_mul(2),
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match attempt {
            Ok(Ok(connection)) => {
                self.connection.store(Some(Arc::new(connection)));
                self.failures.store(0, Ordering::Relaxed);
                true
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "Redis does not answer; connecting again in the background");
                false
            }
            Err(_) => {
                tracing::warn!("Redis did not answer within {CONNECT_TIMEOUT:?}; connecting again in the background");
                false
            }
        }
    }

    /// Runs `operation` on the shared connection within `CALL_TIMEOUT`. Fails at once while
    /// the breaker is open or no connection exists yet (starting an attempt in the background).
    pub async fn call<T, Operation, Running>(
        self: &Arc<Self>,
        operation: Operation,
    ) -> RedisResult<T>
    where
        Operation: FnOnce(ConnectionManager) -> Running,
        Running: Future<Output = RedisResult<T>>,
    {
        self.call_within(CALL_TIMEOUT, operation).await
    }

    /// [`RedisLink::call`] with another deadline, for work off the request path.
    pub async fn call_within<T, Operation, Running>(
        self: &Arc<Self>,
        deadline: Duration,
        operation: Operation,
    ) -> RedisResult<T>
    where
        Operation: FnOnce(ConnectionManager) -> Running,
        Running: Future<Output = RedisResult<T>>,
    {
        if self.open_until.load(Ordering::Relaxed) > unix_millis() {
            return Err(unavailable("the Redis circuit breaker is open"));
        }
        let Some(connection) = self.connection.load_full() else {
            self.connect_in_background();
            return Err(unavailable("Redis is not connected"));
        };
        match tokio::time::timeout(deadline, operation((*connection).clone())).await {
            Ok(Ok(value)) => {
                self.failures.store(0, Ordering::Relaxed);
                Ok(value)
            }
            Ok(Err(error)) => {
                self.failed(&error);
                Err(error)
            }
            Err(_) => {
                let error = unavailable("Redis did not answer in time");
                self.failed(&error);
                Err(error)
            }
        }
    }

    /// Whether Redis answers a PING now.
    pub async fn ping(self: &Arc<Self>) -> bool {
        self.call(|mut connection| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .is_ok()
    }

    /// The client, for subscriptions (which hold their own connection).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Counts a failure; enough in a row open the breaker.
    fn failed(&self, error: &RedisError) {
        crate::core::faults::redis_error();
        // A reply Redis gave (a script error, a wrong type) says nothing about its health.
        if error.kind() == ErrorKind::ResponseError {
            return;
        }
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= BREAKER_FAILURES {
            let until = unix_millis().saturating_add(BREAKER_OPEN.as_millis() as u64);
            self.open_until.store(until, Ordering::Relaxed);
            self.failures.store(0, Ordering::Relaxed);
        }
    }

    /// Starts one connection attempt in the background, unless one is under way.
    fn connect_in_background(self: &Arc<Self>) {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let link = self.clone();
        tokio::spawn(async move {
            if !link.connect().await {
                // Hold the next attempt back as long as the breaker would.
                let until = unix_millis().saturating_add(BREAKER_OPEN.as_millis() as u64);
                link.open_until.store(until, Ordering::Relaxed);
            }
            link.connecting.store(false, Ordering::Release);
        });
    }
}

fn unavailable(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::IoError, what))
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
