//! The Prometheus registry: the catalog's metrics a deployment keeps (with the labels
//! `prometheus_metrics_config` keeps), what one call adds to them, and the readings taken when
//! `/metrics` is scraped.
//!
//! On the request path a call finds its label combination's handles in the series cache (one
//! hash, no lock, no allocation once seen) and adds to atomics; histograms are the
//! `prometheus` crate's (atomic buckets, no lock on `observe`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use prometheus::core::Collector;
use prometheus::{
    Counter, CounterVec, Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec,
    IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use super::catalog::{Buckets, Kind, Metric, MetricDef, Owner, CATALOG, LATENCY_BUCKETS};
use super::labels::{exception_class, status_text, Label, LabelValues, LABEL_COUNT};
use super::series::{Found, SeriesCache};
use crate::config::PrometheusSettings;

/// A kept metric and the labels it keeps.
struct Kept {
    family: Family,
    labels: Box<[Label]>,
}

enum Family {
    Counter(IntCounterVec),
    FloatCounter(CounterVec),
    Gauge(GaugeVec),
    Histogram(HistogramVec),
}

impl Family {
    fn collector(&self) -> Box<dyn Collector> {
        match self {
            Family::Counter(vec) => Box::new(vec.clone()),
            Family::FloatCounter(vec) => Box::new(vec.clone()),
            Family::Gauge(vec) => Box::new(vec.clone()),
            Family::Histogram(vec) => Box::new(vec.clone()),
        }
    }

    /// Drops every series (scrape-time readings are set afresh).
    fn reset(&self) {
        match self {
            Family::Counter(vec) => vec.reset(),
            Family::FloatCounter(vec) => vec.reset(),
            Family::Gauge(vec) => vec.reset(),
            Family::Histogram(vec) => vec.reset(),
        }
    }
}

/// The metrics a call adds to: made once per label combination, each handle on first use (so
/// a refused request leaves no empty latency series behind).
#[derive(Default)]
struct CallSeries {
    requests: OnceLock<Option<IntCounter>>,
    failed: OnceLock<Option<IntCounter>>,
    total_latency: OnceLock<Option<Histogram>>,
    api_latency: OnceLock<Option<Histogram>>,
    first_token: OnceLock<Option<Histogram>>,
    overhead: OnceLock<Option<Histogram>>,
    spend: OnceLock<Option<Counter>>,
    total_tokens: OnceLock<Option<IntCounter>>,
    input_tokens: OnceLock<Option<IntCounter>>,
    output_tokens: OnceLock<Option<IntCounter>>,
    deployment_success: OnceLock<Option<IntCounter>>,
    gen_ai_input: OnceLock<Option<Histogram>>,
    gen_ai_output: OnceLock<Option<Histogram>>,
    gen_ai_duration: OnceLock<Option<Histogram>>,
    gen_ai_first_token: OnceLock<Option<Histogram>>,
}

/// The metrics a call's series holds (the rest are read at scrape time or are rare).
const CALL_METRICS: [Metric; 14] = [
    Metric::ProxyTotalRequests,
    Metric::ProxyFailedRequests,
    Metric::RequestTotalLatency,
    Metric::LlmApiLatency,
    Metric::LlmApiTimeToFirstToken,
    Metric::OverheadLatency,
    Metric::Spend,
    Metric::TotalTokens,
    Metric::InputTokens,
    Metric::OutputTokens,
    Metric::DeploymentSuccessResponses,
    Metric::GenAiTokenUsage,
    Metric::GenAiOperationDuration,
    Metric::GenAiTimeToFirstToken,
];

/// Labels whose values follow from others in the key (the status, the route, the deployment)
/// or are set per handle: not hashed into a call's key.
const DERIVED: [Label; 9] = [
    Label::ExceptionStatus,
    Label::ExceptionClass,
    Label::ErrorType,
    Label::GenAiTokenType,
    // The route's endpoint's operation; the requested model; the deployment's model and
    // provider.
    Label::GenAiOperationName,
    Label::GenAiRequestModel,
    Label::GenAiResponseModel,
    Label::GenAiProviderName,
    Label::LitellmModelName,
];

/// The value every label but the status takes in the overflow series.
const OVERFLOW: &str = "other";

/// What one finished call measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallMeasures {
    pub status: u16,
    /// Arrival to last byte; `None` for a request refused before any upstream was chosen.
    pub total_seconds: Option<f64>,
    /// The answering attempt's upstream time (a stream's: to its end), if one answered.
    pub upstream_seconds: Option<f64>,
    /// A stream's first bytes, if it streamed.
    pub first_token_seconds: Option<f64>,
    /// The gateway's own time: the total less the upstreams' time and retry waits.
    pub overhead_seconds: f64,
    pub spend_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// What a scrape reads of one deployment.
pub struct DeploymentReading<'a> {
    /// Its `litellm_model_name`, `model_id`, `api_base`, `api_provider` and `model_group`.
    pub labels: LabelValues<'a>,
    /// 0 healthy, 1 failing, 2 cooling down.
    pub state: f64,
    pub cooldowns: u64,
    pub remaining_requests: Option<f64>,
    pub remaining_tokens: Option<f64>,
}

