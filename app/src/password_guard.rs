//! Bounds on the work a visitor can cause before being authenticated: failed logins (and
//! setup attempts) per address and per account within a window, then a 429 until the window
//! passes; and at most a few Argon2 hashes at once on the blocking pool, then a 503. The
//! counts are this instance's own.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::ConsoleError;
use crate::secrets;

/// How long failed attempts are remembered.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts from one address within the window before it must wait.
const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// Failed attempts on one account within the window before it must wait (from anywhere).
const MAX_FAILURES_PER_ACCOUNT: u32 = 10;
/// Addresses and accounts remembered at most (the least recently used are forgotten first, so a
/// flood of new names never locks anyone else out).
const MAX_TRACKED: u64 = 100_000;
/// Argon2 hashes running at once (each takes ~19 MiB and tens of milliseconds of a core).
const HASH_SLOTS: usize = 2;
/// How long a login waits for a hash slot before it is told to come back.
const HASH_WAIT: Duration = Duration::from_secs(2);

/// Failed attempts of one address or account since `since` (the first of the window).
struct Failures {
    since: Instant,
    count: AtomicU32,
}

/// Failures per `address:` or `account:` name; an entry ends a `WINDOW` after its first failure.
static FAILURES: LazyLock<moka::sync::Cache<String, Arc<Failures>>> = LazyLock::new(|| {
    moka::sync::Cache::builder()
        .max_capacity(MAX_TRACKED)
        .time_to_live(WINDOW)
        .build()
});
static HASH_PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(HASH_SLOTS));

/// Who an attempt counts against: its address (IPv6 by its /64) and, for a login, the account
/// it names.
pub struct Attempt {
    limits: Vec<(String, u32)>,
    /// Where the attempt came from, for the log.
    pub address: Option<IpAddr>,
}

impl Attempt {
    /// An attempt from the current request's address, on `account` when it names one.
    pub async fn of_request(account: Option<&str>) -> Attempt {
        let address = leptos_axum::extract::<axum::extract::ConnectInfo<SocketAddr>>()
            .await
            .ok()
            .map(|axum::extract::ConnectInfo(address)| address.ip());
        Attempt::new(address, account)
    }

    pub fn new(address: Option<IpAddr>, account: Option<&str>) -> Attempt {
        let mut limits = Vec::with_capacity(2);
        if let Some(address) = address {
            let block = match address {
                IpAddr::V4(_) => address,
                IpAddr::V6(v6) => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    IpAddr::from(octets)
                }
            };
            limits.push((format!("address:{block}"), MAX_FAILURES_PER_ADDRESS));
        }
        if let Some(account) = account {
            let account: String = account.trim().to_lowercase().chars().take(320).collect();
            limits.push((format!("account:{account}"), MAX_FAILURES_PER_ACCOUNT));
        }
        Attempt { limits, address }
    }

    /// Refuses the attempt while its address or account has failed too often (429 with the
    /// seconds to wait).
    pub fn check(&self) -> Result<(), ConsoleError> {
        let wait = self
            .limits
            .iter()
            .filter_map(|(name, limit)| {
                let failed = FAILURES.get(name)?;
                (failed.count.load(Ordering::Relaxed) >= *limit).then(|| {
                    WINDOW
                        .saturating_sub(failed.since.elapsed())
                        .as_secs()
                        .max(1)
                })
            })
            .max();
        match wait {
            Some(seconds) => Err(ConsoleError::TooManyAttempts(seconds)),
            None => Ok(()),
        }
    }

    /// Counts a failure against the address and the account.
    pub fn failed(&self) {
        for (name, _) in &self.limits {
            FAILURES
                .get_with_by_ref(name, || {
                    Arc::new(Failures {
                        since: Instant::now(),
                        count: AtomicU32::new(0),
                    })
                })
                .count
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A success clears the account's failures (not the address's).
    pub fn succeeded(&self) {
        for (name, _) in &self.limits {
            if name.starts_with("account:") {
                FAILURES.invalidate(name);
            }
        }
    }
}

/// Runs an Argon2 computation on the blocking pool once a hash slot is free (503 after
/// `HASH_WAIT`).
async fn with_hash_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ConsoleError> {
    let permit = tokio::time::timeout(HASH_WAIT, HASH_PERMITS.acquire())
        .await
        .map_err(|_| ConsoleError::Busy)?
        .map_err(|_| ConsoleError::Internal)?;
    let result = tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ConsoleError::Internal);
    drop(permit);
    result
}

/// Checks a password against a stored hash (the dummy hash when there is none), bounded.
pub async fn verify_password(
    password: String,
    stored_hash: Option<String>,
) -> Result<bool, ConsoleError> {
    with_hash_slot(move || secrets::verify_password(&password, stored_hash.as_deref())).await
}

/// Hashes a new password, bounded.
pub async fn hash_password(password: String) -> Result<String, ConsoleError> {
    with_hash_slot(move || secrets::hash_password(&password))
        .await?
        .map_err(|_| ConsoleError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_or_account_that_fails_too_often_waits() {
        let address: IpAddr = "192.0.2.77".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let attempt = Attempt::new(Some(address), Some("Victim@Example.com"));
        for _ in 0..MAX_FAILURES_PER_ACCOUNT {
            assert!(attempt.check().is_ok());
            attempt.failed();
        }
        assert!(matches!(
            attempt.check(),
            Err(ConsoleError::TooManyAttempts(seconds)) if seconds > 0
        ));
        // The same account from elsewhere waits too; another account from elsewhere does not.
        let elsewhere = Attempt::new(None, Some("victim@example.com "));
        assert!(elsewhere.check().is_err());
        assert!(Attempt::new(None, Some("other@example.com"))
            .check()
            .is_ok());
    }

    #[tokio::test]
    async fn hashing_waits_for_a_free_slot_then_says_busy() {
        let held: Vec<_> = futures_slots().await;
        assert_eq!(held.len(), HASH_SLOTS);
        let refused = hash_password("a-password-to-hash".into()).await;
        assert!(matches!(refused, Err(ConsoleError::Busy)), "{refused:?}");
        drop(held);
        assert!(hash_password("a-password-to-hash".into()).await.is_ok());
    }

    /// Takes every hash slot.
    async fn futures_slots() -> Vec<tokio::sync::SemaphorePermit<'static>> {
        let mut held = Vec::new();
        for _ in 0..HASH_SLOTS {
            if let Ok(permit) = HASH_PERMITS.acquire().await {
                held.push(permit);
            }
        }
        held
    }
}
