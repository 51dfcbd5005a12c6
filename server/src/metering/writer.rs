//! The batched spend writer: rows queue in memory (bounded: a full queue slows requests down
//! rather than dropping rows), land in one multi-row statement per batch, are retried while the
//! database is unavailable, and are drained on shutdown. A row the database refuses never holds
//! up the others: it is split out, repaired or set aside, and recorded.

use std::sync::Arc;
use std::time::Duration;

use app::db::spend::{self, SpendRow};
use app::db::spend_faults::{self, FaultOutcome};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::observe::metrics::FlushMeters;
use crate::policy::alerts::Alerts;
use crate::policy::budgets::Ledger;

/// Rows a batch holds at most.
const MAX_BATCH: usize = 2_000;
/// Rows that may wait in memory before requests wait for the writer: ten full batches, about
/// 12 MB of rows. A deeper queue only hides a database that cannot keep up, at the cost of
/// memory (100,000 rows held 60 MB more at peak under the benchmark's load).
pub const QUEUE_CAPACITY: usize = 20_000;
/// Longest wait between attempts while the database is unavailable.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Attempts per batch once shutdown has begun.
const SHUTDOWN_ATTEMPTS: u32 = 8;

/// Where requests put their spend rows.
#[derive(Clone)]
pub struct SpendQueue {
    sender: mpsc::Sender<SpendRow>,
}

impl SpendQueue {
    /// Rows waiting for the writer.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    pub async fn push(&self, row: SpendRow) {
        if let Err(error) = self.sender.send(row).await {
            // Only after the writer was stopped, which happens after all requests finished.
            tracing::error!(request_id = %error.0.request_id, "spend row arrived after shutdown");
        }
    }
}

/// The running writer task.
pub struct SpendWriter {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl SpendWriter {
    /// Starts the writer; `window` is how long a batch collects rows before it is written.
    pub fn spawn(
        pool: PgPool,
        ledger: Arc<Ledger>,
        alerts: Option<Alerts>,
        window: Duration,
        flush: FlushMeters,
    ) -> (SpendQueue, SpendWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stop = CancellationToken::new();
        let landed = Landed {
            ledger,
            alerts,
            flush,
        };
        let task = tokio::spawn(run(receiver, pool, landed, window, stop.clone()));
        (SpendQueue { sender }, SpendWriter { stop, task })
    }

    /// Writes everything still queued, then stops.
    pub async fn finish(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "spend writer task failed");
        }
    }
}

async fn run(
    mut receiver: mpsc::Receiver<SpendRow>,
    pool: PgPool,
    landed: Landed,
    window: Duration,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            received = receiver.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    break;
                }
            }
            () = stop.cancelled() => break,
        }
        let deadline = Instant::now() + window;
        while batch.len() < MAX_BATCH && !stop.is_cancelled() {
            let room = MAX_BATCH - batch.len();
            tokio::select! {
                received = receiver.recv_many(&mut batch, room) => {
                    if received == 0 {
                        break;
                    }
                }
                () = sleep_until(deadline) => break,
                () = stop.cancelled() => break,
            }
        }
        write(&pool, &landed, &mut batch, &stop).await;
    }
    receiver.close();
    loop {
        if batch.is_empty() && receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        write(&pool, &landed, &mut batch, &stop).await;
    }
    tracing::info!("spend writer drained");
}

/// What follows a batch that landed.
struct Landed {
    /// What the rows drew from leases is now spend.
    ledger: Arc<Ledger>,
    /// Budgets the rows moved past a soft limit raise an alert.
    alerts: Option<Alerts>,
    /// Each batch's latency and failures, for `/metrics`.
    flush: FlushMeters,
}