/// What a scrape reads of one key's or team's budget.
pub struct BudgetReading<'a> {
    /// The key's `hashed_api_key` and `api_key_alias`, or the team's `team` and `team_alias`.
    pub labels: LabelValues<'a>,
    pub team: bool,
    /// USD left (+Inf without a limit).
    pub remaining_usd: f64,
}

/// Everything a scrape reads rather than counts as it happens.
#[derive(Default)]
pub struct Readings<'a> {
    pub deployments: Vec<DeploymentReading<'a>>,
    pub budgets: Vec<BudgetReading<'a>>,
    pub spend_queue_depth: u64,
    pub key_cache_entries: u64,
    pub key_cache_misses: u64,
    pub lease_round_trips: u64,
    pub redis_errors: u64,
    pub postgres_errors: u64,
    pub retry_budget_exhausted: u64,
    /// Per callback: (callback, outcome, total).
    pub callback_logs: Vec<(&'static str, &'static str, u64)>,
    /// When tracing is on: spans exported and dropped, batches failed.
    pub trace_spans: Option<(u64, u64, u64)>,
}

/// The registry and what a call looks its handles up by.
pub struct Metrics {
    registry: Registry,
    kept: Vec<Option<Kept>>,
    /// The labels that tell one call's series from another's.
    call_key: Box<[Label]>,
    calls: SeriesCache<CallSeries>,
    /// Past the cache's bound: one series per status.
    overflow: SeriesCache<CallSeries>,
    in_flight: Option<Gauge>,
    /// One scrape at a time: a scrape resets and sets the readings, then gathers.
    scraping: std::sync::Mutex<()>,
}

impl Metrics {
    /// The metrics `settings` keep; an unknown metric or label, or a label the metric does not
    /// carry, is an error (LiteLLM refuses them at start-up too).
    pub fn new(settings: &PrometheusSettings) -> Result<Metrics, String> {
        let mut chosen = chosen_labels(settings)?;
        let latency = latency_buckets(settings)?;
        let registry = Registry::new();
        let mut kept = Vec::with_capacity(CATALOG.len());
        for def in &CATALOG {
            let labels = match chosen.remove(def.name) {
                Some(labels) => labels,
                None if def.owner == Owner::Fixed || settings.metric_groups.is_none() => {
                    default_labels(def)
                }
                None => {
                    kept.push(None);
                    continue;
                }
            };
            let family = family(def, &labels, &latency).map_err(|error| error.to_string())?;
            registry
                .register(family.collector())
                .map_err(|error| error.to_string())?;
            kept.push(Some(Kept {
                family,
                labels: labels.into_boxed_slice(),
            }));
        }
        let mut call_key: Vec<Label> = CALL_METRICS
            .iter()
            .filter_map(|metric| kept[*metric as usize].as_ref())
            .flat_map(|kept| kept.labels.iter().copied())
            .filter(|label| !DERIVED.contains(label))
            // What the derived labels follow from.
            .chain([
                Label::StatusCode,
                Label::Route,
                Label::RequestedModel,
                Label::Model,
                Label::ApiProvider,
            ])
            .collect();
        call_key.sort_unstable();
        call_key.dedup();
        let mut metrics = Metrics {
            registry,
            kept,
            call_key: call_key.into_boxed_slice(),
            calls: SeriesCache::default(),
            overflow: SeriesCache::with_bound(1_000),
            in_flight: None,
            scraping: std::sync::Mutex::new(()),
        };
        metrics.in_flight = metrics.gauge(Metric::InFlightRequests, &LabelValues::default());
        Ok(metrics)
    }

