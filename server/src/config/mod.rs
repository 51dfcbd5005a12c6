//! LiteLLM-compatible `config.yaml`: `model_list`, `router_settings` (and the routing keys of
//! `litellm_settings`), `general_settings`, `environment_variables`, with `os.environ/NAME`
//! values. Unknown keys are warned about; malformed ones are refused
//! with the line they are on.

mod deployment;
mod observability;
mod overrides;
mod router;
mod traces;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::core::secret::Secret;
use crate::providers::Deployment;

pub use deployment::stored_deployment;
use deployment::RawModel;
pub use observability::{
    HealthSettings, MetricGroup, ObservabilitySettings, PrometheusSettings, SinkKind, SinkSettings,
};
pub use overrides::RoutingBase;
pub use router::classes::{ChosenClass, ClassHints, Degrade, RequestClass, RequestClasses};
pub use router::{FallbackKind, Fallbacks, RetryPolicy, RouterSettings, RoutingStrategy};
pub use traces::{OtlpProtocol, Sampler, TraceSettings};

/// Default spend batch window when `proxy_batch_write_at` is not set (seconds).
const DEFAULT_BATCH_WRITE_SECONDS: f64 = 0.5;

/// The parsed configuration the process runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub deployments: Vec<Deployment>,
    pub master_key: Option<Secret>,
    pub database_url: Option<Secret>,
    /// Redis, when `router_settings` names one: cooldowns are shared through it.
    pub redis_url: Option<Secret>,
    pub spend_batch_window: Duration,
    /// Where budget alerts go (`general_settings.alerting: ["slack"]` with `SLACK_WEBHOOK_URL`,
    /// or `alerting_webhook_url`): a Slack-compatible webhook.
    pub alert_webhook: Option<Secret>,
    pub router: RouterSettings,
    /// How long raw spend rows and stored payloads are kept, and whether payloads are stored.
    pub spend_log: SpendLogSettings,
    /// The file's routing, for the console's route policy to apply its changes over.
    pub routing_base: RoutingBase,
    /// The variables stored deployments may read (`allowed_environment_references`).
    pub stored_environment: StoredEnvironment,
    /// `return_model_api_base_header`: responses name the upstream's address.
    pub api_base_header: bool,
    /// `general_settings.allow_client_mock_response`: clients' `mock_response` is honoured for
    /// every key, not only the master key.
    pub client_mock_responses: bool,
    /// Metrics, callbacks and health checks.
    pub observability: ObservabilitySettings,
    /// Things the file contains that Gatehouse does not use (logged at start-up).
    pub warnings: Vec<String>,
}

/// The environment a stored deployment (from the API or the console) may read: only the
/// variables `general_settings.allowed_environment_references` names, with their values at
/// start-up (`environment_variables` first, then the process).
#[derive(Debug, Clone, Default)]
pub struct StoredEnvironment {
    values: BTreeMap<String, String>,
}

impl StoredEnvironment {
    /// The allowed variables and their values.
    fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Names no tenant may read even when listed: the database, the secrets that seal
    /// credentials and sessions, and the master key.
    const NEVER: [&'static str; 15] = [
        "DATABASE_URL",
        "GATEHOUSE_SECRETS_KEY",
        "GATEHOUSE_SECRETS_KEY_PREVIOUS",
        "LITELLM_SALT_KEY",
        "LITELLM_MASTER_KEY",
        "GATEHOUSE_ADMIN_PASSWORD",
        "REDIS_URL",
        "REDIS_PASSWORD",
        "SLACK_WEBHOOK_URL",
        // The telemetry sinks' credentials.
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "GENERIC_LOGGER_HEADERS",
        "GATEHOUSE_WEBHOOK_SECRET",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ];
}

/// The spend log's retention and payload logging (`general_settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendLogSettings {
    /// `maximum_spend_logs_retention_period`: raw rows older than this are deleted (rollups
    /// are kept); `None` keeps them all.
    pub retention: Option<Duration>,
    /// `maximum_spend_logs_retention_interval`: how often old rows are pruned (default 1d).
    pub prune_every: Duration,
    /// `store_prompts_in_spend_logs`: keep each request's redacted prompt and response.
    pub store_payloads: bool,
    /// `spend_logs_payload_retention_period` (default 7d): how long stored payloads are kept.
    pub payload_retention: Duration,
}

