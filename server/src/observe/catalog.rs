//! Every metric `/metrics` can carry: LiteLLM's (its names and labels, in its order, so its
//! dashboards work unchanged), OpenTelemetry's GenAI histograms under their Prometheus names,
//! and Gatehouse's own.

use super::labels::Label::{self, *};

/// LiteLLM's latency buckets, in seconds (`prometheus_latency_buckets` replaces them).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0,
    600.0,
];
/// OpenTelemetry's advised buckets for `gen_ai.client.token.usage`.
const TOKEN_BUCKETS: &[f64] = &[
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];
/// OpenTelemetry's advised buckets for `gen_ai.client.operation.duration`.
const OPERATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// OpenTelemetry's advised buckets for `gen_ai.server.time_to_first_token`.
const FIRST_TOKEN_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Seconds a spend batch may take to land.
const FLUSH_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Whole counts.
    Counter,
    /// Dollars.
    FloatCounter,
    Gauge,
    /// `Latency`: LiteLLM's latency buckets unless the configuration sets others.
    Histogram(Buckets),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Buckets {
    Latency,
    Fixed(&'static [f64]),
}

/// Who may turn a metric off and relabel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// One of LiteLLM's: `prometheus_metrics_config` lists it or not, and picks its labels.
    Litellm,
    /// OpenTelemetry's GenAI names and Gatehouse's own: always on, their labels fixed.
    Fixed,
}

#[derive(Debug)]
pub struct MetricDef {
    /// The exposed name (counters end in `_total`, as Prometheus clients expose them).
    pub name: &'static str,
    /// The name `prometheus_metrics_config` lists it by.
    pub config_name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [Label],
    pub owner: Owner,
}

/// A metric, by its place in `CATALOG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ProxyTotalRequests,
    ProxyFailedRequests,
    RequestTotalLatency,
    LlmApiLatency,
    LlmApiTimeToFirstToken,
    OverheadLatency,
    Spend,
    TotalTokens,
    InputTokens,
    OutputTokens,
    DeploymentSuccessResponses,
    DeploymentFailureResponses,
    DeploymentSuccessfulFallbacks,
    DeploymentFailedFallbacks,
    RemainingTeamBudget,
    RemainingApiKeyBudget,
    RemainingRequests,
    RemainingTokens,
    DeploymentState,
    DeploymentCooledDown,
    InFlightRequests,
    GenAiTokenUsage,
    GenAiOperationDuration,
    GenAiTimeToFirstToken,
    SpendQueueDepth,
    SpendFlushSeconds,
    SpendFlushFailures,
    KeyCacheEntries,
    KeyCacheMisses,
    BudgetLeaseRoundTrips,
    RedisErrors,
    PostgresErrors,
    RetryBudgetExhausted,
    CallbackLogs,
    TraceSpans,
    TraceExportsFailed,
}

impl Metric {
    pub fn def(self) -> &'static MetricDef {
        &CATALOG[self as usize]
    }
}

const fn litellm(
    name: &'static str,
    config_name: &'static str,
    help: &'static str,
    kind: Kind,
    labels: &'static [Label],
) -> MetricDef {
    MetricDef {
        name,
        config_name,
        help,
        kind,
        labels,
        owner: Owner::Litellm,
    }
}

const fn fixed(
    name: &'static str,
    help: &'static str,
    kind: Kind,
    labels: &'static [Label],
) -> MetricDef {
    MetricDef {
        name,
        config_name: name,
        help,
        kind,
        labels,
        owner: Owner::Fixed,
    }
}

const LATENCY: Kind = Kind::Histogram(Buckets::Latency);

