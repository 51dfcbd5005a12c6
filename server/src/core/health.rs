//! What the router knows about each deployment at run time: requests in flight, moving averages
//! of latency and time to first token, this minute's requests and tokens (with the other
//! instances' where Redis shares them), and the circuit breaker (failures within a minute or in
//! a row → cooldown → one half-open probe → healthy).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::core::clock::unix_minute;
use crate::core::deployment_stats::DeploymentStats;
use crate::core::failure::Failure;

/// Weight of a new latency sample in the moving average.
const LATENCY_SMOOTHING: f64 = 0.3;
/// Failures in a row that eject a deployment whatever `allowed_fails` says.
pub const CONSECUTIVE_FAILURES_EJECT: u32 = 5;
/// The window `allowed_fails` counts failures in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// A probe that has not reported back after this long (its request never reached the upstream,
/// say) lets another request probe.
const PROBE_EXPIRY: Duration = Duration::from_secs(30);

/// Milliseconds since the process's first reading, so instants fit in an atomic.
fn now_millis() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// `DeploymentState::minute` while one caller zeroes the counters for a new minute.
const ROLLING_MINUTE: u64 = u64::MAX;

/// When failures put a deployment in cooldown: the router settings' `allowed_fails`,
/// `cooldown_time` and `disable_cooldowns`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cooldowns {
    /// Failures within a minute that put a deployment in cooldown.
    pub allowed_fails: u32,
    pub cooldown: Duration,
    pub enabled: bool,
}

/// Whether a deployment may take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Healthy,
    /// Cooling down for this much longer.
    CoolingDown(Duration),
    /// Its cooldown ended: the next request may probe it.
    HalfOpen,
    /// Its cooldown ended and a probe is in flight.
    Probing,
}

#[derive(Debug, Default)]
struct Breaker {
    window_started: u64,
    fails_in_window: u32,
    consecutive: u32,
}

/// One deployment's live state, shared by every model-group rebuild that keeps the deployment.
#[derive(Debug, Default)]
pub struct DeploymentState {
    in_flight: AtomicU64,
    /// Moving averages in microseconds, as `f64` bits (0: no sample yet).
    latency: AtomicU64,
    first_token: AtomicU64,
    /// The Unix minute the counters below count (aligned across instances).
    minute: AtomicU64,
    minute_requests: AtomicU64,
    minute_tokens: AtomicU64,
    /// What other instances counted in `others_minute` (shared through Redis).
    others_minute: AtomicU64,
    others_requests: AtomicU64,
    others_tokens: AtomicU64,
    /// When the cooldown ends, in `now_millis` (0: not cooling down).
    cooled_until: AtomicU64,
    /// When the half-open probe was claimed, in `now_millis` (0: not claimed).
    probe_claimed: AtomicU64,
    breaker: Mutex<Breaker>,
    /// Whether the breaker counts failures in a row (so a success must reset it).
    failing: AtomicBool,
    /// Cooldowns this instance started.
    cooldowns: AtomicU64,
    /// Its last half hour, minute by minute (the capability table's).
    pub stats: DeploymentStats,
}

impl DeploymentState {
    pub fn availability(&self) -> Availability {
        let until = self.cooled_until.load(Ordering::Acquire);
        if until == 0 {
            return Availability::Healthy;
        }
        let now = now_millis();
        if now < until {
            Availability::CoolingDown(Duration::from_millis(until - now))
        } else if probe_pending(self.probe_claimed.load(Ordering::Acquire), now) {
            Availability::Probing
        } else {
            Availability::HalfOpen
        }
    }

    /// Whether a cooldown ran out and its probe has not yet reported back.
    fn cooldown_over(&self) -> bool {
        let until = self.cooled_until.load(Ordering::Acquire);
        until != 0 && now_millis() >= until
    }

