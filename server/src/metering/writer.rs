//! The batched spend writer: rows queue in memory (bounded: a full queue slows requests down
//! rather than dropping rows), land in one multi-row statement per batch, are retried while the
//! database is unavailable, and are drained on shutdown.

use std::sync::Arc;
use std::time::Duration;

use app::db::spend::{self, SpendRow};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::policy::alerts::Alerts;
use crate::policy::budgets::Ledger;

/// Rows a batch holds at most.
const MAX_BATCH: usize = 2_000;
/// Rows that may wait in memory before requests wait for the writer: ten full batches, about
/// 12 MB of rows. A deeper queue only hides a database that cannot keep up, at the cost of
/// memory (100,000 rows held 60 MB more at peak under the benchmark's load).
const QUEUE_CAPACITY: usize = 20_000;
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
    ) -> (SpendQueue, SpendWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stop = CancellationToken::new();
        let landed = Landed { ledger, alerts };
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
}

/// Writes one batch, retrying with backoff; then the ledger and alerts follow it.
async fn write(
    pool: &PgPool,
    landed: &Landed,
    batch: &mut Vec<SpendRow>,
    stop: &CancellationToken,
) {
    let mut attempt: u32 = 0;
    loop {
        match spend::insert_batch(pool, batch, landed.ledger.instance()).await {
            Ok(spends) => {
                landed.ledger.flushed(batch, &spends);
                if let Some(alerts) = &landed.alerts {
                    alerts.after_batch(batch);
                }
                tracing::debug!(rows = batch.len(), "spend batch written");
                batch.clear();
                return;
            }
            Err(error) => {
                attempt += 1;
                if stop.is_cancelled() && attempt >= SHUTDOWN_ATTEMPTS {
                    let ids: Vec<&str> = batch.iter().map(|row| row.request_id.as_str()).collect();
                    tracing::error!(%error, rows = batch.len(), request_ids = ?ids, "spend rows could not be written before shutdown");
                    batch.clear();
                    return;
                }
                let delay = Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)))
                    .min(MAX_RETRY_DELAY);
                tracing::warn!(%error, attempt, rows = batch.len(), "spend batch failed; retrying");
                sleep(delay).await;
            }
        }
    }
}
