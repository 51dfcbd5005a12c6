//! `router_settings`, and the routing keys LiteLLM also reads from `litellm_settings`: the
//! strategy that orders a group's deployments, retries and their policy, fallback chains and
//! cooldowns. `router_settings` wins where both set a key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Resolver};
use crate::core::health::Cooldowns;

pub mod classes;

use classes::RequestClasses;

/// LiteLLM's defaults: a deployment failing 3 times within a minute cools down for 5 s.
const DEFAULT_ALLOWED_FAILS: u32 = 3;
const DEFAULT_COOLDOWN_SECONDS: f64 = 5.0;
const DEFAULT_MAX_FALLBACKS: u32 = 5;

/// How a model group orders its deployments for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum RoutingStrategy {
    /// Random, weighted by `weight` (or `rpm`, or `tpm`) where given.
    #[default]
    #[serde(rename = "simple-shuffle")]
    SimpleShuffle,
    /// Fewest requests in flight first.
    #[serde(rename = "least-busy")]
    LeastBusy,
    /// Lowest moving average of latency (time to first token for streams) first.
    #[serde(rename = "latency-based-routing")]
    LatencyBased,
    /// Cheapest price per token first.
    #[serde(rename = "cost-based-routing")]
    CostBased,
    /// Most rpm/tpm headroom first.
    #[serde(rename = "usage-based-routing", alias = "usage-based-routing-v2")]
    UsageBased,
}

impl RoutingStrategy {
    /// The strategy of a LiteLLM name (`latency-based-routing`).
    pub fn parse(name: &str) -> Result<RoutingStrategy, String> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
            format!(
                "`{name}` is not a routing strategy ({})",
                app::route_policy::STRATEGIES.join(", ")
            )
        })
    }

    /// Its LiteLLM name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingStrategy::SimpleShuffle => "simple-shuffle",
            RoutingStrategy::LeastBusy => "least-busy",
            RoutingStrategy::LatencyBased => "latency-based-routing",
            RoutingStrategy::CostBased => "cost-based-routing",
            RoutingStrategy::UsageBased => "usage-based-routing",
        }
    }
}

/// Retries per kind of failure, overriding `num_retries` (LiteLLM's `retry_policy`). Only
/// failures worth retrying have a count: other 4xx are never retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryPolicy {
    pub timeout: Option<u32>,
    pub rate_limit: Option<u32>,
    pub internal_server: Option<u32>,
}

/// Where a group's traffic goes when its own deployments cannot serve it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fallbacks {
    /// After retryable failures (`fallbacks`).
    pub general: BTreeMap<String, Vec<String>>,
    /// When the prompt is too long for the group (`context_window_fallbacks`).
    pub context_window: BTreeMap<String, Vec<String>>,
    /// When the upstream refused the content (`content_policy_fallbacks`).
    pub content_policy: BTreeMap<String, Vec<String>>,
    /// For every group without its own general fallbacks (`default_fallbacks`).
    pub default: Vec<String>,
}

/// Which fallback chain a failure calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackKind {
    General,
    ContextWindow,
    ContentPolicy,
}

impl Fallbacks {
    /// The groups to fall back to from `group`, in order: its own chain of that kind; for
    /// general failures without one, `default_fallbacks`.
    pub fn chain(&self, group: &str, kind: FallbackKind) -> &[String] {
        let (map, default): (_, &[String]) = match kind {
            FallbackKind::General => (&self.general, &self.default),
            FallbackKind::ContextWindow => (&self.context_window, &[]),
            FallbackKind::ContentPolicy => (&self.content_policy, &[]),
        };
        map.get(group).map_or(default, Vec::as_slice)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    pub strategy: RoutingStrategy,
    pub num_retries: u32,
    pub retry_policy: RetryPolicy,
    /// The least a retry waits (`retry_after`).
    pub min_retry_wait: Duration,
    /// Failures within a minute that put a deployment in cooldown.
    pub allowed_fails: u32,
    pub cooldown: Duration,
    pub cooldowns_enabled: bool,
    pub fallbacks: Fallbacks,
    /// Fallback groups one request may try at most.
    pub max_fallbacks: u32,
    /// Per-deployment defaults when a deployment sets none.
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    /// `litellm_settings.drop_params`: OpenAI parameters a provider lacks are dropped rather
    /// than refused, where neither the deployment nor the request says.
    pub drop_params: bool,
    /// Route policies per request class (`request_classes`).
    pub classes: RequestClasses,
}

impl RouterSettings {
    /// When failures put a deployment in cooldown.
    pub fn cooldowns(&self) -> Cooldowns {
        Cooldowns {
            allowed_fails: self.allowed_fails,
            cooldown: self.cooldown,
            enabled: self.cooldowns_enabled,
        }
    }
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            strategy: RoutingStrategy::default(),
            num_retries: 0,
            retry_policy: RetryPolicy::default(),
            min_retry_wait: Duration::ZERO,
            allowed_fails: DEFAULT_ALLOWED_FAILS,
            cooldown: Duration::from_secs_f64(DEFAULT_COOLDOWN_SECONDS),
            cooldowns_enabled: true,
            fallbacks: Fallbacks::default(),
            max_fallbacks: DEFAULT_MAX_FALLBACKS,
            timeout: None,
            stream_timeout: None,
            drop_params: false,
            classes: RequestClasses::default(),
        }
    }
}

