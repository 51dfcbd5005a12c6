//! Health checks: every deployment probed with the smallest real request it can answer.
//! `/health` runs them at most once per `MIN_REFRESH` (concurrent callers share one run), and
//! with `background_health_checks` every `health_check_interval`, a deployment that fails its
//! probe is taken out of rotation until a probe passes again — before a user's request meets it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use futures::StreamExt;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::config::HealthSettings;
use crate::core::error::ApiError;
use crate::core::failure::Failure;
use crate::providers::probe::{probe, Probed};
use crate::providers::Deployment;
use crate::routing::live::LiveModels;

/// A report younger than this is served again rather than probing every deployment anew.
pub const MIN_REFRESH: Duration = Duration::from_secs(10);
/// The longest a probe waits for its deployment.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Probes in flight at once.
const PROBES_AT_ONCE: usize = 8;

/// What one probe found.
#[derive(Debug, Clone)]
pub enum Outcome {
    Healthy(String),
    Unhealthy {
        error: String,
        status: u16,
        /// Whether the failure says the deployment is down (a 5xx, a timeout, a refused
        /// connection), not that it disliked the probe.
        down: bool,
    },
    NotProbed(String),
}

#[derive(Debug, Clone)]
pub struct EndpointHealth {
    pub deployment: Arc<Deployment>,
    pub outcome: Outcome,
    pub latency: Duration,
}

/// One round of probes.
#[derive(Debug)]
pub struct HealthReport {
    pub checked_at: OffsetDateTime,
    taken: Instant,
    pub endpoints: Vec<EndpointHealth>,
}

pub struct HealthChecks {
    models: Arc<LiveModels>,
    http: reqwest::Client,
    settings: HealthSettings,
    latest: ArcSwapOption<HealthReport>,
    /// One round at a time.
    running: tokio::sync::Mutex<()>,
}

impl HealthChecks {
    pub fn new(models: Arc<LiveModels>, http: reqwest::Client, settings: HealthSettings) -> Self {
        HealthChecks {
            models,
            http,
            settings,
            latest: ArcSwapOption::empty(),
            running: tokio::sync::Mutex::new(()),
        }
    }

    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// The last round's report, if one ran.
    pub fn latest(&self) -> Option<Arc<HealthReport>> {
        self.latest.load_full()
    }

    /// A report: the background checks' latest when they run (no probe is sent on request),
    /// else the last one if it is younger than `MIN_REFRESH`, else a new round. The round runs
    /// in a task of its own: a caller that leaves does not waste the probes already sent, and
    /// the next caller gets their report.
    pub async fn report(self: &Arc<Self>) -> Option<Arc<HealthReport>> {
        if self.settings.background {
            if let Some(latest) = self.latest() {
                return Some(latest);
            }
        }
        if let Some(fresh) = self.fresh() {
            return Some(fresh);
        }
        let checks = self.clone();
        let round = tokio::spawn(async move {
            let _running = checks.running.lock().await;
            // A round that ran while this one waited is fresh enough.
            match checks.fresh() {
                Some(fresh) => fresh,
                None => checks.round().await,
            }
        });
        round
            .await
            .inspect_err(|error| tracing::error!(%error, "a health round failed"))
            .ok()
    }

    fn fresh(&self) -> Option<Arc<HealthReport>> {
        self.latest()
            .filter(|report| report.taken.elapsed() < MIN_REFRESH)
    }

    /// Probes every deployment and keeps the report.
    async fn round(&self) -> Arc<HealthReport> {
        let groups = self.models.groups_owned();
        let endpoints: Vec<EndpointHealth> = futures::stream::iter(groups.deployments().cloned())
            .map(|deployment| self.check(deployment))
            .buffer_unordered(PROBES_AT_ONCE)
            .collect()
            .await;
        let mut endpoints = endpoints;
        endpoints.sort_by(|a, b| {
            (&a.deployment.model_group, &a.deployment.id)
                .cmp(&(&b.deployment.model_group, &b.deployment.id))
        });
        let report = Arc::new(HealthReport {
            checked_at: OffsetDateTime::now_utc(),
            taken: Instant::now(),
            endpoints,
        });
        self.latest.store(Some(report.clone()));
        report
    }

    async fn check(&self, deployment: Arc<Deployment>) -> EndpointHealth {
        let started = Instant::now();
        let limit = PROBE_TIMEOUT.min(deployment.timeout);
        let outcome = match tokio::time::timeout(limit, probe(&self.http, &deployment)).await {
            Ok(Ok(Probed::Answered(summary))) => Outcome::Healthy(summary),
            Ok(Ok(Probed::NotProbed(reason))) => Outcome::NotProbed(reason),
            Ok(Err(error)) => unhealthy(&error),
            Err(_) => Outcome::Unhealthy {
                error: format!("no answer within {} s", limit.as_secs()),
                status: 504,
                down: true,
            },
        };
        EndpointHealth {
            deployment,
            outcome,
            latency: started.elapsed(),
        }
    }

    /// `background_health_checks`: a round every interval, each taking failing deployments
    /// out of rotation (for two intervals, renewed while they fail) and putting passing ones
    /// back.
    pub async fn keep_checking(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let started = Instant::now();
            let round = async {
                let _running = self.running.lock().await;
                self.round().await
            };
            let report = tokio::select! {
                report = round => report,
                () = stop.cancelled() => return,
            };
            // Out until the round after next has ended, however long rounds take.
            let hold = self
                .settings
                .interval
                .saturating_mul(2)
                .saturating_add(started.elapsed());
            for endpoint in &report.endpoints {
                let state = &endpoint.deployment.state;
                match &endpoint.outcome {
                    Outcome::Unhealthy {
                        down: true, error, ..
                    } => {
                        if state.cooling_for().is_none() {
                            tracing::warn!(
                                deployment = %endpoint.deployment.id,
                                group = %endpoint.deployment.model_group,
                                %error,
                                "health check failed: out of rotation until a check passes"
                            );
                        }
                        state.cool_down_for(hold);
                    }
                    Outcome::Healthy(_) => state.probe_passed(),
                    Outcome::Unhealthy { .. } | Outcome::NotProbed(_) => {}
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.interval) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

fn unhealthy(error: &ApiError) -> Outcome {
    Outcome::Unhealthy {
        error: error.to_string(),
        status: error.status().as_u16(),
        down: Failure::of(error).counts_against_health(),
    }
}