impl Default for SpendLogSettings {
    fn default() -> Self {
        SpendLogSettings {
            retention: None,
            prune_every: Duration::from_secs(DAY_SECONDS),
            store_payloads: false,
            payload_retention: Duration::from_secs(7 * DAY_SECONDS),
        }
    }
}

const DAY_SECONDS: u64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Malformed { path: String, message: String },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    model_list: Vec<RawModel>,
    #[serde(default)]
    general_settings: RawGeneralSettings,
    #[serde(default)]
    environment_variables: BTreeMap<String, String>,
    #[serde(default)]
    litellm_settings: Option<router::RawRouting>,
    #[serde(default)]
    router_settings: Option<router::RawRouting>,
    /// Gatehouse's route policies per request class.
    #[serde(default)]
    request_classes: Option<BTreeMap<String, app::route_policy::ClassPolicy>>,
}

#[derive(Deserialize, Default)]
struct RawGeneralSettings {
    master_key: Option<String>,
    database_url: Option<String>,
    proxy_batch_write_at: Option<f64>,
    #[serde(default)]
    alerting: Vec<String>,
    alerting_webhook_url: Option<String>,
    maximum_spend_logs_retention_period: Option<String>,
    maximum_spend_logs_retention_interval: Option<String>,
    #[serde(default)]
    store_prompts_in_spend_logs: bool,
    spend_logs_payload_retention_period: Option<String>,
    /// Environment variables stored deployments may name with `os.environ/`.
    #[serde(default)]
    allowed_environment_references: Vec<String>,
    /// Clients' `mock_response` is honoured for every key.
    #[serde(default)]
    allow_client_mock_response: bool,
    /// Every group forwards clients' `x-…` headers (else only `model_group_settings`' list).
    #[serde(default)]
    forward_client_headers_to_llm_api: bool,
    /// Responses carry `x-litellm-model-api-base`.
    #[serde(default)]
    return_model_api_base_header: bool,
    /// A bearer token that may read `/metrics` (and nothing else).
    metrics_token: Option<String>,
    #[serde(default)]
    background_health_checks: bool,
    health_check_interval: Option<f64>,
    health_check_details: Option<bool>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string(), &|name| {
            std::env::var(name).ok()
        })
    }

    /// Parses config text; `env` resolves `os.environ/NAME` after `environment_variables`.
    pub fn parse(
        text: &str,
        path: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawConfig = serde_ignored::deserialize(deserializer, |ignored| {
            // Optional sections show as `section.?.key`.
            let key = ignored.to_string().replace(".?.", ".");
            warnings.push(format!(
                "{path}: `{key}` is not used by Gatehouse and was ignored"
            ));
        })
        .map_err(|error| ConfigError::Malformed {
            path: path.to_string(),
            message: describe_yaml_error(&error),
        })?;

        let resolver = Resolver {
            path,
            overrides: &raw.environment_variables,
            env,
            origin: Origin::Config,
        };
        let mut router_settings = raw.router_settings.unwrap_or_default();
        let mut litellm_settings = raw.litellm_settings.unwrap_or_default();
        if !router_settings.take_telemetry().is_empty() {
            warnings.push(format!(
                "{path}: router_settings: callbacks and Prometheus settings belong in litellm_settings and were ignored here"
            ));
        }
        let observability = observability::settings(
            litellm_settings.take_telemetry(),
            observability::RawGeneralTelemetry {
                metrics_token: raw.general_settings.metrics_token.as_deref(),
                background_health_checks: raw.general_settings.background_health_checks,
                health_check_interval: raw.general_settings.health_check_interval,
                health_check_details: raw.general_settings.health_check_details,
            },
            &resolver,
            &mut warnings,
        )?;
        let forwarding_groups = litellm_settings
            .model_group_settings
            .take()
            .map(|settings| settings.forward_client_headers_to_llm_api)
            .unwrap_or_default();
        let redis_url = router::redis_url(&router_settings, &resolver)?;
        let redis_references = router::redis_references(&router_settings);
        let mut router =
            router::settings(router_settings, litellm_settings, &resolver, &mut warnings)?;
        let file_classes = raw.request_classes.unwrap_or_default();
        let routing_base = RoutingBase::new(router.clone(), file_classes.clone());
        router.classes = router::classes::classes(&file_classes, &router, &resolver)?;
        let timeout_defaults = deployment::TimeoutDefaults {
            timeout: router.timeout,
            stream_timeout: router.stream_timeout,
        };
        let mut deployments = Vec::with_capacity(raw.model_list.len());
        for (index, model) in raw.model_list.into_iter().enumerate() {
            let field = |name: &str| format!("model_list[{index}].{name}");
            let id = deployment::config_deployment_id(index, &model);
            if let Some(built) = deployment::build(
                model,
                timeout_defaults,
                &resolver,
                &field,
                id,
                false,
                &mut warnings,
            )? {
                deployments.push(built);
            }
        }
        for deployment in &mut deployments {
            deployment.forward_client_headers =
                raw.general_settings.forward_client_headers_to_llm_api
                    || forwarding_groups.contains(&deployment.model_group);
        }

        let master_key = raw
            .general_settings
            .master_key
            .as_deref()
            .map(|value| resolver.resolve("general_settings.master_key", value))
            .transpose()?;
        if let Some(key) = &master_key {
            if !key.starts_with("sk-") {
                return Err(resolver.invalid(
                    "general_settings.master_key".into(),
                    "must start with `sk-` (LiteLLM's rule)",
                ));
            }
        }
        let database_url = raw
            .general_settings
            .database_url
            .as_deref()
            .map(|value| resolver.resolve("general_settings.database_url", value))
            .transpose()?;
        let spend_batch_window = seconds(
            &resolver,
            "general_settings.proxy_batch_write_at",
            raw.general_settings
                .proxy_batch_write_at
                .unwrap_or(DEFAULT_BATCH_WRITE_SECONDS),
        )?;

        let stored_environment =
            stored_environment(&resolver, &raw.general_settings, &redis_references)?;
        let alert_webhook = alert_webhook(&resolver, &raw.general_settings)?;
        let spend_log = spend_log_settings(&resolver, &raw.general_settings)?;

        let group_names: Vec<&str> = deployments.iter().map(|d| d.model_group.as_str()).collect();
        warnings.extend(router.check_fallbacks(&group_names, path));
        for (field, group) in router.classes.named_groups() {
            if !router::served(&group_names, group) {
                warnings.push(format!(
                    "{path}: {field}: `{group}` is not served by any model_list entry"
                ));
            }
        }

        Ok(Config {
            deployments,
            router,
            routing_base,
            master_key: master_key.map(Secret::new),
            database_url: database_url.map(Secret::new),
            redis_url: redis_url.map(Secret::new),
            spend_batch_window,
            alert_webhook: alert_webhook.map(Secret::new),
            spend_log,
            stored_environment,
            api_base_header: raw.general_settings.return_model_api_base_header,
            client_mock_responses: raw.general_settings.allow_client_mock_response,
            observability,
            warnings,
        })
    }
}

