//! Upkeep of the spend log, run by every instance (the database serializes it): monthly
//! partitions made ahead of time, raw rows pruned past `maximum_spend_logs_retention_period`
//! (rollups stay), stored payloads pruned past their own retention.

use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use app::db::spend;

use crate::config::SpendLogSettings;

/// How often partitions are checked (they are made two months ahead).
const CHECK_EVERY: Duration = Duration::from_secs(3_600);
/// Payload rows deleted per statement, so pruning never holds long locks.
const PAYLOAD_BATCH: i64 = 5_000;

/// Keeps the spend log's partitions and retention until `stop`.
pub async fn maintain_until(pool: PgPool, settings: SpendLogSettings, stop: CancellationToken) {
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        if let Err(error) = ensure_partitions(&pool).await {
            tracing::warn!(%error, "spend log partitions not made; rows wait in the default partition");
        }
        let prune_due = last_prune.is_none_or(|at| at.elapsed() >= settings.prune_every);
        if prune_due {
            match prune(&pool, &settings, &stop).await {
                Ok(()) => last_prune = Some(tokio::time::Instant::now()),
                Err(error) => tracing::warn!(%error, "spend log pruning failed; retrying later"),
            }
        }
        let wait = CHECK_EVERY.min(settings.prune_every);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Partitions for last month through two months ahead.
pub async fn ensure_partitions(pool: &PgPool) -> Result<i32, sqlx::Error> {
    let today = OffsetDateTime::now_utc().date();
    let first = today.replace_day(1).unwrap_or(today) - time::Duration::days(1);
    let last = today + time::Duration::days(62);
    let made = spend::ensure_partitions(pool, first, last).await?;
    if made > 0 {
        tracing::info!(made, "spend log partitions made");
    }
    Ok(made)
}

async fn prune(
    pool: &PgPool,
    settings: &SpendLogSettings,
    stop: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    if let Some(retention) = settings.retention {
        let dropped = spend::prune(pool, now - retention).await?;
        tracing::info!(dropped, "spend rows past retention pruned");
    }
    let cutoff = now - settings.payload_retention;
    loop {
        let deleted = spend::prune_payloads(pool, cutoff, PAYLOAD_BATCH).await?;
        if deleted < PAYLOAD_BATCH as u64 || stop.is_cancelled() {
            return Ok(());
        }
    }
}