/// `litellm_settings.model_group_settings`.
#[derive(Deserialize, Default)]
pub(in crate::config) struct ModelGroupSettings {
    /// The groups whose clients' `x-…` headers reach the upstream.
    #[serde(default)]
    pub forward_client_headers_to_llm_api: Vec<String>,
}

/// One list of `{group: [fallback groups]}` maps, as LiteLLM writes them.
pub(super) type RawFallbacks = Vec<BTreeMap<String, Vec<String>>>;

/// The routing keys of `router_settings` (all of them) and `litellm_settings` (the shared ones).
#[derive(Deserialize, Default)]
pub(super) struct RawRouting {
    routing_strategy: Option<RoutingStrategy>,
    num_retries: Option<u32>,
    retry_policy: Option<RawRetryPolicy>,
    retry_after: Option<f64>,
    allowed_fails: Option<u32>,
    cooldown_time: Option<f64>,
    disable_cooldowns: Option<bool>,
    fallbacks: Option<RawFallbacks>,
    context_window_fallbacks: Option<RawFallbacks>,
    content_policy_fallbacks: Option<RawFallbacks>,
    default_fallbacks: Option<Vec<String>>,
    max_fallbacks: Option<u32>,
    timeout: Option<f64>,
    request_timeout: Option<f64>,
    stream_timeout: Option<f64>,
    /// Read from `litellm_settings` only.
    drop_params: Option<bool>,
    /// Read from `litellm_settings` only: per-group settings (header forwarding).
    pub(in crate::config) model_group_settings: Option<ModelGroupSettings>,
    /// Read from `litellm_settings` only: the telemetry keys (`callbacks`, Prometheus'),
    /// taken out by `take_telemetry`. (Not a flattened struct: keys serde flattens are never
    /// reported as unknown.)
    #[serde(default)]
    callbacks: Vec<String>,
    #[serde(default)]
    success_callback: Vec<String>,
    #[serde(default)]
    failure_callback: Vec<String>,
    prometheus_metrics_config: Option<Vec<super::observability::MetricGroup>>,
    prometheus_latency_buckets: Option<Vec<f64>>,
    require_auth_for_metrics_endpoint: Option<bool>,
    file_callback_params: Option<super::observability::FileCallbackParams>,
    json_logs: Option<bool>,
    /// Gatehouse always filters by capability before routing; accepted for compatibility.
    #[serde(rename = "enable_pre_call_checks")]
    _enable_pre_call_checks: Option<bool>,
    /// LiteLLM's Redis: cooldowns are shared through it (`redis_url`, or host, port, password).
    redis_url: Option<String>,
    redis_host: Option<String>,
    redis_port: Option<NumberOrText>,
    redis_password: Option<String>,
}

impl RawRouting {
    /// The telemetry keys, taken out of the routing ones.
    pub(in crate::config) fn take_telemetry(&mut self) -> super::observability::RawTelemetry {
        super::observability::RawTelemetry {
            callbacks: std::mem::take(&mut self.callbacks),
            success_callback: std::mem::take(&mut self.success_callback),
            failure_callback: std::mem::take(&mut self.failure_callback),
            prometheus_metrics_config: self.prometheus_metrics_config.take(),
            prometheus_latency_buckets: self.prometheus_latency_buckets.take(),
            require_auth_for_metrics_endpoint: self.require_auth_for_metrics_endpoint.take(),
            file_callback_params: self.file_callback_params.take(),
            json_logs: self.json_logs.take(),
        }
    }
}

