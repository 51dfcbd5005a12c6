//! The engine's last stage, observe: what every call leaves behind besides its spend row —
//! Prometheus metrics under LiteLLM's names (and OpenTelemetry's GenAI ones), gathered without
//! a lock or an allocation per call once its labels have been seen, and OpenTelemetry traces.

pub mod callbacks;
pub mod catalog;
pub mod labels;
pub mod metrics;
mod series;
pub mod traces;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue};

use app::db::spend::{Payload, SpendRow};

use crate::config::ObservabilitySettings;
use crate::core::trace_context::{self, Propagation};
use crate::core::usage::Usage;
use crate::policy::auth::Caller;
use crate::providers::Deployment;
use crate::routing::attempts::Trail;
use callbacks::Callbacks;
use labels::{Label, LabelValues};
use metrics::{CallMeasures, FlushMeters, InFlight, Metrics};
use traces::{CallTrace, TracedCall, Tracer};

/// What the process records about its calls.
pub struct Observer {
    metrics: Option<Metrics>,
    /// When the `otel` callback is on.
    tracer: Option<Tracer>,
    /// The request-log callbacks, when any is configured.
    callbacks: Option<Callbacks>,
    /// Spans carry the redacted request and reply (`store_prompts_in_spend_logs`).
    prompts: bool,
    /// `json_logs`: a log line per request.
    request_lines: bool,
    /// Who may read `/metrics`.
    access: MetricsAccess,
    /// Whether calls keep what only opted-in labels read.
    keeps_client_ip: bool,
    keeps_user_agent: bool,
    keeps_end_user: bool,
}

/// Who may read `/metrics` besides the master key.
#[derive(Default)]
struct MetricsAccess {
    /// `require_auth_for_metrics_endpoint: false`: anyone.
    open: bool,
    /// `general_settings.metrics_token`, hashed.
    token_hash: Option<[u8; 32]>,
}

/// What a call carries for the observe stage beyond what its spend row holds.
#[derive(Default)]
pub struct CallContext {
    /// The path it was sent to (LiteLLM's `route` label), once it is authenticated.
    pub route: String,
    pub key_alias: Option<Arc<str>>,
    pub team_alias: Option<Arc<str>>,
    /// Kept only when a metric's labels read them.
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<HeaderValue>,
    /// Counts the call in `litellm_in_flight_requests` until it is observed.
    pub in_flight: Option<InFlight>,
    /// The request's trace, when it is traced.
    pub trace: Option<CallTrace>,
    /// What its upstream calls carry of its trace.
    pub propagation: Propagation,
    /// Its key or team turned request logs off: no callback gets it, no span its messages.
    pub logging_off: bool,
}

/// A call that ended (answered, failed, or cut short), as the observe stage reads it.
pub struct EndedCall<'a> {
    pub context: &'a CallContext,
    pub caller: CallerIds<'a>,
    pub requested_model: &'a str,
    pub call_type: &'static str,
    /// The deployment that answered, or the last one tried.
    pub deployment: &'a Deployment,
    pub trail: &'a Trail,
    pub status: u16,
    pub started: Instant,
    pub cost_micros: i64,
    pub usage: &'a Usage,
    pub is_stream: bool,
    pub request_id: &'a str,
    /// The redacted request and reply, when payloads are kept.
    pub payload: Option<&'a Payload>,
    /// When metering began.
    pub metered_from: Option<Instant>,
    /// The call's spend row, which request logs are made from.
    pub row: &'a SpendRow,
}

/// Who made a call, as its labels name them.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallerIds<'a> {
    pub token_hash: &'a str,
    pub team_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub end_user: Option<&'a str>,
}

impl Observer {
    /// Records nothing.
    pub fn off() -> Observer {
        Observer {
            metrics: None,
            tracer: None,
            callbacks: None,
            prompts: false,
            request_lines: false,
            access: MetricsAccess::default(),
            keeps_client_ip: false,
            keeps_user_agent: false,
            keeps_end_user: false,
        }
    }

