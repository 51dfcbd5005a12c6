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
/// Langfuse's default host (its EU cloud), as LiteLLM's.
const LANGFUSE_CLOUD: &str = "https://cloud.langfuse.com";

/// Where a request-log callback sends each call's log.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// `langfuse`: its public ingestion API (`LANGFUSE_HOST`, `LANGFUSE_PUBLIC_KEY`,
    /// `LANGFUSE_SECRET_KEY`).
    Langfuse {
        host: String,
        public_key: Secret,
        secret_key: Secret,
    },
    /// `generic_api` (LiteLLM's name) or `webhook`: batched JSON POSTs to
    /// `GENERIC_LOGGER_ENDPOINT` with `GENERIC_LOGGER_HEADERS`, signed with HMAC-SHA256 when
    /// `GATEHOUSE_WEBHOOK_SECRET` is set.
    Webhook {
        url: String,
        headers: Vec<(String, Secret)>,
        secret: Option<Secret>,
    },
    /// `file`: JSON Lines appended to `file_callback_params.path`.
    File { path: std::path::PathBuf },
}

/// A request-log callback and which calls it logs.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    pub kind: SinkKind,
    /// Named in `callbacks` or `success_callback`.
    pub on_success: bool,
    /// Named in `callbacks` or `failure_callback`.
    pub on_failure: bool,
}

/// `litellm_settings.file_callback_params`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCallbackParams {
    pub path: std::path::PathBuf,
}

/// The telemetry keys of `litellm_settings`.
pub(in crate::config) struct RawTelemetry {
    pub callbacks: Vec<String>,
    pub success_callback: Vec<String>,
    pub failure_callback: Vec<String>,
    pub prometheus_metrics_config: Option<Vec<MetricGroup>>,
    pub prometheus_latency_buckets: Option<Vec<f64>>,
    pub require_auth_for_metrics_endpoint: Option<bool>,
    pub file_callback_params: Option<FileCallbackParams>,
    pub json_logs: Option<bool>,
}

impl RawTelemetry {
    pub(in crate::config) fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
            && self.success_callback.is_empty()
            && self.failure_callback.is_empty()
            && self.prometheus_metrics_config.is_none()
            && self.prometheus_latency_buckets.is_none()
            && self.require_auth_for_metrics_endpoint.is_none()
            && self.file_callback_params.is_none()
            && self.json_logs.is_none()
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
    /// The request-log callbacks (`langfuse`, `generic_api`, `file`).
    pub sinks: Vec<SinkSettings>,
    /// `json_logs` (or `JSON_LOGS=true`): the process logs JSON lines, one per request among
    /// them.
    pub json_logs: bool,
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
    let mut sinks: Vec<(&'static str, SinkSettings)> = Vec::new();
    for (list, names, on_success, on_failure) in [
        ("callbacks", &raw.callbacks, true, true),
        ("success_callback", &raw.success_callback, true, false),
        ("failure_callback", &raw.failure_callback, false, true),
    ] {
        for name in names {
            if name == PROMETHEUS {
                prometheus = true;
            } else if OTEL.contains(&name.as_str()) {
                otel = true;
            } else if let Some(sink) = sink_name(name) {
                match sinks.iter_mut().find(|(known, _)| *known == sink) {
                    Some((_, settings)) => {
                        settings.on_success |= on_success;
                        settings.on_failure |= on_failure;
                    }
                    None => sinks.push((
                        sink,
                        SinkSettings {
                            kind: sink_kind(sink, raw.file_callback_params.as_ref(), resolver)?,
                            on_success,
                            on_failure,
                        },
                    )),
                }
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
    let json_logs = raw.json_logs.unwrap_or(false)
        || resolver
            .variable("JSON_LOGS")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    Ok(ObservabilitySettings {
        json_logs,
        sinks: sinks.into_iter().map(|(_, settings)| settings).collect(),
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

/// The sink a callback name stands for.
fn sink_name(name: &str) -> Option<&'static str> {
    match name {
        "langfuse" => Some("langfuse"),
        "generic_api" | "webhook" => Some("webhook"),
        "file" => Some("file"),
        _ => None,
    }
}

fn sink_kind(
    sink: &str,
    file: Option<&FileCallbackParams>,
    resolver: &Resolver<'_>,
) -> Result<SinkKind, ConfigError> {
    let var = |name: &str| {
        resolver
            .variable(name)
            .filter(|value| !value.trim().is_empty())
    };
    let required = |name: &str| {
        var(name).ok_or_else(|| {
            resolver.invalid(
                "litellm_settings.callbacks".into(),
                &format!("`{sink}` needs the environment variable {name}"),
            )
        })
    };
    let url = |name: &str, value: String| match reqwest::Url::parse(&value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(resolver.invalid(name.into(), &format!("`{value}` is not an http(s) URL"))),
    };
    Ok(match sink {
        "langfuse" => SinkKind::Langfuse {
            host: url(
                "LANGFUSE_HOST",
                var("LANGFUSE_HOST").unwrap_or_else(|| LANGFUSE_CLOUD.to_string()),
            )?,
            public_key: Secret::new(required("LANGFUSE_PUBLIC_KEY")?),
            secret_key: Secret::new(required("LANGFUSE_SECRET_KEY")?),
        },
        "webhook" => SinkKind::Webhook {
            url: url(
                "GENERIC_LOGGER_ENDPOINT",
                required("GENERIC_LOGGER_ENDPOINT")?,
            )?,
            headers: var("GENERIC_LOGGER_HEADERS")
                .map(|list| super::traces::pairs(&list))
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, Secret::new(value)))
                .collect(),
            secret: var("GATEHOUSE_WEBHOOK_SECRET").map(Secret::new),
        },
        _ => SinkKind::File {
            path: file.map(|params| params.path.clone()).ok_or_else(|| {
                resolver.invalid(
                    "litellm_settings.file_callback_params".into(),
                    "the `file` callback needs `path`",
                )
            })?,
        },
    })
}
