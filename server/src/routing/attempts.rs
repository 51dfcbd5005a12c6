//! One request's way through its model group and fallbacks: attempts in the order the strategy
//! picks, retries of retryable failures (with backoff, within the retry budget), then the
//! fallback chain the failure calls for, each fallback group re-checked for capability. Every
//! attempt is recorded for the response headers and the spend row. An attempt ends before the
//! first byte reaches the client, so nothing is retried after that.

use crate::core::trace_context::{with_upstream, Propagation};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{ChosenClass, FallbackKind, RouterSettings};
use crate::core::capabilities::{Missing, Needs};
use crate::core::error::ApiError;
use crate::core::failure::Failure;
use crate::core::health::Busy;
use crate::core::prices::tokens_cost_ceiling;
use crate::core::provider_error::ProviderError;
use crate::core::tokens::Encoding;
use crate::providers::Deployment;
use crate::routing::retry::{fallback_kind, retries_allowed, RetryBudget};
use crate::routing::{ModelGroups, NoDeployment};

/// One attempt, as the spend row records it (`model_group`, `deployment_id`, `api_base`,
/// `outcome`, `status`, `latency_ms`).
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub model_group: String,
    /// Shared, not copied: its id and api_base are only read when the row is written.
    pub deployment: Arc<Deployment>,
    /// `success`, or the kind of failure (`server_error`, `timeout`, `rate_limited`, …).
    pub outcome: &'static str,
    /// The HTTP status the attempt ended in (200 on success).
    pub status: u16,
    /// When it was sent.
    pub started: Instant,
    /// Its span in the request's trace (0: not traced).
    pub span_id: u64,
    /// How long it took (a stream's: to its first bytes).
    pub latency: Duration,
}

impl Serialize for AttemptRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut record = serializer.serialize_struct("AttemptRecord", 6)?;
        record.serialize_field("model_group", &self.model_group)?;
        record.serialize_field("deployment_id", &self.deployment.id)?;
        record.serialize_field("api_base", &self.deployment.api_base)?;
        record.serialize_field("outcome", self.outcome)?;
        record.serialize_field("status", &self.status)?;
        let latency_ms = u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX);
        record.serialize_field("latency_ms", &latency_ms)?;
        record.end()
    }
}

/// Every attempt of a request and what they cost in time.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    /// The model group the client asked for.
    pub requested_model: String,
    pub attempts: Vec<AttemptRecord>,
    /// Retries within a group.
    pub retries: u32,
    /// Fallback groups tried.
    pub fallbacks: u32,
    /// Time spent waiting on upstreams and between retries: the rest is the gateway's own.
    pub upstream_time: Duration,
    /// The request class the route was planned in.
    pub request_class: Option<ChosenClass>,
}

/// Where a cooldown started here is announced, so other instances cool the deployment down too.
pub trait CooldownAnnouncer: Send + Sync {
    fn announce(&self, deployment_id: &str, cooldown: Duration);
}

/// A request's planned route: its group, the deployment chosen first, and what every attempt
/// must honour.
pub struct Route {
    groups: Arc<ModelGroups>,
    settings: Arc<RouterSettings>,
    /// The model group the client asked for.
    model: String,
    needs: Needs,
    /// The first attempt's deployment, chosen when the request was planned, and its group (a
    /// fallback when every deployment of the requested group is cooling down).
    first: Arc<Deployment>,
    first_group: String,
    /// The client's per-attempt time limit (`x-litellm-timeout`), if it set one.
    timeout_override: Option<Duration>,
    single_attempt: bool,
    /// What each attempt's upstream calls carry of the request's trace.
    propagation: Propagation,
    request_class: Option<ChosenClass>,
}

/// The dearest prices on a route and the largest output its deployments declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriceCeiling {
    pub input_micros_per_mtok: i64,
    pub output_micros_per_mtok: i64,
    pub max_output_tokens: Option<u64>,
    /// Per million images, seconds of audio, characters and requests.
    pub image_micros_per_m: i64,
    pub audio_second_micros_per_m: i64,
    pub character_micros_per_m: i64,
    pub request_micros_per_m: i64,
}

/// The most a request may consume of each thing a route bills by: what its budget reservation
/// must cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostBound {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub images: u64,
    pub audio_millis: u64,
    pub characters: u64,
    pub requests: u64,
}

impl PriceCeiling {
    /// The largest cost of a request within `bound` on this route, in micro-dollars, rounded
    /// up and saturating.
    pub fn cost_of(&self, bound: &CostBound) -> i64 {
        let per_million = |count: u64, price: i64| tokens_cost_ceiling(count, price);
        let audio_seconds = bound.audio_millis.div_ceil(1_000);
        [
            per_million(bound.input_tokens, self.input_micros_per_mtok),
            per_million(bound.output_tokens, self.output_micros_per_mtok),
            per_million(bound.images, self.image_micros_per_m),
            per_million(audio_seconds, self.audio_second_micros_per_m),
            per_million(bound.characters, self.character_micros_per_m),
            per_million(bound.requests, self.request_micros_per_m),
        ]
        .into_iter()
        .fold(0i64, i64::saturating_add)
    }
}