    /// What `settings` ask for; `prompts`: spans may carry the redacted request and reply.
    /// Starts the span exporter (so, within a Tokio runtime).
    pub fn new(
        settings: &ObservabilitySettings,
        prompts: bool,
        http: reqwest::Client,
    ) -> Result<Observer, String> {
        let tracer = settings.traces.as_ref().map(Tracer::new).transpose()?;
        let callbacks =
            (!settings.sinks.is_empty()).then(|| Callbacks::start(&settings.sinks, http));
        let mut observer = Observer {
            tracer,
            callbacks,
            prompts,
            request_lines: settings.json_logs,
            ..Observer::off()
        };
        let Some(prometheus) = &settings.prometheus else {
            return Ok(observer);
        };
        let metrics = Metrics::new(prometheus)?;
        observer.access = MetricsAccess {
            open: !prometheus.require_auth,
            token_hash: prometheus
                .token
                .as_ref()
                .map(|token| app::secrets::hash_key_bytes(token.expose())),
        };
        observer.keeps_client_ip = metrics.keeps(Label::ClientIp);
        observer.keeps_user_agent = metrics.keeps(Label::UserAgent);
        observer.keeps_end_user = metrics.keeps(Label::EndUser);
        observer.metrics = Some(metrics);
        Ok(observer)
    }

    /// Sends the spans and request logs still queued.
    pub async fn finish(&self) {
        let spans = async {
            if let Some(tracer) = &self.tracer {
                tracer.finish().await;
            }
        };
        let logs = async {
            if let Some(callbacks) = &self.callbacks {
                callbacks.finish().await;
            }
        };
        tokio::join!(spans, logs);
    }

    /// The request-log callbacks, when any is configured.
    pub fn callbacks(&self) -> Option<&Callbacks> {
        self.callbacks.as_ref()
    }

    /// The span exporter's counts, when tracing is on.
    pub fn trace_counts(&self) -> Option<&traces::export::ExportCounts> {
        self.tracer.as_ref().map(Tracer::counts)
    }

    /// What the spend writer reports its batches to.
    pub fn flush_meters(&self) -> FlushMeters {
        self.metrics
            .as_ref()
            .map(Metrics::spend_flush)
            .unwrap_or_default()
    }

    /// Whether `/metrics` answers without a key.
    pub fn metrics_open(&self) -> bool {
        self.access.open
    }

    /// Whether `presented` is the metrics token (compared in constant time).
    pub fn is_metrics_token(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.access
            .token_hash
            .is_some_and(|hash| app::secrets::hash_key_bytes(presented).ct_eq(&hash).into())
    }