/// A port written as a number or as text (`os.environ/REDIS_PORT`).
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum NumberOrText {
    Number(u16),
    Text(String),
}

/// The Redis `router_settings` names, as a URL (`redis://:password@host:port/`).
/// The variables the Redis settings name (`os.environ/NAME`): Gatehouse's own secrets.
pub(super) fn redis_references(router: &RawRouting) -> Vec<String> {
    [
        &router.redis_url,
        &router.redis_host,
        &router.redis_password,
    ]
    .into_iter()
    .flatten()
    .filter_map(|value| value.strip_prefix("os.environ/"))
    .map(str::to_string)
    .collect()
}

pub(super) fn redis_url(
    router: &RawRouting,
    resolver: &Resolver<'_>,
) -> Result<Option<String>, ConfigError> {
    let resolve = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|value| resolver.resolve(&format!("router_settings.{field}"), value))
            .transpose()
    };
    if let Some(url) = resolve("redis_url", &router.redis_url)? {
        return Ok(Some(url));
    }
    let Some(host) = resolve("redis_host", &router.redis_host)? else {
        return Ok(None);
    };
    let port = match &router.redis_port {
        None => 6379,
        Some(NumberOrText::Number(port)) => *port,
        Some(NumberOrText::Text(text)) => resolver
            .resolve("router_settings.redis_port", text)?
            .parse()
            .map_err(|_| {
                resolver.invalid("router_settings.redis_port".into(), "must be a port number")
            })?,
    };
    let invalid_host = || {
        resolver.invalid(
            "router_settings.redis_host".into(),
            "must be a host name or address",
        )
    };
    let mut url =
        reqwest::Url::parse(&format!("redis://{host}:{port}/")).map_err(|_| invalid_host())?;
    if let Some(password) = resolve("redis_password", &router.redis_password)? {
        url.set_password(Some(&password))
            .map_err(|_| invalid_host())?;
    }
    Ok(Some(url.to_string()))
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
struct RawRetryPolicy {
    timeout_error_retries: Option<u32>,
    rate_limit_error_retries: Option<u32>,
    internal_server_error_retries: Option<u32>,
    bad_request_error_retries: Option<u32>,
    authentication_error_retries: Option<u32>,
    content_policy_violation_error_retries: Option<u32>,
}

/// Merges `router_settings` over `litellm_settings` and checks the values.
pub(super) fn settings(
    router: RawRouting,
    litellm: RawRouting,
    resolver: &Resolver<'_>,
    warnings: &mut Vec<String>,
) -> Result<RouterSettings, ConfigError> {
    let defaults = RouterSettings::default();
    let seconds = |field: &str, value: Option<f64>| -> Result<Option<Duration>, ConfigError> {
        value
            .map(|value| {
                Duration::try_from_secs_f64(value).map_err(|_| {
                    resolver.invalid(
                        format!("router_settings.{field}"),
                        "must be a number of seconds, zero or more",
                    )
                })
            })
            .transpose()
    };
    let policy = router
        .retry_policy
        .or(litellm.retry_policy)
        .unwrap_or_default();
    for (name, count) in [
        ("BadRequestErrorRetries", policy.bad_request_error_retries),
        (
            "AuthenticationErrorRetries",
            policy.authentication_error_retries,
        ),
        (
            "ContentPolicyViolationErrorRetries",
            policy.content_policy_violation_error_retries,
        ),
    ] {
        if count.is_some_and(|count| count > 0) {
            warnings.push(format!(
                "{}: router_settings.retry_policy.{name} is ignored: Gatehouse never retries a \
                 client error, which would fail the same way again",
                resolver.path
            ));
        }
    }
    let timeout = seconds(
        "timeout",
        router
            .timeout
            .or(litellm.request_timeout)
            .or(litellm.timeout),
    )?;
    Ok(RouterSettings {
        strategy: router
            .routing_strategy
            .or(litellm.routing_strategy)
            .unwrap_or_default(),
        num_retries: router
            .num_retries
            .or(litellm.num_retries)
            .unwrap_or(defaults.num_retries),
        retry_policy: RetryPolicy {
            timeout: policy.timeout_error_retries,
            rate_limit: policy.rate_limit_error_retries,
            internal_server: policy.internal_server_error_retries,
        },
        min_retry_wait: seconds("retry_after", router.retry_after.or(litellm.retry_after))?
            .unwrap_or(defaults.min_retry_wait),
        allowed_fails: router
            .allowed_fails
            .or(litellm.allowed_fails)
            .unwrap_or(defaults.allowed_fails),
        cooldown: seconds(
            "cooldown_time",
            router.cooldown_time.or(litellm.cooldown_time),
        )?
        .unwrap_or(defaults.cooldown),
        cooldowns_enabled: !router
            .disable_cooldowns
            .or(litellm.disable_cooldowns)
            .unwrap_or(false),
        fallbacks: Fallbacks {
            general: merged(router.fallbacks.or(litellm.fallbacks)),
            context_window: merged(
                router
                    .context_window_fallbacks
                    .or(litellm.context_window_fallbacks),
            ),
            content_policy: merged(
                router
                    .content_policy_fallbacks
                    .or(litellm.content_policy_fallbacks),
            ),
            default: router
                .default_fallbacks
                .or(litellm.default_fallbacks)
                .unwrap_or_default(),
        },
        max_fallbacks: router
            .max_fallbacks
            .or(litellm.max_fallbacks)
            .unwrap_or(defaults.max_fallbacks),
        timeout,
        stream_timeout: seconds(
            "stream_timeout",
            router.stream_timeout.or(litellm.stream_timeout),
        )?,
        drop_params: litellm.drop_params.unwrap_or(false),
        classes: RequestClasses::default(),
    })
}

