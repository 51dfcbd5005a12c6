//! Request-log callbacks (LiteLLM's `callbacks`, `success_callback`, `failure_callback`):
//! Langfuse's ingestion API, a signed JSON webhook, a JSON Lines file. Each sink has its own
//! queue of `QUEUE_CAPACITY` logs — when it is full a new log is dropped and counted, so a slow
//! or dead sink never slows a request — and one task that sends batches, retrying a failed one
//! `ATTEMPTS` times with backoff before dropping and counting it. Spend rows never go through
//! here: a sink's trouble cannot lose one.

mod langfuse;
pub mod payload;
mod sinks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{SinkKind, SinkSettings};
use payload::CallLog;
use sinks::Target;

/// Logs a sink's queue holds.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Logs per delivery.
const BATCH: usize = 100;
/// The longest a log waits for its batch to fill.
const BATCH_WINDOW: Duration = Duration::from_millis(500);
/// Deliveries of one batch before it is dropped.
const ATTEMPTS: u32 = 3;
/// The wait before the second attempt (doubling after).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// How long shutdown waits for the queued logs.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// What one sink counted, for `/metrics`.
#[derive(Default)]
pub struct SinkCounts {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
}

struct Sink {
    name: &'static str,
    on_success: bool,
    on_failure: bool,
    sender: mpsc::Sender<Arc<CallLog>>,
    counts: Arc<SinkCounts>,
}

/// Every configured sink and its task.
pub struct Callbacks {
    sinks: Vec<Sink>,
    stop: CancellationToken,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Callbacks {
    /// Starts a task per sink.
    pub fn start(settings: &[SinkSettings], http: reqwest::Client) -> Callbacks {
        Callbacks::start_with_capacity(settings, http, QUEUE_CAPACITY)
    }

    /// `start` with queues of `capacity` logs.
    fn start_with_capacity(
        settings: &[SinkSettings],
        http: reqwest::Client,
        capacity: usize,
    ) -> Callbacks {
        let stop = CancellationToken::new();
        let mut sinks = Vec::new();
        let mut tasks = Vec::new();
        for sink in settings {
            let (sender, receiver) = mpsc::channel(capacity);
            let counts = Arc::new(SinkCounts::default());
            let (name, target) = match &sink.kind {
                SinkKind::Langfuse {
                    host,
                    public_key,
                    secret_key,
                } => (
                    "langfuse",
                    Target::Langfuse(langfuse::Langfuse::new(
                        http.clone(),
                        host,
                        public_key.clone(),
                        secret_key.clone(),
                    )),
                ),
                SinkKind::Webhook {
                    url,
                    headers,
                    secret,
                } => (
                    "webhook",
                    Target::Webhook(sinks::Webhook::new(
                        http.clone(),
                        url.clone(),
                        headers.clone(),
                        secret.clone(),
                    )),
                ),
                SinkKind::File { path } => ("file", Target::File(path.clone())),
            };
            tasks.push(tokio::spawn(deliver(
                name,
                target,
                receiver,
                counts.clone(),
                stop.clone(),
            )));
            sinks.push(Sink {
                name,
                on_success: sink.on_success,
                on_failure: sink.on_failure,
                sender,
                counts,
            });
        }
        Callbacks {
            sinks,
            stop,
            tasks: std::sync::Mutex::new(tasks),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Whether any sink logs a call that succeeded (or failed).
    pub fn wants(&self, success: bool) -> bool {
        self.sinks.iter().any(|sink| sink.wants(success))
    }

    /// Hands the log to each sink that wants it; a full queue drops it (counted).
    pub fn log(&self, log: CallLog) {
        let log = Arc::new(log);
        for sink in self.sinks.iter().filter(|sink| sink.wants(log.success)) {
            if sink.sender.try_send(log.clone()).is_err() {
                sink.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Each sink's counts, by name.
    pub fn counts(&self) -> impl Iterator<Item = (&'static str, &SinkCounts)> {
        self.sinks.iter().map(|sink| (sink.name, &*sink.counts))
    }

    /// Delivers what is queued (within `DRAIN_LIMIT`; a sink still busy then is abandoned),
    /// then stops the tasks.
    pub async fn finish(&self) {
        self.stop.cancel();
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
        for mut task in tasks {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "a callback task ended badly"),
                Err(_) => {
                    tracing::warn!("a request-log callback was still delivering at shutdown; its logs were dropped");
                    task.abort();
                }
            }
        }
    }
}

impl Sink {
    fn wants(&self, success: bool) -> bool {
        if success {
            self.on_success
        } else {
            self.on_failure
        }
    }
}

/// One sink's task: batches from its queue, delivered with retries.
async fn deliver(
    name: &'static str,
    mut target: Target,
    mut receiver: mpsc::Receiver<Arc<CallLog>>,
    counts: Arc<SinkCounts>,
    stop: CancellationToken,
) {
    let mut batch: Vec<Arc<CallLog>> = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            received = receiver.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    return;
                }
            }
        }
        let window = tokio::time::sleep(BATCH_WINDOW);
        tokio::pin!(window);
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            tokio::select! {
                received = receiver.recv_many(&mut batch, room) => {
                    if received == 0 { break; }
                }
                () = &mut window => break,
                () = stop.cancelled() => break,
            }
        }
        send_with_retries(name, &mut target, &batch, &counts, ATTEMPTS).await;
        batch.clear();
    }
    // Shutting down: what is queued gets one attempt each, within the drain limit.
    let drain = async {
        receiver.close();
        loop {
            batch.clear();
            if receiver.recv_many(&mut batch, BATCH).await == 0 {
                return;
            }
            send_with_retries(name, &mut target, &batch, &counts, 1).await;
        }
    };
    if tokio::time::timeout(DRAIN_LIMIT, drain).await.is_err() {
        tracing::warn!(
            callback = name,
            "request logs still queued at shutdown were dropped"
        );
    }
}