    /// Whether the configuration keeps `label` on any metric (the values a call must gather).
    pub fn keeps(&self, label: Label) -> bool {
        self.kept
            .iter()
            .flatten()
            .any(|kept| kept.labels.contains(&label))
    }

    fn kept(&self, metric: Metric) -> Option<&Kept> {
        self.kept[metric as usize].as_ref()
    }

    fn counter(&self, metric: Metric, labels: &LabelValues<'_>) -> Option<IntCounter> {
        let kept = self.kept(metric)?;
        let Family::Counter(vec) = &kept.family else {
            return None;
        };
        vec.get_metric_with_label_values(&values_of(&kept.labels, labels))
            .ok()
    }

    fn float_counter(&self, metric: Metric, labels: &LabelValues<'_>) -> Option<Counter> {
        let kept = self.kept(metric)?;
        let Family::FloatCounter(vec) = &kept.family else {
            return None;
        };
        vec.get_metric_with_label_values(&values_of(&kept.labels, labels))
            .ok()
    }

    fn gauge(&self, metric: Metric, labels: &LabelValues<'_>) -> Option<Gauge> {
        let kept = self.kept(metric)?;
        let Family::Gauge(vec) = &kept.family else {
            return None;
        };
        vec.get_metric_with_label_values(&values_of(&kept.labels, labels))
            .ok()
    }

    fn histogram(&self, metric: Metric, labels: &LabelValues<'_>) -> Option<Histogram> {
        let kept = self.kept(metric)?;
        let Family::Histogram(vec) = &kept.family else {
            return None;
        };
        vec.get_metric_with_label_values(&values_of(&kept.labels, labels))
            .ok()
    }

    /// Counts a request in flight until the guard drops.
    pub fn in_flight(&self) -> Option<InFlight> {
        let gauge = self.in_flight.clone()?;
        gauge.inc();
        Some(InFlight(gauge))
    }

    /// The spend writer's batch latency and failures.
    pub fn spend_flush(&self) -> FlushMeters {
        let none = LabelValues::default();
        FlushMeters {
            latency: self.histogram(Metric::SpendFlushSeconds, &none),
            failures: self.counter(Metric::SpendFlushFailures, &none),
        }
    }