/// Whether a model_list entry serves `target`: by its name, or through a wildcard pattern.
pub(super) fn served(groups: &[&str], target: &str) -> bool {
    groups.iter().any(|group| {
        *group == target
            || (group.contains('*') && crate::core::wildcard::captures(group, target).is_some())
    })
}

/// LiteLLM's list of one-key maps as one map (a group named twice keeps its chains in order).
pub(in crate::config) fn merged(lists: Option<RawFallbacks>) -> BTreeMap<String, Vec<String>> {
    let mut chains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in lists.unwrap_or_default() {
        for (group, targets) in entry {
            chains.entry(group).or_default().extend(targets);
        }
    }
    chains
}

impl RouterSettings {
    /// Warnings for fallback chains that cannot work as written: a group falling back to itself,
    /// or to a group no deployment in the file serves (it may still be stored in the database).
    pub fn check_fallbacks(&self, groups: &[&str], path: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        let served = |target: &str| served(groups, target);
        let chains = [
            ("fallbacks", &self.fallbacks.general),
            ("context_window_fallbacks", &self.fallbacks.context_window),
            ("content_policy_fallbacks", &self.fallbacks.content_policy),
        ];
        for (name, chain) in chains {
            for (group, targets) in chain {
                for target in targets {
                    if target == group {
                        warnings.push(format!(
                            "{path}: router_settings.{name}: `{group}` falls back to itself; that step is skipped"
                        ));
                    } else if !served(target) {
                        warnings.push(format!(
                            "{path}: router_settings.{name}: `{group}` falls back to `{target}`, which no model_list entry serves"
                        ));
                    }
                }
            }
        }
        for target in &self.fallbacks.default {
            if !served(target) {
                warnings.push(format!(
                    "{path}: router_settings.default_fallbacks: `{target}` is not served by any model_list entry"
                ));
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigError};

    const GROUPS: &str = "model_list:\n\
        - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_base: 'http://a'}}\n\
        - {model_name: claude, litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: k}}\n";

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{GROUPS}{extra}"), "test.yaml", &|_| None)
    }

    #[test]
    fn reads_litellms_router_settings() {
        let config = parse(
            "router_settings:\n\
             \x20 routing_strategy: latency-based-routing\n\
             \x20 num_retries: 2\n\
             \x20 retry_after: 0.5\n\
             \x20 allowed_fails: 1\n\
             \x20 cooldown_time: 30\n\
             \x20 timeout: 20\n\
             \x20 fallbacks: [{gpt-4o: [claude]}, {gpt-4o: [claude-haiku]}]\n\
             \x20 context_window_fallbacks: [{gpt-4o: [claude]}]\n\
             \x20 retry_policy: {RateLimitErrorRetries: 4, BadRequestErrorRetries: 2}\n\
             \x20 enable_pre_call_checks: true\n",
        )
        .unwrap();
        let router = &config.router;
        assert_eq!(router.strategy, RoutingStrategy::LatencyBased);
        assert_eq!(router.num_retries, 2);
        assert_eq!(router.min_retry_wait, Duration::from_millis(500));
        assert_eq!(router.allowed_fails, 1);
        assert_eq!(router.cooldown, Duration::from_secs(30));
        assert_eq!(router.timeout, Some(Duration::from_secs(20)));
        assert_eq!(
            router.fallbacks.general["gpt-4o"],
            ["claude", "claude-haiku"]
        );
        assert_eq!(router.fallbacks.context_window["gpt-4o"], ["claude"]);
        assert_eq!(router.retry_policy.rate_limit, Some(4));
        // A client error is never retried, whatever the policy says; an unknown target is named.
        let warnings = config.warnings.join("\n");
        assert!(
            warnings.contains("BadRequestErrorRetries is ignored"),
            "{warnings}"
        );
        assert!(warnings.contains("falls back to `claude-haiku`, which no model_list entry serves"));
        assert_eq!(config.warnings.len(), 2, "{warnings}");
    }

    #[test]
    fn litellm_settings_fill_in_and_router_settings_win() {
        let config = parse(
            "litellm_settings:\n  num_retries: 3\n  request_timeout: 60\n  default_fallbacks: [claude]\n  drop_params: true\n  set_verbose: true\n\
             router_settings:\n  num_retries: 1\n",
        )
        .unwrap();
        assert_eq!(config.router.num_retries, 1);
        assert_eq!(config.router.timeout, Some(Duration::from_secs(60)));
        assert_eq!(config.router.fallbacks.default, ["claude"]);
        assert_eq!(config.router.strategy, RoutingStrategy::SimpleShuffle);
        assert!(config.router.drop_params);
        assert!(
            config.warnings[0].contains("litellm_settings.set_verbose"),
            "{:?}",
            config.warnings
        );
        let defaults = parse("").unwrap().router;
        assert_eq!(defaults, RouterSettings::default());
        assert_eq!(
            (defaults.allowed_fails, defaults.cooldown),
            (3, Duration::from_secs(5))
        );
    }

    #[test]
    fn reads_litellms_redis_settings_as_a_url() {
        let env = |name: &str| (name == "REDIS_PASSWORD").then(|| "p@ss/word".to_string());
        let config = Config::parse(
            &format!(
                "{GROUPS}router_settings:\n  redis_host: cache.internal\n  redis_port: \"6380\"\n  \
                 redis_password: os.environ/REDIS_PASSWORD\n"
            ),
            "test.yaml",
            &env,
        )
        .unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(
            config.redis_url.unwrap().expose(),
            "redis://:p%40ss%2Fword@cache.internal:6380/"
        );
        let url = parse("router_settings:\n  redis_url: redis://localhost:6379/2\n").unwrap();
        assert_eq!(url.redis_url.unwrap().expose(), "redis://localhost:6379/2");
        assert!(parse("").unwrap().redis_url.is_none());
        let bad_port =
            parse("router_settings:\n  redis_host: h\n  redis_port: lots\n").unwrap_err();
        assert!(
            bad_port.to_string().contains("router_settings.redis_port"),
            "{bad_port}"
        );
    }

    #[test]
    fn every_strategy_the_console_offers_is_one() {
        for name in app::route_policy::STRATEGIES {
            assert_eq!(RoutingStrategy::parse(name).unwrap().as_str(), *name);
        }
        assert_eq!(
            RoutingStrategy::parse("usage-based-routing-v2"),
            Ok(RoutingStrategy::UsageBased)
        );
        assert!(RoutingStrategy::parse("fastest")
            .unwrap_err()
            .contains("simple-shuffle, least-busy"));
    }

    #[test]
    fn refuses_bad_values_with_their_place() {
        let strategy = parse("router_settings:\n  routing_strategy: fastest\n").unwrap_err();
        assert!(strategy.to_string().contains("line 5"), "{strategy}");
        let cooldown = parse("router_settings:\n  cooldown_time: -1\n").unwrap_err();
        assert!(
            cooldown
                .to_string()
                .contains("router_settings.cooldown_time"),
            "{cooldown}"
        );
        let self_loop = parse("router_settings:\n  fallbacks: [{claude: [claude]}]\n").unwrap();
        assert!(self_loop.warnings[0].contains("falls back to itself"));
    }
}