/// How a route ended: the last attempt's result and deployment, the trail, and the successful
/// deployment's in-flight count (held while the reply is still being relayed).
pub struct Routed<T> {
    pub result: Result<T, ApiError>,
    pub deployment: Arc<Deployment>,
    pub trail: Trail,
    pub busy: Option<Busy>,
}

impl Route {
    /// Chooses the first deployment: the requested group's, or when all of its capable
    /// deployments are cooling down, the first general fallback group's that can serve the
    /// request. A request no deployment of the group can serve is refused here, before any
    /// upstream call.
    pub fn plan(
        groups: Arc<ModelGroups>,
        settings: Arc<RouterSettings>,
        model: &str,
        needs: Needs,
        timeout_override: Option<Duration>,
    ) -> Result<Route, ApiError> {
        let (first_group, first) = match pick(&groups, &settings, &needs, model, &[]) {
            Ok(first) => (model.to_string(), first),
            Err(
                refusal @ (ApiError::NoDeploymentAvailable { .. }
                | ApiError::Unsupported {
                    missing: Missing::ContextWindow { .. },
                    ..
                }),
            ) => {
                // Every deployment cooling down calls for the general chain; a prompt too long
                // for every deployment, for the context-window chain.
                let kind = match refusal {
                    ApiError::NoDeploymentAvailable { .. } => FallbackKind::General,
                    _ => FallbackKind::ContextWindow,
                };
                settings
                    .fallbacks
                    .chain(model, kind)
                    .iter()
                .filter(|group| group.as_str() != model)
                .take(settings.max_fallbacks as usize)
                    .find_map(|group| {
                        let first = pick(&groups, &settings, &needs, group, &[]).ok()?;
                        tracing::info!(from = %model, to = %group, "falling back before any attempt");
                        Some((group.clone(), first))
                    })
                    .ok_or(refusal)?
            }
            Err(other) => return Err(other),
        };
        Ok(Route {
            groups,
            settings,
            model: model.to_string(),
            needs,
            first,
            first_group,
            timeout_override,
            single_attempt: false,
            request_class: None,
            propagation: Propagation::None,
        })
    }

    /// This route, its attempts' upstream calls carrying the request's trace.
    pub fn propagating(mut self, propagation: Propagation) -> Route {
        self.propagation = propagation;
        self
    }

    /// This route, planned in a request class (reported with the response).
    pub fn in_class(mut self, class: Option<ChosenClass>) -> Route {
        self.request_class = class;
        self
    }

    /// Whether OpenAI parameters a provider lacks are dropped where neither the request nor
    /// the deployment says (`litellm_settings.drop_params`).
    pub fn drops_params(&self) -> bool {
        self.settings.drop_params
    }

    /// Whether the route may make more than one attempt (so the request must be kept for it).
    pub fn may_retry(&self) -> bool {
        let settings = &self.settings;
        let policy = settings.retry_policy;
        let fallbacks = &settings.fallbacks;
        !self.single_attempt
            && (settings.num_retries > 0
                || [policy.timeout, policy.rate_limit, policy.internal_server]
                    .iter()
                    .any(|count| count.is_some_and(|count| count > 0))
                || [
                    FallbackKind::General,
                    FallbackKind::ContextWindow,
                    FallbackKind::ContentPolicy,
                ]
                .iter()
                .any(|kind| !fallbacks.chain(&self.model, *kind).is_empty()))
    }

    /// The dearest prices any deployment this route may reach charges (its group's and its
    /// fallback groups'), and the largest output any of them declares: what a budget
    /// reservation must cover whichever deployment ends up serving.
    pub fn price_ceiling(&self) -> PriceCeiling {
        let mut ceiling = PriceCeiling::default();
        for name in self.reachable_groups() {
            let Some(group) = self.groups.get(name) else {
                continue;
            };
            for deployment in group.deployments() {
                let prices = &deployment.prices;
                // Input may be billed as cache writes, dearer than plain input.
                ceiling.input_micros_per_mtok = ceiling
                    .input_micros_per_mtok
                    .max(prices.input_micros_per_mtok)
                    .max(prices.cache_write_micros_per_mtok.unwrap_or(0))
                    .max(prices.cached_input_micros_per_mtok.unwrap_or(0));
                ceiling.output_micros_per_mtok = ceiling
                    .output_micros_per_mtok
                    .max(prices.output_micros_per_mtok);
                ceiling.image_micros_per_m =
                    ceiling.image_micros_per_m.max(prices.image_micros_per_m);
                ceiling.audio_second_micros_per_m = ceiling
                    .audio_second_micros_per_m
                    .max(prices.audio_second_micros_per_m);
                ceiling.character_micros_per_m = ceiling
                    .character_micros_per_m
                    .max(prices.character_micros_per_m);
                ceiling.request_micros_per_m = ceiling
                    .request_micros_per_m
                    .max(prices.request_micros_per_m);
                ceiling.max_output_tokens = match (
                    ceiling.max_output_tokens,
                    deployment.capabilities.max_output_tokens,
                ) {
                    (Some(known), Some(declared)) => Some(known.max(declared)),
                    (known, declared) => known.or(declared),
                };
            }
        }
        ceiling
    }