const TOKEN_LABELS: &[Label] = &[
    EndUser,
    HashedApiKey,
    ApiKeyAlias,
    Model,
    Team,
    TeamAlias,
    User,
    UserEmail,
    RequestedModel,
    ModelId,
];
const API_LATENCY_LABELS: &[Label] = &[
    Model,
    HashedApiKey,
    ApiKeyAlias,
    Team,
    TeamAlias,
    RequestedModel,
    EndUser,
    User,
    ModelId,
];
const FALLBACK_LABELS: &[Label] = &[
    RequestedModel,
    FallbackModel,
    HashedApiKey,
    ApiKeyAlias,
    Team,
    TeamAlias,
    ExceptionStatus,
    ExceptionClass,
    ModelId,
];
const DEPLOYMENT_LIMIT_LABELS: &[Label] = &[
    ModelGroup,
    ApiProvider,
    ApiBase,
    LitellmModelName,
    HashedApiKey,
    ApiKeyAlias,
    ModelId,
];
const DEPLOYMENT_LABELS: &[Label] = &[LitellmModelName, ModelId, ApiBase, ApiProvider];
const GEN_AI_LABELS: &[Label] = &[
    GenAiOperationName,
    GenAiProviderName,
    GenAiRequestModel,
    GenAiResponseModel,
];