    /// Claims the half-open probe; false when another request holds it.
    pub fn take_probe(&self) -> bool {
        let now = now_millis();
        self.probe_claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |claimed| {
                (!probe_pending(claimed, now)).then_some(now)
            })
            .is_ok()
    }

    /// Closes the breaker: the deployment answered.
    fn close(&self) {
        self.cooled_until.store(0, Ordering::Release);
        self.probe_claimed.store(0, Ordering::Release);
    }

    /// A health check's probe answered: the deployment takes traffic again.
    pub fn probe_passed(&self) {
        if self.cooled_until.load(Ordering::Acquire) != 0 {
            self.close();
        }
        if self.failing.load(Ordering::Acquire) {
            let mut breaker = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
            breaker.consecutive = 0;
            self.failing.store(false, Ordering::Release);
        }
    }

    /// Whether its last attempts failed (a success ends the run).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }

    /// Cooldowns this instance started so far.
    pub fn cooldowns_started(&self) -> u64 {
        self.cooldowns.load(Ordering::Relaxed)
    }

    /// When its cooldown ends, if it is cooling down.
    pub fn cooling_for(&self) -> Option<Duration> {
        match self.availability() {
            Availability::CoolingDown(left) => Some(left),
            _ => None,
        }
    }

    /// Counts a request in flight until the guard drops (least-busy routing).
    pub fn busy(self: &std::sync::Arc<Self>) -> Busy {
        let in_flight = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.in_flight(in_flight);
        Busy {
            state: self.clone(),
        }
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The moving average of whole-request latency, or of time to first token for streams
    /// (each falling back on the other); `None` before any sample.
    pub fn latency(&self, stream: bool) -> Option<Duration> {
        let (preferred, other) = if stream {
            (&self.first_token, &self.latency)
        } else {
            (&self.latency, &self.first_token)
        };
        let bits = match preferred.load(Ordering::Relaxed) {
            0 => other.load(Ordering::Relaxed),
            bits => bits,
        };
        (bits != 0).then(|| Duration::from_secs_f64(f64::from_bits(bits) / 1e6))
    }

    /// This minute's requests and tokens, here and (where shared) on the other instances.
    pub fn minute_usage(&self) -> (u64, u64) {
        let minute = unix_minute();
        let (requests, tokens) = self.own_minute_usage(minute);
        if self.others_minute.load(Ordering::Acquire) != minute {
            return (requests, tokens);
        }
        (
            requests + self.others_requests.load(Ordering::Relaxed),
            tokens + self.others_tokens.load(Ordering::Relaxed),
        )
    }

    /// The requests and tokens this instance counted in Unix minute `minute`.
    pub fn own_minute_usage(&self, minute: u64) -> (u64, u64) {
        if self.minute.load(Ordering::Acquire) != minute {
            return (0, 0);
        }
        (
            self.minute_requests.load(Ordering::Relaxed),
            self.minute_tokens.load(Ordering::Relaxed),
        )
    }

    /// What the other instances counted in Unix minute `minute`.
    pub fn set_others_usage(&self, minute: u64, requests: u64, tokens: u64) {
        self.others_requests.store(requests, Ordering::Relaxed);
        self.others_tokens.store(tokens, Ordering::Relaxed);
        self.others_minute.store(minute, Ordering::Release);
    }

    /// Counts a request routed here this minute.
    pub fn count_request(&self) {
        self.roll_minute();
        self.minute_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the tokens a finished request used.
    pub fn count_tokens(&self, tokens: u64) {
        self.roll_minute();
        self.minute_tokens.fetch_add(tokens, Ordering::Relaxed);
    }

    fn roll_minute(&self) {
        let minute = unix_minute();
        let seen = self.minute.load(Ordering::Acquire);
        // One caller zeroes the counters; until it is done, readers see no counts at all
        // rather than last minute's as this minute's.
        if seen != minute
            && seen != ROLLING_MINUTE
            && self
                .minute
                .compare_exchange(seen, ROLLING_MINUTE, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.minute_requests.store(0, Ordering::Relaxed);
            self.minute_tokens.store(0, Ordering::Relaxed);
            self.minute.store(minute, Ordering::Release);
        }
    }

    /// A successful attempt: its latency (time to first token for streams) joins the average
    /// and the breaker closes.
    pub fn succeeded(&self, elapsed: Duration, stream: bool) {
        self.stats.succeeded(elapsed, stream);
        let average = if stream {
            &self.first_token
        } else {
            &self.latency
        };
        let sample = elapsed.as_secs_f64() * 1e6;
        let _ = average.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            let next = if bits == 0 {
                sample
            } else {
                let previous = f64::from_bits(bits);
                previous + LATENCY_SMOOTHING * (sample - previous)
            };
            Some(next.max(1.0).to_bits())
        });
        // Only a request sent after the cooldown (the probe) closes the breaker: one still in
        // flight from before proves nothing.
        if self.cooldown_over() {
            self.close();
        }
        // Most successes follow successes: the lock is taken only to end a run of failures.
        if self.failing.load(Ordering::Acquire) {
            let mut breaker = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
            breaker.consecutive = 0;
            self.failing.store(false, Ordering::Release);
        }
    }

    /// A failed attempt. Failures that say nothing about the deployment (a 400, a 404) leave it
    /// alone; the others open the breaker once `allowed_fails` is exceeded within a minute, or
    /// after `CONSECUTIVE_FAILURES_EJECT` in a row, or at once when a probe fails. Returns the
    /// cooldown started, if any.
    pub fn failed(&self, failure: Failure, settings: &Cooldowns) -> Option<Duration> {
        self.stats.failed(failure);
        if !failure.counts_against_health() {
            // A probe answered with the client's error: the deployment itself is up.
            if self.cooldown_over() {
                self.close();
            }
            return None;
        }
        let now = now_millis();
        if self.cooling_for().is_some() {
            // Requests still in flight from before the cooldown: it is already known.
            return None;
        }
        let mut breaker = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_sub(breaker.window_started) >= FAILURE_WINDOW.as_millis() as u64 {
            breaker.window_started = now;
            breaker.fails_in_window = 0;
        }
        breaker.fails_in_window += 1;
        breaker.consecutive += 1;
        self.failing.store(true, Ordering::Release);
        let probe_failed = self.cooldown_over();
        let trips = probe_failed
            || breaker.fails_in_window > settings.allowed_fails
            || breaker.consecutive >= CONSECUTIVE_FAILURES_EJECT;
        if !(trips && settings.enabled && !settings.cooldown.is_zero()) {
            if probe_failed {
                // Cooled down by another instance's announcement; this one keeps no cooldowns.
                self.close();
            }
            return None;
        }
        breaker.fails_in_window = 0;
        self.cooldowns.fetch_add(1, Ordering::Relaxed);
        self.cool_down_until(now + settings.cooldown.as_millis() as u64);
        Some(settings.cooldown)
    }

    /// Cools the deployment down until `until` (in `now_millis`), as another instance did.
    fn cool_down_until(&self, until: u64) {
        self.cooled_until.store(until.max(1), Ordering::Release);
        self.probe_claimed.store(0, Ordering::Release);
    }

    /// Applies a cooldown another instance started, `left` from now.
    pub fn cool_down_for(&self, left: Duration) {
        let until = now_millis() + left.as_millis() as u64;
        if self.cooled_until.load(Ordering::Acquire) < until {
            self.cool_down_until(until);
        }
    }
}