/// The allow-listed variables' values, read once at start-up. A secret of Gatehouse's own is
/// refused in the list.
fn stored_environment(
    resolver: &Resolver<'_>,
    general: &RawGeneralSettings,
    redis_references: &[String],
) -> Result<StoredEnvironment, ConfigError> {
    // The variables Gatehouse's own settings read are its secrets too.
    let own: Vec<&str> = [
        &general.master_key,
        &general.database_url,
        &general.alerting_webhook_url,
        &general.metrics_token,
    ]
    .into_iter()
    .flatten()
    .filter_map(|value| value.strip_prefix("os.environ/"))
    .chain(redis_references.iter().map(String::as_str))
    .collect();
    let mut values = BTreeMap::new();
    for name in &general.allowed_environment_references {
        if StoredEnvironment::NEVER.contains(&name.as_str()) || own.contains(&name.as_str()) {
            return Err(resolver.invalid(
                "general_settings.allowed_environment_references".into(),
                &format!("`{name}` holds one of Gatehouse's own secrets and cannot be allowed"),
            ));
        }
        if let Some(value) = resolver.variable(name) {
            values.insert(name.clone(), value);
        }
    }
    Ok(StoredEnvironment { values })
}

/// The budget-alert webhook: `alerting_webhook_url`, else `SLACK_WEBHOOK_URL` when `alerting`
/// names `slack` (LiteLLM's way); an alerting list that names a channel without a URL is an
/// error rather than alerts silently lost.
fn alert_webhook(
    resolver: &Resolver<'_>,
    general: &RawGeneralSettings,
) -> Result<Option<String>, ConfigError> {
    if let Some(url) = &general.alerting_webhook_url {
        return resolver
            .resolve("general_settings.alerting_webhook_url", url)
            .map(Some);
    }
    if !general.alerting.iter().any(|channel| channel == "slack") {
        return Ok(None);
    }
    resolver
        .variable("SLACK_WEBHOOK_URL")
        .map(Some)
        .ok_or_else(|| {
            resolver.invalid(
                "general_settings.alerting".into(),
                "names `slack` but SLACK_WEBHOOK_URL is not set (or set alerting_webhook_url)",
            )
        })
}