    /// Adds one finished (or refused) call: `labels` holds its key, team, models and
    /// deployment; the status and what follows from it are set here.
    pub fn record_call(&self, labels: &LabelValues<'_>, measures: &CallMeasures) {
        let status = status_text(measures.status);
        let failed = measures.status >= 400;
        let mut labels = *labels;
        labels.set(Label::StatusCode, &status);
        if failed {
            let class = exception_class(measures.status);
            labels
                .set(Label::ExceptionStatus, &status)
                .set(Label::ExceptionClass, class)
                .set(Label::ErrorType, class);
        }
        let mut key = [""; LABEL_COUNT];
        for (slot, label) in key.iter_mut().zip(self.call_key.iter()) {
            *slot = labels.get(*label);
        }
        let series = match self
            .calls
            .get_or_make(&key[..self.call_key.len()], CallSeries::default)
        {
            Found::Series(series) => series,
            Found::Full => {
                // Every label but those the status gives: no call lends the overflow its names.
                for label in Label::ALL {
                    if !matches!(
                        label,
                        Label::StatusCode
                            | Label::ExceptionStatus
                            | Label::ExceptionClass
                            | Label::ErrorType
                    ) {
                        labels.set(label, OVERFLOW);
                    }
                }
                match self.overflow.get_or_make(&[&status], CallSeries::default) {
                    Found::Series(series) => series,
                    // More distinct statuses than HTTP has: nothing sensible to count under.
                    Found::Full => return,
                }
            }
        };
        let counter = |cell: &OnceLock<Option<IntCounter>>, metric, by: u64| {
            if let Some(counter) = cell.get_or_init(|| self.counter(metric, &labels)) {
                counter.inc_by(by);
            }
        };
        let observe = |cell: &OnceLock<Option<Histogram>>, metric, value: f64| {
            if let Some(histogram) = cell.get_or_init(|| self.histogram(metric, &labels)) {
                histogram.observe(value);
            }
        };
        counter(&series.requests, Metric::ProxyTotalRequests, 1);
        if failed {
            counter(&series.failed, Metric::ProxyFailedRequests, 1);
        }
        let Some(total) = measures.total_seconds else {
            return;
        };
        observe(&series.total_latency, Metric::RequestTotalLatency, total);
        observe(
            &series.overhead,
            Metric::OverheadLatency,
            measures.overhead_seconds,
        );
        observe(
            &series.gen_ai_duration,
            Metric::GenAiOperationDuration,
            total,
        );
        if let Some(upstream) = measures.upstream_seconds {
            observe(&series.api_latency, Metric::LlmApiLatency, upstream);
            counter(
                &series.deployment_success,
                Metric::DeploymentSuccessResponses,
                1,
            );
        }
        if let Some(first) = measures.first_token_seconds {
            observe(&series.first_token, Metric::LlmApiTimeToFirstToken, first);
            observe(
                &series.gen_ai_first_token,
                Metric::GenAiTimeToFirstToken,
                first,
            );
        }
        if measures.spend_usd > 0.0 {
            if let Some(spend) = series
                .spend
                .get_or_init(|| self.float_counter(Metric::Spend, &labels))
            {
                spend.inc_by(measures.spend_usd);
            }
        }
        let (input, output) = (measures.input_tokens, measures.output_tokens);
        if input + output > 0 {
            counter(&series.total_tokens, Metric::TotalTokens, input + output);
            counter(&series.input_tokens, Metric::InputTokens, input);
            counter(&series.output_tokens, Metric::OutputTokens, output);
            let typed = |cell: &OnceLock<Option<Histogram>>, kind: &'static str, value: u64| {
                let make = || {
                    let mut labels = labels;
                    labels.set(Label::GenAiTokenType, kind);
                    self.histogram(Metric::GenAiTokenUsage, &labels)
                };
                if let Some(histogram) = cell.get_or_init(make) {
                    histogram.observe(value as f64);
                }
            };
            typed(&series.gen_ai_input, "input", input);
            typed(&series.gen_ai_output, "output", output);
        }
    }

    /// An upstream attempt that failed (`labels` name its deployment). Rare, so not cached.
    pub fn record_failed_attempt(&self, labels: &LabelValues<'_>, status: u16) {
        let status = status_text(status);
        let mut labels = *labels;
        labels
            .set(Label::ExceptionStatus, &status)
            .set(Label::ExceptionClass, exception_class_of(&status));
        if let Some(counter) = self.counter(Metric::DeploymentFailureResponses, &labels) {
            counter.inc();
        }
    }

    /// A request that fell back to `fallback_model` after its first failure (`first_status`).
    pub fn record_fallback(
        &self,
        labels: &LabelValues<'_>,
        fallback_model: &str,
        succeeded: bool,
        first_status: u16,
    ) {
        let status = status_text(first_status);
        let mut labels = *labels;
        labels
            .set(Label::FallbackModel, fallback_model)
            .set(Label::ExceptionStatus, &status)
            .set(Label::ExceptionClass, exception_class_of(&status));
        let metric = if succeeded {
            Metric::DeploymentSuccessfulFallbacks
        } else {
            Metric::DeploymentFailedFallbacks
        };
        if let Some(counter) = self.counter(metric, &labels) {
            counter.inc();
        }
    }

    /// The exposition text: the readings set, then every kept metric.
    pub fn render(&self, readings: &Readings<'_>) -> String {
        let _one_at_a_time = self
            .scraping
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.apply(readings);
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::error!(%error, "metrics could not be encoded");
        }
        String::from_utf8(text).unwrap_or_default()
    }

    /// Sets the scrape-time metrics from `readings` (their old series are dropped: a
    /// deployment or key that is gone leaves none behind).
    fn apply(&self, readings: &Readings<'_>) {
        for metric in [
            Metric::DeploymentState,
            Metric::DeploymentCooledDown,
            Metric::RemainingRequests,
            Metric::RemainingTokens,
            Metric::RemainingTeamBudget,
            Metric::RemainingApiKeyBudget,
        ] {
            if let Some(kept) = self.kept(metric) {
                kept.family.reset();
            }
        }
        let set = |metric, labels: &LabelValues<'_>, value: f64| {
            if let Some(gauge) = self.gauge(metric, labels) {
                gauge.set(value);
            }
        };
        for deployment in &readings.deployments {
            set(
                Metric::DeploymentState,
                &deployment.labels,
                deployment.state,
            );
            if let Some(left) = deployment.remaining_requests {
                set(Metric::RemainingRequests, &deployment.labels, left);
            }
            if let Some(left) = deployment.remaining_tokens {
                set(Metric::RemainingTokens, &deployment.labels, left);
            }
            if deployment.cooldowns > 0 {
                if let Some(counter) =
                    self.counter(Metric::DeploymentCooledDown, &deployment.labels)
                {
                    counter.inc_by(deployment.cooldowns);
                }
            }
        }
        for budget in &readings.budgets {
            let metric = if budget.team {
                Metric::RemainingTeamBudget
            } else {
                Metric::RemainingApiKeyBudget
            };
            set(metric, &budget.labels, budget.remaining_usd);
        }
        let none = LabelValues::default();
        set(
            Metric::SpendQueueDepth,
            &none,
            readings.spend_queue_depth as f64,
        );
        set(
            Metric::KeyCacheEntries,
            &none,
            readings.key_cache_entries as f64,
        );
        for (metric, total) in [
            (Metric::KeyCacheMisses, readings.key_cache_misses),
            (Metric::BudgetLeaseRoundTrips, readings.lease_round_trips),
            (Metric::RedisErrors, readings.redis_errors),
            (Metric::PostgresErrors, readings.postgres_errors),
            (
                Metric::RetryBudgetExhausted,
                readings.retry_budget_exhausted,
            ),
        ] {
            self.catch_up(metric, &none, total);
        }
        for (callback, outcome, total) in &readings.callback_logs {
            let mut labels = LabelValues::default();
            labels
                .set(Label::Callback, callback)
                .set(Label::Outcome, outcome);
            self.catch_up(Metric::CallbackLogs, &labels, *total);
        }
        if let Some((exported, dropped, failed)) = readings.trace_spans {
            for (outcome, total) in [("exported", exported), ("dropped", dropped)] {
                let mut labels = LabelValues::default();
                labels.set(Label::Outcome, outcome);
                self.catch_up(Metric::TraceSpans, &labels, total);
            }
            self.catch_up(Metric::TraceExportsFailed, &none, failed);
        }
    }

    /// A counter kept as a running total elsewhere: brought up to it.
    fn catch_up(&self, metric: Metric, labels: &LabelValues<'_>, total: u64) {
        if let Some(counter) = self.counter(metric, labels) {
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }
}