    /// The groups this route may reach: the requested one, the first attempt's, and (when it
    /// may make more than one attempt) its fallback chains within `max_fallbacks`.
    fn reachable_groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = vec![&self.model, &self.first_group];
        if !self.single_attempt {
            for kind in [
                FallbackKind::General,
                FallbackKind::ContextWindow,
                FallbackKind::ContentPolicy,
            ] {
                groups.extend(
                    self.settings
                        .fallbacks
                        .chain(&self.model, kind)
                        .iter()
                        .take(self.settings.max_fallbacks as usize)
                        .map(String::as_str),
                );
            }
        }
        groups
    }

    /// The public tokenizer every deployment this route may call counts with, if they share
    /// one: a prompt counted with it is what any of them bills.
    pub fn encoding(&self) -> Option<Encoding> {
        let of = |deployment: &Deployment| {
            Encoding::for_model(&deployment.provider, &deployment.upstream_model)
        };
        let first = of(&self.first)?;
        if self.single_attempt {
            return Some(first);
        }
        for name in self.reachable_groups() {
            let Some(group) = self.groups.get(name) else {
                continue;
            };
            if group
                .deployments()
                .iter()
                .any(|deployment| of(deployment) != Some(first))
            {
                return None;
            }
        }
        Some(first)
    }

    /// This route with one attempt only: for a request whose body cannot be replayed.
    pub fn single_attempt(mut self) -> Route {
        self.single_attempt = true;
        self
    }

    /// This route served by `deployment` alone, in one attempt (a client's own upstream).
    pub fn served_by(mut self, deployment: Arc<Deployment>) -> Route {
        self.first = deployment;
        self.single_attempt = true;
        self
    }

    /// The deployment of the first attempt.
    /// The model group the client asked for.
    pub fn requested_model(&self) -> &str {
        &self.model
    }

    pub fn first(&self) -> &Arc<Deployment> {
        &self.first
    }

    pub fn needs(&self) -> &Needs {
        &self.needs
    }

    /// Runs `attempt` on deployment after deployment until one succeeds or the route is
    /// exhausted.
    pub async fn run<T, F, Fut>(
        self,
        budget: &RetryBudget,
        announcer: &dyn CooldownAnnouncer,
        mut attempt: F,
    ) -> Routed<T>
    where
        F: FnMut(Arc<Deployment>) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let _in_flight = budget.request();
        let settings = self.settings.clone();
        let mut trail = Trail {
            request_class: self.request_class,
            requested_model: self.model,
            ..Trail::default()
        };
        let mut group = self.first_group;
        let mut next = Some(self.first.clone());
        let mut last = (self.first, ApiError::Internal);
        let mut fallbacks: Option<Vec<String>> = None;
        // The groups this request went to, filled in when it first falls back.
        let mut visited: Option<HashSet<String>> = None;
        if group != trail.requested_model {
            trail.fallbacks = 1;
        }
        loop {
            let mut tried: Vec<String> = Vec::new();
            let mut retries = 0;
            let mut _retry_slot = None;
            let failure = loop {
                let deployment = match next.take() {
                    Some(deployment) => deployment,
                    None => {
                        match pick(&self.groups, &settings, &self.needs, &group, &tried) {
                            Ok(deployment) => deployment,
                            // The client hears of the last upstream failure, not of this.
                            Err(error) => {
                                tracing::debug!(%error, group = %group, "no deployment to try");
                                break None;
                            }
                        }
                    }
                };
                let busy = deployment.state.busy();
                let span_id = if self.propagation.is_traced() {
                    fastrand::u64(1..)
                } else {
                    0
                };
                let started = Instant::now();
                let limited = with_upstream(
                    self.propagation.for_attempt(span_id),
                    attempt(deployment.clone()),
                );
                let mut client_limit_hit = false;
                let result = match self.timeout_override {
                    Some(limit) => match tokio::time::timeout(limit, limited).await {
                        Ok(result) => result,
                        Err(_) => {
                            client_limit_hit = true;
                            Err(ApiError::Upstream(ProviderError::Timeout(
                                limit.as_secs().max(1),
                            )))
                        }
                    },
                    None => limited.await,
                };
                let elapsed = started.elapsed();
                trail.upstream_time += elapsed;
                let record = |outcome, status| AttemptRecord {
                    model_group: group.clone(),
                    deployment: deployment.clone(),
                    outcome,
                    status,
                    started,
                    span_id,
                    latency: elapsed,
                };
                let error = match result {
                    Ok(value) => {
                        deployment.state.succeeded(elapsed, self.needs.streaming);
                        trail.attempts.push(record("success", 200));
                        return Routed {
                            result: Ok(value),
                            deployment,
                            trail,
                            busy: Some(busy),
                        };
                    }
                    Err(error) => error,
                };
                drop(busy);
                tried.push(deployment.id.clone());
                let failure = Failure::of(&error);
                trail
                    .attempts
                    .push(record(failure.label(), error.status().as_u16()));
                // A limit the client chose says nothing about the deployment's health.
                let judged = if client_limit_hit {
                    None
                } else {
                    deployment.state.failed(failure, &settings.cooldowns())
                };
                if let Some(cooldown) = judged {
                    tracing::warn!(
                        deployment = %deployment.id,
                        group = %group,
                        cooldown_ms = cooldown.as_millis() as u64,
                        "deployment cooling down after failures"
                    );
                    announcer.announce(&deployment.id, cooldown);
                }
                last = (deployment, error);
                if self.single_attempt {
                    break None;
                }
                if !failure.retryable() || retries >= retries_allowed(failure, &settings) {
                    break Some(failure);
                }
                let Some(wait) =
                    failure.wait_before(retries + 1, settings.min_retry_wait, fastrand::f64())
                else {
                    break Some(failure);
                };
                _retry_slot = None;
                let Some(slot) = budget.retry() else {
                    tracing::warn!(group = %group, "retry budget spent; not retrying");
                    break Some(failure);
                };
                _retry_slot = Some(slot);
                tokio::time::sleep(wait).await;
                trail.upstream_time += wait;
                retries += 1;
                trail.retries += 1;
            };
            // The chain is the requested group's, chosen by the first failure that ends a group.
            if self.single_attempt {
                break;
            }
            let kind = match failure {
                Some(failure) => fallback_kind(failure),
                None => Some(FallbackKind::General),
            };
            let Some(kind) = kind else { break };
            if trail.fallbacks >= settings.max_fallbacks {
                break;
            }
            let chain = fallbacks.get_or_insert_with(|| {
                let chain = settings.fallbacks.chain(&trail.requested_model, kind);
                chain.iter().rev().cloned().collect()
            });
            let visited =
                visited.get_or_insert_with(|| HashSet::from([trail.requested_model.clone()]));
            visited.insert(group.clone());
            let Some(following) = next_unvisited(chain, visited) else {
                break;
            };
            tracing::info!(from = %group, to = %following, "falling back");
            trail.fallbacks += 1;
            group = following;
        }
        Routed {
            result: Err(last.1),
            deployment: last.0,
            trail,
            busy: None,
        }
    }
}