    /// The Prometheus registry, when the `prometheus` callback is on.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// What a request arriving now carries to its observe stage: its trace (a client's
    /// `traceparent` joined, or a new one, as the sampler decides) and, while metrics are on,
    /// what its labels read.
    pub fn begin(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> CallContext {
        let incoming = trace_context::incoming(headers);
        let trace = self
            .tracer
            .as_ref()
            .and_then(|tracer| tracer.start(incoming));
        let propagation = match (&trace, incoming) {
            (Some(trace), _) => Propagation::Traced {
                trace_id: trace.trace_id,
            },
            (None, Some(_)) => headers
                .get(trace_context::TRACEPARENT)
                .cloned()
                .map_or(Propagation::None, Propagation::PassThrough),
            (None, None) => Propagation::None,
        };
        let mut context = CallContext {
            trace,
            propagation,
            ..CallContext::default()
        };
        if let Some(metrics) = &self.metrics {
            context.client_ip = peer.filter(|_| self.keeps_client_ip);
            context.user_agent = headers
                .get(header::USER_AGENT)
                .filter(|_| self.keeps_user_agent)
                .cloned();
            context.in_flight = metrics.in_flight();
        }
        context
    }

    /// The caller is known: its aliases label the call.
    pub fn identify(&self, context: &mut CallContext, caller: &Caller) {
        if let Some(trace) = &mut context.trace {
            trace.admitted = Some(Instant::now());
        }
        if self.callbacks.is_some() || self.prompts {
            context.logging_off = caller.logging_off();
        }
        if self.metrics.is_some() || self.callbacks.is_some() || self.request_lines {
            let (key_alias, team_alias) = caller.aliases();
            context.key_alias = key_alias.cloned();
            context.team_alias = team_alias.cloned();
        }
    }

    /// A request refused before any upstream was called: counted with what is known of it.
    pub fn refused(
        &self,
        context: &CallContext,
        caller: Option<&Caller>,
        requested_model: &str,
        status: u16,
    ) {
        // Only a known caller's refusals are traced: an unknown one's sampled `traceparent`
        // would otherwise fill the span queue.
        if let (Some(tracer), Some(trace), Some(_)) = (&self.tracer, &context.trace, caller) {
            let error = labels::exception_class(status);
            tracer.refused(trace, &context.route, status, error);
        }
        if self.request_lines {
            let team = caller.and_then(|caller| caller.team_id()).map(|id| &**id);
            log_line("", context, team, requested_model, None, status, None);
        }
        let Some(metrics) = &self.metrics else {
            return;
        };
        let ids = caller.map(caller_ids).unwrap_or_default();
        let client_ip = self.client_ip(context);
        let mut values = LabelValues::default();
        self.caller_labels(&mut values, context, &ids, &client_ip);
        values.set(Label::RequestedModel, requested_model);
        metrics.record_call(
            &values,
            &CallMeasures {
                status,
                ..CallMeasures::default()
            },
        );
    }

    /// The observe stage of a call that reached an upstream (or was meant to).
    pub fn call_ended(&self, call: &EndedCall<'_>) {
        if let (Some(tracer), Some(trace)) = (&self.tracer, &call.context.trace) {
            tracer.record(&self.traced(call, trace));
        }
        if self.request_lines {
            log_line(
                call.request_id,
                call.context,
                call.caller.team_id,
                call.requested_model,
                Some(&call.deployment.id),
                call.status,
                Some(call.started.elapsed()),
            );
        }
        if let Some(callbacks) = &self.callbacks {
            // A stream cut midway answered 200 and still failed: the row says which.
            if !call.context.logging_off && callbacks.wants(call.row.status == "success") {
                callbacks.log(callbacks::payload::call_log(call.row, call.context));
            }
        }
        let Some(metrics) = &self.metrics else {
            return;
        };
        let client_ip = self.client_ip(call.context);
        let mut values = LabelValues::default();
        self.caller_labels(&mut values, call.context, &call.caller, &client_ip);
        values
            .set(Label::RequestedModel, call.requested_model)
            .set(Label::GenAiRequestModel, call.requested_model)
            .set(Label::GenAiOperationName, operation_name(call.call_type));
        deployment_labels(&mut values, call.deployment);
        let measures = measures(call);
        metrics.record_call(&values, &measures);
        let mut first_failure = None;
        for attempt in call
            .trail
            .attempts
            .iter()
            .filter(|a| a.outcome != "success")
        {
            first_failure.get_or_insert(attempt.status);
            let mut attempt_values = values;
            deployment_labels(&mut attempt_values, &attempt.deployment);
            metrics.record_failed_attempt(&attempt_values, attempt.status);
        }
        if call.trail.fallbacks > 0 {
            metrics.record_fallback(
                &values,
                &call.deployment.model_group,
                call.status < 400,
                first_failure.unwrap_or(call.status),
            );
        }
    }

    fn traced<'a>(&self, call: &'a EndedCall<'a>, trace: &'a CallTrace) -> TracedCall<'a> {
        let deployment = call.deployment;
        let messages = call
            .payload
            .filter(|_| self.prompts && !call.context.logging_off)
            .map(|payload| {
                let text = |value: &Option<serde_json::Value>| {
                    value.as_ref().map(ToString::to_string).unwrap_or_default()
                };
                (text(&payload.request), text(&payload.response))
            });
        TracedCall {
            trace,
            operation: operation_name(call.call_type),
            requested_model: call.requested_model,
            deployment,
            request_id: call.request_id,
            status: call.status,
            error: (call.status >= 400).then(|| labels::exception_class(call.status)),
            input_tokens: call.usage.prompt_tokens,
            output_tokens: call.usage.completion_tokens,
            cached_tokens: call.usage.cached_tokens,
            spend_usd: call.cost_micros.max(0) as f64 / 1_000_000.0,
            attempts: &call.trail.attempts,
            is_stream: call.is_stream,
            metered_from: call.metered_from,
            messages,
        }
    }

    fn client_ip(&self, context: &CallContext) -> String {
        context
            .client_ip
            .filter(|_| self.keeps_client_ip)
            .map(|ip| ip.to_string())
            .unwrap_or_default()
    }

    fn caller_labels<'a>(
        &self,
        values: &mut LabelValues<'a>,
        context: &'a CallContext,
        ids: &CallerIds<'a>,
        client_ip: &'a str,
    ) {
        values
            .set(Label::HashedApiKey, ids.token_hash)
            .set(
                Label::ApiKeyAlias,
                context.key_alias.as_deref().unwrap_or(""),
            )
            .set(Label::Team, ids.team_id.unwrap_or(""))
            .set(
                Label::TeamAlias,
                context.team_alias.as_deref().unwrap_or(""),
            )
            .set(Label::User, ids.user_id.unwrap_or(""))
            .set(Label::Route, &context.route)
            .set(Label::ClientIp, client_ip);
        if self.keeps_end_user {
            values.set(Label::EndUser, ids.end_user.unwrap_or(""));
        }
        if let Some(agent) = &context.user_agent {
            values.set(Label::UserAgent, agent.to_str().unwrap_or(""));
        }
    }
}