/// Writes one batch, retrying with backoff while the database is unavailable; then the ledger
/// and alerts follow it. A batch the database refuses for one of its rows (`is_row_fault`) is
/// split in halves until the faulty row is alone, so every other row lands; that row is
/// repaired and landed, or set aside in `spend_row_faults` (see `land_alone`).
async fn write(
    pool: &PgPool,
    landed: &Landed,
    batch: &mut Vec<SpendRow>,
    stop: &CancellationToken,
) {
    let mut parts = vec![std::mem::take(batch)];
    while let Some(part) = parts.pop() {
        match insert_retrying(pool, landed, &part, stop).await {
            Ok(()) => {}
            // Shutdown gave up on an unavailable database (the rows were logged).
            Err(error) if !spend_faults::is_row_fault(&error) => {}
            Err(_) if part.len() > 1 => {
                let mut first = part;
                let second = first.split_off(first.len() / 2);
                parts.push(second);
                parts.push(first);
            }
            Err(error) => {
                if let Some(row) = part.into_iter().next() {
                    land_alone(pool, landed, row, &error, stop).await;
                }
            }
        }
    }
    batch.clear();
}

/// A row the database refused alone: repaired (NULs replaced, values cut to their bounds) and
/// landed, flagged `repaired`; failing that, stripped to what is billed (who, what, how much)
/// and landed; if even that is refused, kept whole as `set_aside`. Each is recorded in
/// `spend_row_faults` with the error the original met.
async fn land_alone(
    pool: &PgPool,
    landed: &Landed,
    row: SpendRow,
    error: &sqlx::Error,
    stop: &CancellationToken,
) {
    let mut outcome = FaultOutcome::SetAside;
    for candidate in [row.repaired(), row.stripped()] {
        match insert_retrying(pool, landed, std::slice::from_ref(&candidate), stop).await {
            Ok(()) => {
                outcome = FaultOutcome::Repaired;
                break;
            }
            Err(error) if spend_faults::is_row_fault(&error) => {}
            // Shutdown gave up on an unavailable database (the row was logged).
            Err(_) => return,
        }
    }
    tracing::error!(
        request_id = %row.request_id,
        %error,
        outcome = ?outcome,
        "a spend row was refused by the database"
    );
    let mut attempt: u32 = 0;
    while let Err(record_error) = spend_faults::record(pool, &row, outcome, error).await {
        attempt += 1;
        // A record the database refuses as it is would be refused forever: logged instead.
        if spend_faults::is_row_fault(&record_error)
            || (stop.is_cancelled() && attempt >= SHUTDOWN_ATTEMPTS)
        {
            tracing::error!(request_id = %row.request_id, %record_error, "spend row fault could not be recorded before shutdown");
            return;
        }
        sleep(retry_delay(attempt)).await;
    }
}

/// Inserts rows in one statement, retrying while the database is unavailable; `Err` when the
/// rows themselves are refused (`is_row_fault`), or on shutdown when they could not land after
/// `SHUTDOWN_ATTEMPTS` (logged with their request ids).
async fn insert_retrying(
    pool: &PgPool,
    landed: &Landed,
    rows: &[SpendRow],
    stop: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let mut attempt: u32 = 0;
    loop {
        let started = std::time::Instant::now();
        let inserted = spend::insert_batch(pool, rows, landed.ledger.instance()).await;
        if inserted.is_err() {
            landed.flush.failed();
            crate::core::faults::postgres_error();
        }
        match inserted {
            Ok(spends) => {
                landed.flush.landed(started.elapsed());
                landed.ledger.flushed(rows, &spends);
                if let Some(alerts) = &landed.alerts {
                    alerts.after_batch(rows);
                }
                tracing::debug!(rows = rows.len(), "spend batch written");
                return Ok(());
            }
            Err(error) if spend_faults::is_row_fault(&error) => return Err(error),
            Err(error) => {
                attempt += 1;
                if stop.is_cancelled() && attempt >= SHUTDOWN_ATTEMPTS {
                    let ids: Vec<&str> = rows.iter().map(|row| row.request_id.as_str()).collect();
                    tracing::error!(%error, rows = rows.len(), request_ids = ?ids, "spend rows could not be written before shutdown");
                    return Err(error);
                }
                tracing::warn!(%error, attempt, rows = rows.len(), "spend batch failed; retrying");
                sleep(retry_delay(attempt)).await;
            }
        }
    }
}

/// The wait before another attempt: doubling from 200 ms, at most `MAX_RETRY_DELAY`.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6))).min(MAX_RETRY_DELAY)
}