/// What the spend writer reports of its batches.
#[derive(Clone, Default)]
pub struct FlushMeters {
    latency: Option<Histogram>,
    failures: Option<IntCounter>,
}

impl FlushMeters {
    /// A batch landed after `took`.
    pub fn landed(&self, took: std::time::Duration) {
        if let Some(latency) = &self.latency {
            latency.observe(took.as_secs_f64());
        }
    }

    /// A batch write failed (it is retried).
    pub fn failed(&self) {
        if let Some(failures) = &self.failures {
            failures.inc();
        }
    }
}

/// A request in flight: `litellm_in_flight_requests` counts it until this drops.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn exception_class_of(status: &str) -> &'static str {
    exception_class(status.parse().unwrap_or(0))
}

fn values_of<'a>(kept: &[Label], labels: &LabelValues<'a>) -> Vec<&'a str> {
    kept.iter().map(|label| labels.get(*label)).collect()
}

/// A metric's labels unless configured: LiteLLM's, less those naming a person or a client.
fn default_labels(def: &MetricDef) -> Vec<Label> {
    def.labels
        .iter()
        .copied()
        .filter(|label| label.kept_by_default())
        .collect()
}

/// The metrics `prometheus_metrics_config` lists, by exposed name, with their labels.
fn chosen_labels(
    settings: &PrometheusSettings,
) -> Result<BTreeMap<&'static str, Vec<Label>>, String> {
    let mut chosen = BTreeMap::new();
    for group in settings.metric_groups.iter().flatten() {
        for name in &group.metrics {
            let def = CATALOG
                .iter()
                .find(|def| def.config_name == name || def.name == name)
                .ok_or_else(|| {
                    format!(
                        "prometheus_metrics_config group `{}`: `{name}` is not a metric Gatehouse exposes",
                        group.group
                    )
                })?;
            if def.owner == Owner::Fixed {
                return Err(format!(
                    "prometheus_metrics_config group `{}`: `{name}` is always exposed, with fixed labels",
                    group.group
                ));
            }
            let labels = match &group.include_labels {
                None => default_labels(def),
                Some(names) => {
                    let mut labels = Vec::with_capacity(names.len());
                    for label_name in names {
                        let label = Label::from_name(label_name)
                            .filter(|label| def.labels.contains(label))
                            .ok_or_else(|| {
                                format!(
                                    "prometheus_metrics_config group `{}`: `{}` has no label `{label_name}`",
                                    group.group, def.config_name
                                )
                            })?;
                        labels.push(label);
                    }
                    // LiteLLM's order, whatever the list's.
                    def.labels
                        .iter()
                        .copied()
                        .filter(|label| labels.contains(label))
                        .collect()
                }
            };
            chosen.insert(def.name, labels);
        }
    }
    Ok(chosen)
}