/// In `Metric`'s order.
pub static CATALOG: [MetricDef; 36] = [
    litellm(
        "litellm_proxy_total_requests_metric_total",
        "litellm_proxy_total_requests_metric",
        "Requests made to the proxy, by the status it answered with",
        Kind::Counter,
        &[
            EndUser,
            HashedApiKey,
            ApiKeyAlias,
            RequestedModel,
            Team,
            TeamAlias,
            User,
            StatusCode,
            UserEmail,
            Route,
            ClientIp,
            UserAgent,
            ModelId,
        ],
    ),
    litellm(
        "litellm_proxy_failed_requests_metric_total",
        "litellm_proxy_failed_requests_metric",
        "Requests the proxy answered with an error",
        Kind::Counter,
        &[
            EndUser,
            HashedApiKey,
            ApiKeyAlias,
            RequestedModel,
            Team,
            TeamAlias,
            User,
            UserEmail,
            ExceptionStatus,
            ExceptionClass,
            Route,
            ClientIp,
            UserAgent,
            ModelId,
        ],
    ),
    litellm(
        "litellm_request_total_latency_metric",
        "litellm_request_total_latency_metric",
        "Seconds from a request's arrival to its last byte",
        LATENCY,
        &[
            EndUser,
            HashedApiKey,
            ApiKeyAlias,
            RequestedModel,
            Team,
            TeamAlias,
            User,
            Model,
            ModelId,
        ],
    ),
    litellm(
        "litellm_llm_api_latency_metric",
        "litellm_llm_api_latency_metric",
        "Seconds the upstream took to answer (a stream: to its end)",
        LATENCY,
        API_LATENCY_LABELS,
    ),
    litellm(
        "litellm_llm_api_time_to_first_token_metric",
        "litellm_llm_api_time_to_first_token_metric",
        "Seconds to a stream's first bytes from the upstream",
        LATENCY,
        API_LATENCY_LABELS,
    ),
    litellm(
        "litellm_overhead_latency_metric",
        "litellm_overhead_latency_metric",
        "Seconds the gateway added to a request (its time less the upstream's)",
        LATENCY,
        DEPLOYMENT_LIMIT_LABELS,
    ),
    litellm(
        "litellm_spend_metric_total",
        "litellm_spend_metric",
        "Spend in USD",
        Kind::FloatCounter,
        &[
            EndUser,
            HashedApiKey,
            ApiKeyAlias,
            Model,
            Team,
            TeamAlias,
            User,
            UserEmail,
            ClientIp,
            UserAgent,
            ModelId,
            ApiProvider,
        ],
    ),
    litellm(
        "litellm_total_tokens_metric_total",
        "litellm_total_tokens_metric",
        "Input and output tokens",
        Kind::Counter,
        TOKEN_LABELS,
    ),
    litellm(
        "litellm_input_tokens_metric_total",
        "litellm_input_tokens_metric",
        "Input (prompt) tokens",
        Kind::Counter,
        TOKEN_LABELS,
    ),
    litellm(
        "litellm_output_tokens_metric_total",
        "litellm_output_tokens_metric",
        "Output (completion) tokens",
        Kind::Counter,
        TOKEN_LABELS,
    ),
    litellm(
        "litellm_deployment_success_responses_total",
        "litellm_deployment_success_responses",
        "Upstream attempts a deployment answered",
        Kind::Counter,
        &[
            RequestedModel,
            LitellmModelName,
            ModelId,
            ApiBase,
            ApiProvider,
            HashedApiKey,
            ApiKeyAlias,
            Team,
            TeamAlias,
            ClientIp,
            UserAgent,
        ],
    ),
    litellm(
        "litellm_deployment_failure_responses_total",
        "litellm_deployment_failure_responses",
        "Upstream attempts a deployment failed",
        Kind::Counter,
        &[
            RequestedModel,
            LitellmModelName,
            ModelId,
            ApiBase,
            ApiProvider,
            ExceptionStatus,
            ExceptionClass,
            HashedApiKey,
            ApiKeyAlias,
            Team,
            TeamAlias,
            ClientIp,
            UserAgent,
        ],
    ),
    litellm(
        "litellm_deployment_successful_fallbacks_total",
        "litellm_deployment_successful_fallbacks",
        "Requests a fallback group answered",
        Kind::Counter,
        FALLBACK_LABELS,
    ),
    litellm(
        "litellm_deployment_failed_fallbacks_total",
        "litellm_deployment_failed_fallbacks",
        "Requests that fell back and failed there too",
        Kind::Counter,
        FALLBACK_LABELS,
    ),
    litellm(
        "litellm_remaining_team_budget_metric",
        "litellm_remaining_team_budget_metric",
        "USD a team's budget has left (+Inf without a limit)",
        Kind::Gauge,
        &[Team, TeamAlias],
    ),
    litellm(
        "litellm_remaining_api_key_budget_metric",
        "litellm_remaining_api_key_budget_metric",
        "USD a key's budget has left (+Inf without a limit)",
        Kind::Gauge,
        &[HashedApiKey, ApiKeyAlias],
    ),
    litellm(
        "litellm_remaining_requests_metric",
        "litellm_remaining_requests_metric",
        "Requests a deployment's rpm leaves this minute",
        Kind::Gauge,
        DEPLOYMENT_LIMIT_LABELS,
    ),
    litellm(
        "litellm_remaining_tokens_metric",
        "litellm_remaining_tokens_metric",
        "Tokens a deployment's tpm leaves this minute",
        Kind::Gauge,
        DEPLOYMENT_LIMIT_LABELS,
    ),
    litellm(
        "litellm_deployment_state",
        "litellm_deployment_state",
        "0 healthy, 1 failing (not yet cooled down), 2 cooling down",
        Kind::Gauge,
        DEPLOYMENT_LABELS,
    ),
    litellm(
        "litellm_deployment_cooled_down_total",
        "litellm_deployment_cooled_down",
        "Times a deployment was cooled down",
        Kind::Counter,
        &[
            LitellmModelName,
            ModelId,
            ApiBase,
            ApiProvider,
            ExceptionStatus,
        ],
    ),
    litellm(
        "litellm_in_flight_requests",
        "litellm_in_flight_requests",
        "Requests being served",
        Kind::Gauge,
        &[],
    ),
    fixed(
        "gen_ai_client_token_usage",
        "OpenTelemetry gen_ai.client.token.usage: tokens per call, by type",
        Kind::Histogram(Buckets::Fixed(TOKEN_BUCKETS)),
        &[
            GenAiOperationName,
            GenAiProviderName,
            GenAiRequestModel,
            GenAiResponseModel,
            GenAiTokenType,
        ],
    ),
    fixed(
        "gen_ai_client_operation_duration_seconds",
        "OpenTelemetry gen_ai.client.operation.duration",
        Kind::Histogram(Buckets::Fixed(OPERATION_BUCKETS)),
        &[
            GenAiOperationName,
            GenAiProviderName,
            GenAiRequestModel,
            GenAiResponseModel,
            ErrorType,
        ],
    ),
    fixed(
        "gen_ai_server_time_to_first_token_seconds",
        "OpenTelemetry gen_ai.server.time_to_first_token",
        Kind::Histogram(Buckets::Fixed(FIRST_TOKEN_BUCKETS)),
        GEN_AI_LABELS,
    ),
    fixed(
        "gatehouse_spend_queue_depth",
        "Spend rows waiting for the batch writer",
        Kind::Gauge,
        &[],
    ),
    fixed(
        "gatehouse_spend_flush_seconds",
        "Seconds a spend batch took to land",
        Kind::Histogram(Buckets::Fixed(FLUSH_BUCKETS)),
        &[],
    ),
    fixed(
        "gatehouse_spend_flush_failures_total",
        "Spend batch writes the database refused or missed (retried until they land)",
        Kind::Counter,
        &[],
    ),
    fixed(
        "gatehouse_key_cache_entries",
        "Keys held in memory",
        Kind::Gauge,
        &[],
    ),
    fixed(
        "gatehouse_key_cache_misses_total",
        "Keys looked up in the database (not yet in memory)",
        Kind::Counter,
        &[],
    ),
    fixed(
        "gatehouse_budget_lease_round_trips_total",
        "Budget leases asked of the database",
        Kind::Counter,
        &[],
    ),
    fixed(
        "gatehouse_redis_errors_total",
        "Redis commands that failed",
        Kind::Counter,
        &[],
    ),
    fixed(
        "gatehouse_postgres_errors_total",
        "Database statements that failed",
        Kind::Counter,
        &[],
    ),
    fixed(
        "gatehouse_retry_budget_exhausted_total",
        "Retries not made because the retry budget was spent",
        Kind::Counter,
        &[],
    ),
    fixed(
        "gatehouse_callback_logs_total",
        "Request logs per callback: sent, dropped (its queue was full) or failed (after retries)",
        Kind::Counter,
        &[Callback, Outcome],
    ),
    fixed(
        "gatehouse_trace_spans_total",
        "Spans exported, or dropped because the export queue was full",
        Kind::Counter,
        &[Outcome],
    ),
    fixed(
        "gatehouse_trace_exports_failed_total",
        "Span batches the collector did not take (not retried)",
        Kind::Counter,
        &[],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_counters_end_in_total() {
        let mut names: Vec<&str> = CATALOG.iter().map(|def| def.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        for def in &CATALOG {
            let counter = matches!(def.kind, Kind::Counter | Kind::FloatCounter);
            assert_eq!(def.name.ends_with("_total"), counter, "{}", def.name);
        }
    }

    #[test]
    fn metrics_index_their_own_definition() {
        assert_eq!(
            Metric::ProxyTotalRequests.def().config_name,
            "litellm_proxy_total_requests_metric"
        );
        assert_eq!(Metric::Spend.def().name, "litellm_spend_metric_total");
        assert_eq!(
            Metric::RetryBudgetExhausted.def().name,
            "gatehouse_retry_budget_exhausted_total"
        );
        assert_eq!(
            Metric::GenAiTokenUsage.def().name,
            "gen_ai_client_token_usage"
        );
    }
}

#[cfg(test)]
mod dashboard_tests {
    use super::*;

    /// The dashboard shipped in docs/ names only metrics that exist.
    #[test]
    fn the_grafana_dashboard_names_only_exposed_metrics() {
        let dashboard = include_str!("../../../docs/grafana-dashboard.json");
        let names: Vec<&str> = dashboard
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| {
                word.starts_with("litellm_")
                    || word.starts_with("gatehouse_")
                    || word.starts_with("gen_ai_")
            })
            // Labels share the prefixes (`litellm_model_name`, `gen_ai_token_type`).
            .filter(|word| super::super::labels::Label::from_name(word).is_none())
            .collect();
        assert!(names.len() > 10);
        for name in names {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            assert!(
                CATALOG
                    .iter()
                    .any(|def| def.name == name || def.name == base),
                "the dashboard names `{name}`, which /metrics does not expose"
            );
        }
    }
}