/// Resolves `os.environ/NAME` values: `environment_variables` first, then the process.
struct Resolver<'a> {
    path: &'a str,
    overrides: &'a BTreeMap<String, String>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// `config.yaml` (the operator's) or a stored deployment (a tenant of the API or the
    /// console wrote it): a stored one reads only allow-listed variables and no ambient
    /// credentials.
    origin: Origin,
}

/// Who wrote what a resolver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `config.yaml`: the operator's, trusted with the process environment.
    Config,
    /// `/model/new` or the console: `os.environ/` reaches only the variables
    /// `general_settings.allowed_environment_references` names, never ambient credentials or
    /// files.
    Stored,
}

impl Resolver<'_> {
    /// An environment variable: `environment_variables` first, then the process. (A stored
    /// deployment's resolver holds only the allow-listed values, and no process.)
    fn variable(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| (self.env)(name))
    }

    /// A credential taken from the environment when the entry names none (AWS keys,
    /// `GOOGLE_APPLICATION_CREDENTIALS`): only for `config.yaml`.
    fn ambient(&self, name: &str) -> Option<String> {
        match self.origin {
            Origin::Config => self.variable(name),
            Origin::Stored => None,
        }
    }

    fn resolve(&self, field: &str, value: &str) -> Result<String, ConfigError> {
        let Some(name) = value.strip_prefix("os.environ/") else {
            return Ok(value.to_string());
        };
        if self.origin == Origin::Stored && !self.overrides.contains_key(name) {
            return Err(self.invalid(
                field.to_string(),
                &format!(
                    "`os.environ/{name}` is not one of general_settings.allowed_environment_references; a deployment stored through the API or the console reads only the variables the operator allows"
                ),
            ));
        }
        self.variable(name).ok_or_else(|| {
            self.invalid(
                field.to_string(),
                &format!("environment variable `{name}` is not set"),
            )
        })
    }

    fn invalid(&self, field: String, message: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_string(),
            field,
            message: message.to_string(),
        }
    }
}

/// Retention and payload logging of the spend log, from LiteLLM's duration texts.
fn spend_log_settings(
    resolver: &Resolver<'_>,
    general: &RawGeneralSettings,
) -> Result<SpendLogSettings, ConfigError> {
    let duration = |field: &str, text: Option<&String>| -> Result<Option<Duration>, ConfigError> {
        text.map(|text| {
            let text = resolver.resolve(field, text)?;
            app::model::parse_duration_seconds(&text)
                .ok()
                .and_then(|seconds| u64::try_from(seconds).ok())
                .filter(|seconds| *seconds > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    resolver.invalid(
                        field.to_string(),
                        "must be a duration like 30d, 24h, 60m or 3600s",
                    )
                })
        })
        .transpose()
    };
    let defaults = SpendLogSettings::default();
    Ok(SpendLogSettings {
        retention: duration(
            "general_settings.maximum_spend_logs_retention_period",
            general.maximum_spend_logs_retention_period.as_ref(),
        )?,
        prune_every: duration(
            "general_settings.maximum_spend_logs_retention_interval",
            general.maximum_spend_logs_retention_interval.as_ref(),
        )?
        .unwrap_or(defaults.prune_every),
        store_payloads: general.store_prompts_in_spend_logs,
        payload_retention: duration(
            "general_settings.spend_logs_payload_retention_period",
            general.spend_logs_payload_retention_period.as_ref(),
        )?
        .unwrap_or(defaults.payload_retention),
    })
}

fn seconds(resolver: &Resolver<'_>, field: &str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| resolver.invalid(field.to_string(), "must be a positive number of seconds"))
}

/// `line 7, column 5: invalid type …` — serde_yaml's message with its location first.
fn describe_yaml_error(error: &serde_yaml_ng::Error) -> String {
    let message = error.to_string();
    match error.location() {
        Some(location) => {
            let detail = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            format!(
                "line {}, column {}: {detail}",
                location.line(),
                location.column()
            )
        }
        None => message,
    }
}

#[cfg(test)]
mod tests;
