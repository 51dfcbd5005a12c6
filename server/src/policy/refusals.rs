//! Refusals of callers nobody knows (no key, or a key that opens nothing), counted per address
//! and written as one audit row per address per minute: random keys cannot fill the
//! append-only audit log, yet every such refusal is counted. Refusals of known callers are
//! audited one by one (`audit::watch`). Bounded: past `MAX_ADDRESSES` addresses in a minute,
//! the rest share one row.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use app::db::audit::{self, AuditEntry};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How often the counts are written.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses counted apart within a window; the rest are counted together.
const MAX_ADDRESSES: usize = 10_000;
/// The address the overflow is counted under.
const OTHER_ADDRESSES: &str = "other addresses";

/// Refusals of unknown callers in the current window, per address.
#[derive(Default)]
pub struct RefusalTally {
    counts: Mutex<HashMap<String, Tally>>,
}

/// How many refusals an address had, and one of the routes it tried.
struct Tally {
    count: u64,
    sample_action: String,
}

impl RefusalTally {
    /// Counts a refusal of an unknown caller from `source` trying `action`.
    pub fn count(&self, source: Option<String>, action: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut address = source.unwrap_or_else(|| "unknown address".to_string());
        if counts.len() >= MAX_ADDRESSES && !counts.contains_key(&address) {
            address = OTHER_ADDRESSES.to_string();
        }
        counts
            .entry(address)
            .or_insert_with(|| Tally {
                count: 0,
                sample_action: action.to_string(),
            })
            .count += 1;
    }

    /// Writes one audit row per address counted since the last write.
    pub async fn flush(&self, pool: &PgPool) {
        let counts =
            std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        for (address, tally) in counts {
            let entry = AuditEntry {
                actor: "unknown key".into(),
                action: "refused.unknown_key".into(),
                target_type: "route".into(),
                target_id: None,
                allowed: false,
                before: None,
                after: Some(json!({
                    "count": tally.count,
                    "sample_action": tally.sample_action,
                    "window_seconds": WINDOW.as_secs(),
                })),
                source_ip: (address != OTHER_ADDRESSES).then_some(address),
            };
            if let Err(error) = audit::record(pool, &entry).await {
                tracing::error!(%error, count = tally.count, "refusals of unknown keys could not be audited");
            }
        }
    }
}

/// Writes the tally every `WINDOW` until `stop`, then once more.
pub async fn keep_writing(
    pool: PgPool,
    tally: std::sync::Arc<RefusalTally>,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(WINDOW);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => tally.flush(&pool).await,
            () = stop.cancelled() => break,
        }
    }
    tally.flush(&pool).await;
}
