//! What config.yaml says about telemetry: the callbacks (`litellm_settings.callbacks`,
//! `success_callback`, `failure_callback`), Prometheus' metrics and labels
//! (`prometheus_metrics_config`, `prometheus_latency_buckets`), who may read `/metrics`
//! (`require_auth_for_metrics_endpoint`, `general_settings.metrics_token`), and the health
//! checks (`background_health_checks`, `health_check_interval`, `health_check_details`).

use std::time::Duration;

use serde::Deserialize;

use super::traces::TraceSettings;
use super::{ConfigError, Resolver};
use crate::core::secret::Secret;

/// LiteLLM's default `health_check_interval` (seconds).
const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(300);
/// The shortest interval background checks may run at: each probes every deployment.
const MIN_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Callbacks LiteLLM configs name that Gatehouse serves some other way, or not at all.
const PROMETHEUS: &str = "prometheus";
/// LiteLLM's name for the OpenTelemetry callback (and the long one).
const OTEL: [&str; 2] = ["otel", "opentelemetry"];

/// The telemetry keys of `litellm_settings`.
pub(in crate::config) struct RawTelemetry {
    pub callbacks: Vec<String>,
    pub success_callback: Vec<String>,
    pub failure_callback: Vec<String>,
    pub prometheus_metrics_config: Option<Vec<MetricGroup>>,
    pub prometheus_latency_buckets: Option<Vec<f64>>,
    pub require_auth_for_metrics_endpoint: Option<bool>,
}

impl RawTelemetry {
    pub(in crate::config) fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
            && self.success_callback.is_empty()
            && self.failure_callback.is_empty()
            && self.prometheus_metrics_config.is_none()
            && self.prometheus_latency_buckets.is_none()
            && self.require_auth_for_metrics_endpoint.is_none()
    }
}

/// One `prometheus_metrics_config` entry: the metrics it keeps and, if listed, their labels.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MetricGroup {
    pub group: String,
    pub metrics: Vec<String>,
    #[serde(default)]
    pub include_labels: Option<Vec<String>>,
}

/// Prometheus' settings, when a callback list names `prometheus`.
#[derive(Debug, Clone, Default)]
pub struct PrometheusSettings {
    /// `prometheus_metrics_config`: only the metrics it lists are kept (all when absent).
    pub metric_groups: Option<Vec<MetricGroup>>,
    /// `prometheus_latency_buckets`: replaces LiteLLM's latency buckets.
    pub latency_buckets: Option<Vec<f64>>,
    /// `require_auth_for_metrics_endpoint` (default true): `/metrics` wants the master key or
    /// the metrics token.
    pub require_auth: bool,
    /// `general_settings.metrics_token`: a bearer token that may read `/metrics` and nothing
    /// else (a scraper needs no master key).
    pub token: Option<Secret>,
}

/// `general_settings`' health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// `background_health_checks`: probe every deployment each interval and take a failing
    /// one out of rotation before a request meets it.
    pub background: bool,
    /// `health_check_interval`.
    pub interval: Duration,
    /// `health_check_details` (default true): `/health` lists each endpoint's address and
    /// provider, not only its model and error.
    pub details: bool,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            background: false,
            interval: DEFAULT_HEALTH_CHECK_INTERVAL,
            details: true,
        }
    }
}

/// What the process records and reports about itself.
#[derive(Debug, Clone, Default)]
pub struct ObservabilitySettings {
    /// Set when a callback list names `prometheus`.
    pub prometheus: Option<PrometheusSettings>,
    /// Set when a callback list names `otel`.
    pub traces: Option<TraceSettings>,
    pub health: HealthSettings,
}

/// `general_settings`' telemetry keys.
pub(in crate::config) struct RawGeneralTelemetry<'a> {
    pub metrics_token: Option<&'a str>,
    pub background_health_checks: bool,
    pub health_check_interval: Option<f64>,
    pub health_check_details: Option<bool>,
}

pub(in crate::config) fn settings(
    raw: RawTelemetry,
    general: RawGeneralTelemetry<'_>,
    resolver: &Resolver<'_>,
    warnings: &mut Vec<String>,
) -> Result<ObservabilitySettings, ConfigError> {
    let mut prometheus = false;
    let mut otel = false;
    for (list, names) in [
        ("callbacks", &raw.callbacks),
        ("success_callback", &raw.success_callback),
        ("failure_callback", &raw.failure_callback),
    ] {
        for name in names {
            if name == PROMETHEUS {
                prometheus = true;
            } else if OTEL.contains(&name.as_str()) {
                otel = true;
            } else {
                warnings.push(format!(
                    "{}: litellm_settings.{list}: `{name}` is not a callback Gatehouse sends to; nothing is sent there",
                    resolver.path
                ));
            }
        }
    }
    let token = general
        .metrics_token
        .map(|value| resolver.resolve("general_settings.metrics_token", value))
        .transpose()?;
    if !prometheus
        && (raw.prometheus_metrics_config.is_some() || raw.prometheus_latency_buckets.is_some())
    {
        warnings.push(format!(
            "{}: litellm_settings: Prometheus settings are set but no callback list names `prometheus`; /metrics is off",
            resolver.path
        ));
    }
    let interval = match general.health_check_interval {
        None => DEFAULT_HEALTH_CHECK_INTERVAL,
        Some(seconds) => Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|interval| *interval >= MIN_HEALTH_CHECK_INTERVAL)
            .ok_or_else(|| {
                resolver.invalid(
                    "general_settings.health_check_interval".into(),
                    "must be at least 1 second",
                )
            })?,
    };
    let traces = if otel {
        Some(super::traces::settings(resolver)?)
    } else {
        None
    };
    Ok(ObservabilitySettings {
        traces,
        prometheus: prometheus.then(|| PrometheusSettings {
            metric_groups: raw.prometheus_metrics_config,
            latency_buckets: raw.prometheus_latency_buckets,
            require_auth: raw.require_auth_for_metrics_endpoint.unwrap_or(true),
            token: token.map(Secret::new),
        }),
        health: HealthSettings {
            background: general.background_health_checks,
            interval,
            details: general.health_check_details.unwrap_or(true),
        },
    })
}
