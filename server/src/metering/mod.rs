//! Metering: a call's usage becomes a cost and exactly one spend row, queued for the batched
//! writer off the request path.

pub mod redact;
pub mod upkeep;
pub mod writer;

use std::sync::Arc;
use std::time::Instant;

use app::db::spend::{Charge, Payload, SpendRow};
use time::OffsetDateTime;

use crate::core::usage::{estimate_tokens, Usage};
use crate::observe::{CallContext, CallerIds, EndedCall, Observer};
use crate::policy::budgets::{Budget, Reservation};
use crate::policy::limits::Admission;
use crate::providers::Deployment;
use crate::routing::attempts::Trail;
use writer::SpendQueue;

/// LiteLLM's `call_type` for chat completions.
pub const CALL_TYPE_CHAT: &str = "acompletion";
/// LiteLLM's `call_type` for embeddings.
pub const CALL_TYPE_EMBEDDING: &str = "aembedding";

/// What is known about a call when it starts; turned into its spend row when it ends.
pub struct MeteredCall {
    pub request_id: String,
    /// LiteLLM's name for the endpoint (`acompletion`, `aembedding`).
    pub call_type: &'static str,
    pub token_hash: Arc<str>,
    pub team_id: Option<Arc<str>>,
    pub user_id: Option<Arc<str>>,
    pub project_id: Option<Arc<str>>,
    /// The request's tags (its own and its key's).
    pub tags: Vec<String>,
    /// LiteLLM's session id (`metadata.session_id`, `litellm_session_id`).
    pub session_id: Option<String>,
    /// What the spend row keeps of the request's metadata (trace id, generation name, custom
    /// `spend_logs_metadata`).
    pub metadata: Option<serde_json::Value>,
    /// The budgets the call counts against (key, user, member, team), and what it reserved of them.
    pub budget_chain: Option<Arc<[Arc<Budget>]>>,
    pub reservation: Option<Reservation>,
    /// What the reservation leaves for output once the prompt's bound is paid for: a stream
    /// that produces more is ended (its upstream ignored the lowered output limit).
    pub output_allowance: Option<i64>,
    /// Its place in the rate limits of its scopes, held until it is metered.
    pub admission: Option<Admission>,
    pub deployment: Arc<Deployment>,
    pub end_user: Option<String>,
    pub is_stream: bool,
    pub prompt_estimate: u64,
    /// The upstream attempts made, filled in when the route ends.
    pub trail: Trail,
    pub started: Instant,
    pub started_at: OffsetDateTime,
    /// The redacted request (and later reply) when payload logging is on.
    pub payload: Option<Box<Payload>>,
    /// What the observe stage reads beyond the spend row.
    pub context: CallContext,
}

impl MeteredCall {
    /// Keeps the redacted request when payload logging is on.
    pub fn keep_request(
        &mut self,
        store_payloads: bool,
        request: impl FnOnce() -> serde_json::Value,
    ) {
        if store_payloads {
            self.payload = Some(Box::new(Payload {
                request: Some(redact::redact(request())),
                response: None,
            }));
        }
    }

    /// Adds the redacted reply to a kept request.
    pub fn keep_reply(&mut self, body: &[u8]) {
        if let Some(payload) = self.payload.as_mut() {
            payload.response = redact::redact_body(body);
        }
    }