fn latency_buckets(settings: &PrometheusSettings) -> Result<Vec<f64>, String> {
    let Some(buckets) = &settings.latency_buckets else {
        return Ok(LATENCY_BUCKETS.to_vec());
    };
    let increasing = buckets.windows(2).all(|pair| pair[0] < pair[1]);
    if buckets.is_empty() || !increasing || buckets.iter().any(|bound| !bound.is_finite()) {
        return Err(
            "prometheus_latency_buckets must be finite seconds in increasing order".to_string(),
        );
    }
    Ok(buckets.clone())
}

fn family(def: &MetricDef, labels: &[Label], latency: &[f64]) -> prometheus::Result<Family> {
    let names: Vec<&str> = labels.iter().map(|label| label.name()).collect();
    let opts = || Opts::new(def.name, def.help);
    Ok(match def.kind {
        Kind::Counter => Family::Counter(IntCounterVec::new(opts(), &names)?),
        Kind::FloatCounter => Family::FloatCounter(CounterVec::new(opts(), &names)?),
        Kind::Gauge => Family::Gauge(GaugeVec::new(opts(), &names)?),
        Kind::Histogram(buckets) => {
            let bounds = match buckets {
                Buckets::Latency => latency.to_vec(),
                Buckets::Fixed(bounds) => bounds.to_vec(),
            };
            Family::Histogram(HistogramVec::new(
                HistogramOpts::new(def.name, def.help).buckets(bounds),
                &names,
            )?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MetricGroup;

    fn listed(metrics: &[&str], labels: Option<&[&str]>) -> PrometheusSettings {
        PrometheusSettings {
            metric_groups: Some(vec![MetricGroup {
                group: "g".into(),
                metrics: metrics.iter().map(|name| name.to_string()).collect(),
                include_labels: labels.map(|labels| labels.iter().map(|l| l.to_string()).collect()),
            }]),
            ..PrometheusSettings::default()
        }
    }

    fn error_of(settings: &PrometheusSettings) -> String {
        match Metrics::new(settings) {
            Ok(_) => panic!("accepted"),
            Err(error) => error,
        }
    }

    #[test]
    fn unknown_metrics_and_labels_are_refused_by_name() {
        let error = error_of(&listed(&["litellm_no_such_metric"], None));
        assert!(error.contains("`litellm_no_such_metric`"), "{error}");
        let error = error_of(&listed(&["litellm_spend_metric"], Some(&["status_code"])));
        assert!(error.contains("has no label `status_code`"), "{error}");
        let error = error_of(&listed(&["gen_ai_client_token_usage"], None));
        assert!(error.contains("always exposed"), "{error}");
        let error = error_of(&PrometheusSettings {
            latency_buckets: Some(vec![1.0, 0.5]),
            ..PrometheusSettings::default()
        });
        assert!(error.contains("increasing"), "{error}");
    }

    fn call<'a>(key: &'a str) -> LabelValues<'a> {
        let mut labels = LabelValues::default();
        labels
            .set(Label::HashedApiKey, key)
            .set(Label::RequestedModel, "gpt")
            .set(Label::Model, "gpt-up")
            .set(Label::ModelId, "d1");
        labels
    }

    fn answered() -> CallMeasures {
        CallMeasures {
            status: 200,
            total_seconds: Some(0.2),
            upstream_seconds: Some(0.15),
            spend_usd: 0.25,
            input_tokens: 10,
            output_tokens: 5,
            ..CallMeasures::default()
        }
    }

    #[test]
    fn a_call_adds_to_its_series_and_a_refusal_leaves_no_latency_series() {
        let metrics = Metrics::new(&PrometheusSettings::default()).unwrap();
        metrics.record_call(&call("k1"), &answered());
        metrics.record_call(&call("k1"), &answered());
        metrics.record_call(
            &call("k2"),
            &CallMeasures {
                status: 429,
                ..CallMeasures::default()
            },
        );
        let text = metrics.render(&Readings::default());
        assert!(text.contains("litellm_spend_metric_total{api_key_alias=\"\",api_provider=\"\",hashed_api_key=\"k1\",model=\"gpt-up\",model_id=\"d1\",team=\"\",team_alias=\"\",user=\"\"} 0.5"), "{text}");
        assert!(
            text.contains(
                "exception_class=\"RateLimitError\",exception_status=\"429\",hashed_api_key=\"k2\""
            ),
            "{text}"
        );
        assert!(!text.contains("litellm_request_total_latency_metric_count{api_key_alias=\"\",hashed_api_key=\"k2\""), "{text}");
        assert!(text.contains("litellm_input_tokens_metric_total{api_key_alias=\"\",hashed_api_key=\"k1\",model=\"gpt-up\",model_id=\"d1\",requested_model=\"gpt\",team=\"\",team_alias=\"\",user=\"\"} 20"), "{text}");
    }

    #[test]
    fn past_the_series_bound_calls_are_counted_under_other() {
        let mut metrics = Metrics::new(&PrometheusSettings::default()).unwrap();
        metrics.calls = SeriesCache::with_bound(2);
        for key in ["a", "b", "c", "d"] {
            metrics.record_call(&call(key), &answered());
        }
        let text = metrics.render(&Readings::default());
        let requests: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("litellm_proxy_total_requests_metric_total{"))
            .collect();
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert!(requests
            .iter()
            .any(|line| line.contains("hashed_api_key=\"other\"") && line.ends_with(" 2")));
    }

    #[test]
    fn scrape_readings_replace_the_last_ones() {
        let metrics = Metrics::new(&PrometheusSettings::default()).unwrap();
        let deployment = |id: &'static str, state: f64| {
            let mut labels = LabelValues::default();
            labels.set(Label::ModelId, id);
            DeploymentReading {
                labels,
                state,
                cooldowns: 2,
                remaining_requests: Some(5.0),
                remaining_tokens: None,
            }
        };
        let first = Readings {
            deployments: vec![deployment("gone", 2.0)],
            retry_budget_exhausted: 3,
            ..Readings::default()
        };
        metrics.render(&first);
        let second = Readings {
            deployments: vec![deployment("kept", 0.0)],
            retry_budget_exhausted: 4,
            ..Readings::default()
        };
        let text = metrics.render(&second);
        assert!(!text.contains("model_id=\"gone\""), "{text}");
        assert!(text.contains("litellm_deployment_cooled_down_total{api_base=\"\",api_provider=\"\",exception_status=\"\",litellm_model_name=\"\",model_id=\"kept\"} 2"), "{text}");
        assert!(
            text.contains("gatehouse_retry_budget_exhausted_total 4"),
            "{text}"
        );
        assert!(!text.contains("litellm_remaining_tokens_metric{"), "{text}");
    }
}