async fn send_with_retries(
    name: &'static str,
    target: &mut Target,
    batch: &[Arc<CallLog>],
    counts: &SinkCounts,
    attempts: u32,
) {
    let mut wait = FIRST_BACKOFF;
    for attempt in 1..=attempts {
        match target.send(batch).await {
            Ok(()) => {
                counts.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                tracing::warn!(callback = name, attempt, %error, logs = batch.len(), "request logs not delivered");
                if !error.retryable || attempt == attempts {
                    break;
                }
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
    }
    counts
        .failed
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::secret::Secret;

    /// A webhook that takes connections and never answers.
    async fn silent_sink() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        (url, task)
    }

    fn log(id: &str) -> CallLog {
        CallLog {
            payload: serde_json::json!({ "id": id }),
            success: true,
            request_id: id.to_string(),
            user: None,
            session: None,
            tags: Vec::new(),
            started_at: time::OffsetDateTime::now_utc(),
            ended_at: time::OffsetDateTime::now_utc(),
        }
    }

    #[tokio::test]
    async fn a_sink_that_never_answers_drops_what_its_queue_cannot_hold() {
        let (url, _sink) = silent_sink().await;
        let settings = [SinkSettings {
            kind: SinkKind::Webhook {
                url,
                headers: Vec::new(),
                secret: Some(Secret::new("s".into())),
            },
            on_success: true,
            on_failure: false,
        }];
        let callbacks = Callbacks::start_with_capacity(&settings, reqwest::Client::new(), 1);
        assert!(!callbacks.wants(false));
        // One log fills the queue (the sink's task has not run yet), so the second is dropped;
        // then the task takes the first and its delivery hangs.
        callbacks.log(log("1"));
        callbacks.log(log("2"));
        tokio::time::sleep(BATCH_WINDOW + Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        for id in ["3", "4", "5"] {
            callbacks.log(log(id));
        }
        // Handing a log over never waits for the sink: the third waits in the queue, the
        // fourth and fifth are dropped.
        assert!(started.elapsed() < Duration::from_millis(50));
        let (_, counts) = callbacks.counts().next().unwrap();
        assert_eq!(counts.dropped.load(Ordering::Relaxed), 3);
        assert_eq!(counts.sent.load(Ordering::Relaxed), 0);
    }
}