    /// What an adapter needs to give a translated reply its id, model and time.
    pub fn reply_context(&self) -> crate::providers::adapter::ReplyContext {
        crate::providers::adapter::ReplyContext {
            completion_id: format!("chatcmpl-{}", self.request_id),
            model: self.deployment.upstream_model.clone(),
            created: self.started_at.unix_timestamp(),
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy)]
pub struct CallOutcome {
    pub http_status: u16,
    pub success: bool,
    /// Usage the upstream reported, if it did.
    pub usage: Option<Usage>,
    /// Text the upstream produced, for an estimate when it reported no usage.
    pub generated_chars: usize,
}

impl CallOutcome {
    /// A call that produced nothing billable (refused or failed before any output).
    pub fn failed(http_status: u16) -> Self {
        CallOutcome {
            http_status,
            success: false,
            usage: None,
            generated_chars: 0,
        }
    }
}

/// Costs calls, observes them, and queues their spend rows.
#[derive(Clone)]
pub struct Meter {
    queue: SpendQueue,
    observer: Arc<Observer>,
}

impl Meter {
    pub fn new(queue: SpendQueue, observer: Arc<Observer>) -> Self {
        Meter { queue, observer }
    }

    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    /// Spend rows waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    /// Records a finished call: settles its reservation to the actual cost and queues its row.
    /// Returns the cost in micro-dollars.
    pub async fn record(&self, mut call: MeteredCall, outcome: CallOutcome) -> i64 {
        let metered_from = call.context.trace.is_some().then(Instant::now);
        let (usage, estimated) = match outcome.usage {
            // A stream cut midway reported usage only up to its start: bill what it produced.
            Some(mut usage) if !outcome.success => {
                let produced = estimate_tokens(outcome.generated_chars);
                let estimated = produced > usage.completion_tokens;
                usage.completion_tokens = usage.completion_tokens.max(produced);
                (usage, estimated)
            }
            Some(usage) => (usage, false),
            None if outcome.success || outcome.generated_chars > 0 => (
                Usage::new(
                    call.prompt_estimate,
                    estimate_tokens(outcome.generated_chars),
                ),
                true,
            ),
            None => (Usage::default(), false),
        };
        let usage = usage.bounded();
        let cost_micros = call.deployment.prices.cost_micros(&usage);
        call.deployment
            .state
            .count_tokens(usage.prompt_tokens.saturating_add(usage.completion_tokens));
        call.deployment.state.stats.billed(
            usage.prompt_tokens,
            usage.completion_tokens,
            u64::try_from(cost_micros).unwrap_or(0),
        );
        // A request its first attempt served needs no list: the row itself says it all.
        let attempts = match call.trail.attempts.as_slice() {
            [only] if only.outcome == "success" && outcome.success && call.trail.fallbacks == 0 => {
                None
            }
            list => Some(
                serde_json::to_value(list).unwrap_or_else(|_| serde_json::Value::Array(Vec::new())),
            ),
        };
        if let Some(admission) = call.admission.take() {
            admission.finish(usage.prompt_tokens.saturating_add(usage.completion_tokens));
        }
        let chain = call.budget_chain.as_deref().unwrap_or_default();
        let charges = match call.reservation.take() {
            Some(reservation) => reservation.settle(chain, cost_micros).await,
            None => chain
                .iter()
                .map(|budget| Charge {
                    subject: budget.subject().clone(),
                    drawn_micros: 0,
                })
                .collect(),
        };
        let ended_at = OffsetDateTime::now_utc();
        let row = SpendRow {
            request_id: call.request_id,
            token_hash: call.token_hash.to_string(),
            call_type: call.call_type.to_string(),
            model_group: call.deployment.model_group.clone(),
            upstream_model: call.deployment.upstream_model.clone(),
            provider: call.deployment.provider.clone(),
            api_base: call.deployment.api_base.clone(),
            prompt_tokens: saturating_i64(usage.prompt_tokens),
            completion_tokens: saturating_i64(usage.completion_tokens),
            cached_tokens: saturating_i64(usage.cached_tokens),
            cache_write_tokens: saturating_i64(usage.cache_write_tokens),
            reasoning_tokens: saturating_i64(usage.reasoning_tokens),
            cost_micros,
            latency_ms: i32::try_from(call.started.elapsed().as_millis()).unwrap_or(i32::MAX),
            http_status: i16::try_from(outcome.http_status).unwrap_or(i16::MAX),
            status: if outcome.success {
                "success"
            } else {
                "failure"
            }
            .to_string(),
            is_stream: call.is_stream,
            usage_estimated: estimated,
            end_user: call.end_user,
            started_at: call.started_at,
            ended_at,
            model_id: call.deployment.id.clone(),
            attempts,
            team_id: call.team_id.as_deref().map(str::to_string),
            user_id: call.user_id.as_deref().map(str::to_string),
            project_id: call.project_id.as_deref().map(str::to_string),
            request_tags: (!call.tags.is_empty()).then_some(call.tags),
            session_id: call.session_id,
            metadata: call.metadata,
            charges,
            payload: call.payload,
        };
        self.observer.call_ended(&EndedCall {
            context: &call.context,
            caller: CallerIds {
                token_hash: &row.token_hash,
                team_id: row.team_id.as_deref(),
                user_id: row.user_id.as_deref(),
                end_user: row.end_user.as_deref(),
            },
            requested_model: &call.trail.requested_model,
            call_type: call.call_type,
            deployment: &call.deployment,
            trail: &call.trail,
            status: outcome.http_status,
            started: call.started,
            cost_micros,
            usage: &usage,
            is_stream: call.is_stream,
            request_id: &row.request_id,
            payload: row.payload.as_deref(),
            metered_from,
            row: &row,
        });
        drop(call.context.in_flight.take());
        self.queue.push(row).await;
        cost_micros
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