/// `json_logs`' line for a request: who, what, where it went, how it ended. No key, no prompt.
fn log_line(
    request_id: &str,
    context: &CallContext,
    team: Option<&str>,
    model: &str,
    deployment: Option<&str>,
    status: u16,
    latency: Option<std::time::Duration>,
) {
    tracing::info!(
        target: "gatehouse::request",
        request_id,
        route = context.route.as_str(),
        key_alias = context.key_alias.as_deref(),
        team,
        model,
        deployment,
        status,
        latency_ms = latency.map(|latency| latency.as_secs_f64() * 1e3),
        "request"
    );
}

fn caller_ids(caller: &Caller) -> CallerIds<'_> {
    CallerIds {
        token_hash: caller.token_hash(),
        team_id: caller.team_id().map(|id| &**id),
        user_id: caller.user_id().map(|id| &**id),
        end_user: None,
    }
}

fn deployment_labels<'a>(values: &mut LabelValues<'a>, deployment: &'a Deployment) {
    values
        .set(Label::Model, &deployment.upstream_model)
        .set(Label::LitellmModelName, &deployment.upstream_model)
        .set(Label::ModelId, &deployment.id)
        .set(Label::ApiBase, &deployment.api_base)
        .set(Label::ApiProvider, &deployment.provider)
        .set(Label::ModelGroup, &deployment.model_group)
        .set(
            Label::GenAiProviderName,
            provider_name(&deployment.provider),
        )
        .set(Label::GenAiResponseModel, &deployment.upstream_model);
}

/// The timings and amounts of an ended call.
fn measures(call: &EndedCall<'_>) -> CallMeasures {
    let total = call.started.elapsed();
    let answered = call
        .trail
        .attempts
        .last()
        .filter(|attempt| attempt.outcome == "success" && call.status < 400);
    // A stream's answering attempt ended at its first bytes; the rest of the stream is the
    // upstream's time too.
    let (upstream, first_token, stream_tail) = match answered {
        Some(attempt) if call.is_stream => {
            let since = attempt.started.elapsed();
            let first = attempt.latency;
            (Some(since), Some(first), since.saturating_sub(first))
        }
        Some(attempt) => (Some(attempt.latency), None, Default::default()),
        None => (None, None, Default::default()),
    };
    let overhead = total
        .saturating_sub(call.trail.upstream_time)
        .saturating_sub(stream_tail);
    CallMeasures {
        status: call.status,
        total_seconds: Some(total.as_secs_f64()),
        upstream_seconds: upstream.map(|time| time.as_secs_f64()),
        first_token_seconds: first_token.map(|time| time.as_secs_f64()),
        overhead_seconds: overhead.as_secs_f64(),
        spend_usd: call.cost_micros.max(0) as f64 / 1_000_000.0,
        input_tokens: call.usage.prompt_tokens,
        output_tokens: call.usage.completion_tokens,
    }
}

/// OpenTelemetry's `gen_ai.operation.name` for a LiteLLM call type.
pub fn operation_name(call_type: &'static str) -> &'static str {
    match call_type {
        "acompletion" | "anthropic_messages" | "aresponses" => "chat",
        "aembedding" => "embeddings",
        "atext_completion" => "text_completion",
        other => other,
    }
}

/// OpenTelemetry's `gen_ai.provider.name` for a LiteLLM provider prefix.
pub fn provider_name(provider: &str) -> &str {
    match provider {
        "openai" | "text-completion-openai" => "openai",
        "azure" | "azure_ai" => "azure.ai.openai",
        "anthropic" => "anthropic",
        "bedrock" => "aws.bedrock",
        "gemini" => "gcp.gemini",
        "vertex_ai" => "gcp.vertex_ai",
        "cohere" => "cohere",
        "mistral" => "mistral_ai",
        "groq" => "groq",
        "deepseek" => "deepseek",
        "xai" => "x_ai",
        "perplexity" => "perplexity",
        other => other,
    }
}