/// The deployment of `group` to try next, or why there is none.
fn pick(
    groups: &ModelGroups,
    settings: &RouterSettings,
    needs: &Needs,
    group: &str,
    tried: &[String],
) -> Result<Arc<Deployment>, ApiError> {
    let Some(model_group) = groups.get(group) else {
        return Err(ApiError::UnknownModel(group.to_string()));
    };
    model_group
        .pick(needs, settings.strategy, tried)
        .map_err(|reason| match reason {
            NoDeployment::Missing(missing) => ApiError::Unsupported {
                model: group.to_string(),
                missing,
            },
            NoDeployment::Unavailable { retry_in } => ApiError::NoDeploymentAvailable {
                model: group.to_string(),
                retry_in,
            },
        })
}

/// A value each attempt needs its own copy of: cloned while another attempt may follow,
/// otherwise handed over as it is.
pub struct Reusable<T> {
    value: Option<T>,
    keep: bool,
}

impl<T: Clone> Reusable<T> {
    pub fn new(value: T, keep: bool) -> Self {
        Reusable {
            value: Some(value),
            keep,
        }
    }

    /// The value for the next attempt; `None` once a single-use value was taken.
    pub fn for_attempt(&mut self) -> Option<T> {
        if self.keep {
            self.value.clone()
        } else {
            self.value.take()
        }
    }
}

/// The next group of the chain (kept in reverse) not tried yet in this request.
fn next_unvisited(chain: &mut Vec<String>, visited: &mut HashSet<String>) -> Option<String> {
    while let Some(group) = chain.pop() {
        if visited.insert(group.clone()) {
            return Some(group);
        }
    }
    None
}