/// Whether a probe claimed at `claimed` (0: never) still holds the half-open slot at `now`.
fn probe_pending(claimed: u64, now: u64) -> bool {
    claimed != 0 && now.saturating_sub(claimed) < PROBE_EXPIRY.as_millis() as u64
}

/// A request in flight on a deployment; counted until dropped.
#[derive(Debug)]
pub struct Busy {
    state: std::sync::Arc<DeploymentState>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn settings(allowed_fails: u32, cooldown_ms: u64) -> Cooldowns {
        Cooldowns {
            allowed_fails,
            cooldown: Duration::from_millis(cooldown_ms),
            enabled: true,
        }
    }

    #[test]
    fn a_passing_health_probe_ends_a_cooldown_and_a_run_of_failures() {
        let state = DeploymentState::default();
        state.cool_down_for(Duration::from_secs(60));
        assert_eq!(state.failed(Failure::Server, &settings(0, 60_000)), None);
        assert!(state.cooling_for().is_some());
        state.probe_passed();
        assert_eq!(state.availability(), Availability::Healthy);
        assert!(!state.is_failing());
        assert_eq!(state.cooldowns_started(), 0);
        assert_eq!(
            state.failed(Failure::Server, &settings(0, 60_000)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(state.cooldowns_started(), 1);
        assert!(state.is_failing());
    }

    #[test]
    fn cools_down_after_allowed_fails_then_probes_once_and_recovers() {
        let state = DeploymentState::default();
        let settings = settings(2, 40);
        assert_eq!(state.failed(Failure::Server, &settings), None);
        assert_eq!(state.failed(Failure::Server, &settings), None);
        assert_eq!(
            state.failed(Failure::Server, &settings),
            Some(Duration::from_millis(40))
        );
        assert!(matches!(state.availability(), Availability::CoolingDown(_)));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(state.availability(), Availability::HalfOpen);
        assert!(state.take_probe());
        assert!(!state.take_probe());
        assert_eq!(state.availability(), Availability::Probing);
        state.succeeded(Duration::from_millis(3), false);
        assert_eq!(state.availability(), Availability::Healthy);
    }

    #[test]
    fn a_failed_probe_cools_down_again_and_client_errors_never_count() {
        let state = DeploymentState::default();
        let settings = settings(0, 30);
        assert!(state.failed(Failure::Final, &settings).is_none());
        assert!(state.failed(Failure::ContextWindow, &settings).is_none());
        assert_eq!(state.availability(), Availability::Healthy);
        assert!(state.failed(Failure::Timeout, &settings).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(state.take_probe());
        assert!(state.failed(Failure::Server, &settings).is_some());
        assert!(matches!(state.availability(), Availability::CoolingDown(_)));
    }

    #[test]
    fn a_probe_answered_with_a_client_error_closes_the_breaker() {
        let state = DeploymentState::default();
        let settings = settings(0, 20);
        assert!(state.failed(Failure::Server, &settings).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(state.take_probe());
        assert!(state.failed(Failure::Final, &settings).is_none());
        assert_eq!(state.availability(), Availability::Healthy);
    }

    #[test]
    fn a_success_sent_before_the_cooldown_does_not_end_it() {
        let state = DeploymentState::default();
        state.cool_down_for(Duration::from_secs(30));
        state.succeeded(Duration::from_millis(5), false);
        assert!(state.cooling_for().is_some());
    }

    #[test]
    fn consecutive_failures_eject_even_with_a_large_allowance() {
        let state = DeploymentState::default();
        let settings = settings(1_000, 1_000);
        for _ in 1..CONSECUTIVE_FAILURES_EJECT {
            assert!(state.failed(Failure::Server, &settings).is_none());
        }
        assert!(state.failed(Failure::Server, &settings).is_some());
        let disabled = Cooldowns {
            enabled: false,
            ..settings
        };
        let other = DeploymentState::default();
        for _ in 0..10 {
            assert!(other.failed(Failure::Server, &disabled).is_none());
        }
    }

    #[test]
    fn latency_is_a_moving_average_and_busy_counts_in_flight() {
        let state = Arc::new(DeploymentState::default());
        assert_eq!(state.latency(false), None);
        state.succeeded(Duration::from_millis(100), false);
        state.succeeded(Duration::from_millis(200), false);
        let average = state.latency(false).unwrap().as_secs_f64();
        assert!((average - 0.130).abs() < 1e-6, "{average}");
        assert_eq!(state.latency(true), state.latency(false));
        let first = state.busy();
        let second = state.busy();
        assert_eq!(state.in_flight(), 2);
        drop((first, second));
        assert_eq!(state.in_flight(), 0);
        state.count_request();
        state.count_tokens(50);
        assert_eq!(state.minute_usage(), (1, 50));
        // Other instances' counts join while they are of the same minute.
        let minute = unix_minute();
        state.set_others_usage(minute, 4, 100);
        assert_eq!(state.minute_usage(), (5, 150));
        assert_eq!(state.own_minute_usage(minute), (1, 50));
        state.set_others_usage(minute - 1, 4, 100);
        assert_eq!(state.minute_usage(), (1, 50));
    }
}
