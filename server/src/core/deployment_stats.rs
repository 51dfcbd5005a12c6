//! What a deployment did over the last half hour, minute by minute, in atomics: its attempts,
//! their failures by kind, latency and time-to-first-token histograms, tokens and spend, and
//! the most requests it had in flight. Read for the backend capability table
//! (`/model_group/info`, the console's Backends page); written by each attempt at the cost of a
//! few atomic additions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::core::clock::unix_minute;
use crate::core::failure::Failure;

/// Minutes kept.
pub const MINUTES: usize = 30;
/// Upper bounds of the latency buckets, in milliseconds (the last catches the rest).
pub const LATENCY_BOUNDS_MS: [u64; 18] = [
    5, 10, 25, 50, 75, 100, 150, 250, 400, 600, 1_000, 1_500, 2_500, 4_000, 6_000, 10_000, 30_000,
    60_000,
];
const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;
/// The kinds of failure counted apart (`Failure::label`'s order).
pub const FAILURE_KINDS: [&str; 9] = [
    "timeout",
    "rate_limited",
    "server_error",
    "context_window_exceeded",
    "content_policy_violation",
    "upstream_auth_error",
    "not_found",
    "unsuitable",
    "rejected",
];

#[derive(Debug, Default)]
struct Slot {
    /// The Unix minute it counts (0: none yet).
    minute: AtomicU64,
    successes: AtomicU64,
    failures: [AtomicU64; FAILURE_KINDS.len()],
    latency: [AtomicU64; BUCKETS],
    first_token: [AtomicU64; BUCKETS],
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    cost_micros: AtomicU64,
    peak_in_flight: AtomicU64,
}

impl Slot {
    fn clear(&self) {
        for counter in [
            &self.successes,
            &self.input_tokens,
            &self.output_tokens,
            &self.cost_micros,
            &self.peak_in_flight,
        ]
        .into_iter()
        .chain(&self.failures)
        .chain(&self.latency)
        .chain(&self.first_token)
        {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A deployment's last `MINUTES` minutes.
#[derive(Debug)]
pub struct DeploymentStats {
    slots: Box<[Slot; MINUTES]>,
}

impl Default for DeploymentStats {
    fn default() -> Self {
        DeploymentStats {
            slots: Box::new(std::array::from_fn(|_| Slot::default())),
        }
    }
}

/// One minute as the table shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MinutePoint {
    pub minute: u64,
    pub attempts: u64,
    pub failures: u64,
    /// Median latency of the minute's successful attempts, in milliseconds.
    pub p50_ms: Option<f64>,
}

/// The last minutes, summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSummary {
    pub successes: u64,
    /// By kind, `FAILURE_KINDS`' order.
    pub failures: [u64; FAILURE_KINDS.len()],
    pub p50_latency_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
    pub p50_first_token_ms: Option<f64>,
    pub p95_first_token_ms: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: u64,
    pub peak_in_flight: u64,
    /// Oldest first, one point per minute of the window (empty minutes included).
    pub minutes: Vec<MinutePoint>,
}

impl StatsSummary {
    pub fn attempts(&self) -> u64 {
        self.successes + self.failures.iter().sum::<u64>()
    }

    /// Failed attempts over all attempts (0 without any).
    pub fn failure_rate(&self) -> f64 {
        let attempts = self.attempts();
        if attempts == 0 {
            0.0
        } else {
            self.failures.iter().sum::<u64>() as f64 / attempts as f64
        }
    }

    /// Observed dollars per million tokens, in and out together (`None` without tokens).
    pub fn observed_usd_per_mtok(&self) -> Option<f64> {
        let tokens = self.input_tokens + self.output_tokens;
        (tokens > 0).then(|| self.cost_micros as f64 / tokens as f64)
    }
}

fn bucket(elapsed: Duration) -> usize {
    let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    LATENCY_BOUNDS_MS
        .iter()
        .position(|bound| millis <= *bound)
        .unwrap_or(BUCKETS - 1)
}

/// The `quantile` of a histogram, interpolated within its bucket, in milliseconds.
fn quantile(counts: &[u64; BUCKETS], quantile: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = quantile * total as f64;
    let mut seen = 0.0;
    for (index, count) in counts.iter().enumerate() {
        let count = *count as f64;
        if count > 0.0 && seen + count >= rank {
            let lower = if index == 0 {
                0.0
            } else {
                LATENCY_BOUNDS_MS[index - 1] as f64
            };
            let upper = LATENCY_BOUNDS_MS
                .get(index)
                .map_or(lower * 2.0, |bound| *bound as f64);
            return Some(lower + (upper - lower) * ((rank - seen) / count).clamp(0.0, 1.0));
        }
        seen += count;
    }
    None
}

impl DeploymentStats {
    /// This minute's slot, cleared first if it last counted an older minute.
    fn now(&self) -> &Slot {
        self.at(unix_minute())
    }

    fn at(&self, minute: u64) -> &Slot {
        let slot = &self.slots[(minute % MINUTES as u64) as usize];
        let seen = slot.minute.load(Ordering::Acquire);
        if seen != minute
            && slot
                .minute
                .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            // Counts racing the clear may be lost: these are statistics, not the ledger.
            slot.clear();
        }
        slot
    }

    /// A successful attempt and its latency (a stream's: to its first bytes).
    pub fn succeeded(&self, elapsed: Duration, stream: bool) {
        let slot = self.now();
        slot.successes.fetch_add(1, Ordering::Relaxed);
        let histogram = if stream {
            &slot.first_token
        } else {
            &slot.latency
        };
        histogram[bucket(elapsed)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(&self, failure: Failure) {
        let kind = FAILURE_KINDS
            .iter()
            .position(|kind| *kind == failure.label())
            .unwrap_or(FAILURE_KINDS.len() - 1);
        self.now().failures[kind].fetch_add(1, Ordering::Relaxed);
    }

    /// What a call it served was billed.
    pub fn billed(&self, input_tokens: u64, output_tokens: u64, cost_micros: u64) {
        let slot = self.now();
        slot.input_tokens.fetch_add(input_tokens, Ordering::Relaxed);
        slot.output_tokens
            .fetch_add(output_tokens, Ordering::Relaxed);
        slot.cost_micros.fetch_add(cost_micros, Ordering::Relaxed);
    }

    /// Requests in flight on it now (the minute keeps the most it saw).
    pub fn in_flight(&self, requests: u64) {
        self.now()
            .peak_in_flight
            .fetch_max(requests, Ordering::Relaxed);
    }

    /// The last `window` minutes (at most `MINUTES`), this one included.
    pub fn summary(&self, window: usize) -> StatsSummary {
        self.summary_at(unix_minute(), window)
    }

    fn summary_at(&self, now: u64, window: usize) -> StatsSummary {
        let window = window.clamp(1, MINUTES) as u64;
        let mut summary = StatsSummary::default();
        let mut latency = [0u64; BUCKETS];
        let mut first_token = [0u64; BUCKETS];
        for minute in now.saturating_sub(window - 1)..=now {
            let slot = &self.slots[(minute % MINUTES as u64) as usize];
            let mut point = MinutePoint {
                minute,
                ..MinutePoint::default()
            };
            if slot.minute.load(Ordering::Acquire) == minute {
                let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
                let successes = read(&slot.successes);
                let failures: Vec<u64> = slot.failures.iter().map(read).collect();
                let mut minute_latency = [0u64; BUCKETS];
                for (index, counter) in slot.latency.iter().enumerate() {
                    minute_latency[index] = read(counter);
                    latency[index] += minute_latency[index];
                }
                for (index, counter) in slot.first_token.iter().enumerate() {
                    first_token[index] += read(counter);
                }
                summary.successes += successes;
                for (total, count) in summary.failures.iter_mut().zip(&failures) {
                    *total += count;
                }
                summary.input_tokens += read(&slot.input_tokens);
                summary.output_tokens += read(&slot.output_tokens);
                summary.cost_micros += read(&slot.cost_micros);
                summary.peak_in_flight = summary.peak_in_flight.max(read(&slot.peak_in_flight));
                point.failures = failures.iter().sum();
                point.attempts = successes + point.failures;
                point.p50_ms = quantile(&minute_latency, 0.5);
            }
            summary.minutes.push(point);
        }
        summary.p50_latency_ms = quantile(&latency, 0.5);
        summary.p95_latency_ms = quantile(&latency, 0.95);
        summary.p50_first_token_ms = quantile(&first_token, 0.5);
        summary.p95_first_token_ms = quantile(&first_token, 0.95);
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_sums_its_minutes_and_forgets_older_ones() {
        let stats = DeploymentStats::default();
        let now = 1_000_000;
        // A minute a full window ago, in the slot `now` takes over: cleared, not added.
        stats.at(now - MINUTES as u64).failures[0].fetch_add(7, Ordering::Relaxed);
        for millis in [20u64, 30, 40, 45, 900] {
            let slot = stats.at(now);
            slot.successes.fetch_add(1, Ordering::Relaxed);
            slot.latency[bucket(Duration::from_millis(millis))].fetch_add(1, Ordering::Relaxed);
        }
        stats.at(now - 1).failures[2].fetch_add(3, Ordering::Relaxed);
        let summary = stats.summary_at(now, 5);
        assert_eq!(summary.successes, 5);
        assert_eq!(summary.failures[2], 3);
        assert_eq!(summary.failures[0], 0);
        assert_eq!(summary.attempts(), 8);
        assert!((summary.failure_rate() - 3.0 / 8.0).abs() < 1e-9);
        let p50 = summary.p50_latency_ms.unwrap();
        assert!((25.0..=50.0).contains(&p50), "{p50}");
        assert!(summary.p95_latency_ms.unwrap() > 600.0);
        assert_eq!(summary.minutes.len(), 5);
        assert_eq!(summary.minutes[4].attempts, 5);
        assert_eq!(summary.minutes[3].failures, 3);
        assert_eq!(summary.minutes[0].attempts, 0);
        // Its own minute again: kept.
        assert_eq!(stats.at(now).successes.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let stats = DeploymentStats::default();
        stats.failed(Failure::Timeout);
        stats.failed(Failure::Credentials);
        stats.succeeded(Duration::from_millis(5), true);
        stats.billed(100, 50, 3_000);
        let summary = stats.summary(1);
        assert_eq!(summary.failures[0], 1);
        assert_eq!(summary.failures[5], 1);
        assert!(summary.p50_first_token_ms.unwrap() <= 5.0);
        assert_eq!(summary.p50_latency_ms, None);
        assert_eq!(summary.observed_usd_per_mtok(), Some(20.0));
    }
}
