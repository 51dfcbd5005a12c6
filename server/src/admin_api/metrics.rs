//! `GET /metrics`: the Prometheus exposition (LiteLLM's metric names), for the master key or
//! the metrics token — or anyone, when `require_auth_for_metrics_endpoint: false`. What is
//! counted as it happens is read from the registry; what is a state (deployments' health and
//! headroom, budgets left, queues, caches) is read here at scrape time.

use std::sync::atomic::Ordering;

use app::model::subject::BudgetSubject;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::core::error::ApiError;
use crate::core::faults;
use crate::observe::labels::{Label, LabelValues};
use crate::observe::metrics::{BudgetReading, DeploymentReading, Readings};
use crate::policy::auth::presented_key;
use crate::policy::budgets::Budget;
use crate::state::SharedGateway;

/// Prometheus' text exposition format.
const EXPOSITION: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

pub async fn metrics(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let observer = gateway.meter.observer();
    let Some(metrics) = observer.metrics() else {
        return Err(ApiError::NotFound(
            "Metrics are off: add `prometheus` to litellm_settings.callbacks.".into(),
        ));
    };
    if !observer.metrics_open() {
        let presented = presented_key(&headers).ok_or(ApiError::MissingKey)?;
        let master = gateway
            .master_key
            .as_ref()
            .is_some_and(|key| key.matches(presented));
        if !master && !observer.is_metrics_token(presented) {
            return Err(ApiError::InvalidKey);
        }
    }
    let keys = gateway.keys.held();
    let groups = gateway.models.groups_owned();
    let mut readings = Readings {
        spend_queue_depth: gateway.meter.queue_depth() as u64,
        lease_round_trips: gateway.budgets.lease_round_trips(),
        redis_errors: faults::redis_errors(),
        postgres_errors: faults::postgres_errors(),
        retry_budget_exhausted: gateway.retry_budget.exhausted(),
        ..Readings::default()
    };
    if let Some(callbacks) = observer.callbacks() {
        for (name, counts) in callbacks.counts() {
            for (outcome, total) in [
                ("sent", &counts.sent),
                ("dropped", &counts.dropped),
                ("failed", &counts.failed),
            ] {
                readings
                    .callback_logs
                    .push((name, outcome, total.load(Ordering::Relaxed)));
            }
        }
    }
    readings.trace_spans = observer.trace_counts().map(|counts| {
        (
            counts.exported.load(Ordering::Relaxed),
            counts.dropped.load(Ordering::Relaxed),
            counts.failed_exports.load(Ordering::Relaxed),
        )
    });
    (readings.key_cache_entries, readings.key_cache_misses) = {
        let (entries, misses) = gateway.keys.stats();
        (entries as u64, misses)
    };
    for deployment in groups.deployments() {
        let state = &deployment.state;
        let mut labels = LabelValues::default();
        labels
            .set(Label::LitellmModelName, &deployment.upstream_model)
            .set(Label::ModelId, &deployment.id)
            .set(Label::ApiBase, &deployment.api_base)
            .set(Label::ApiProvider, &deployment.provider)
            .set(Label::ModelGroup, &deployment.model_group);
        let (requests, tokens) = state.minute_usage();
        let left =
            |limit: Option<u64>, used: u64| limit.map(|limit| limit.saturating_sub(used) as f64);
        readings.deployments.push(DeploymentReading {
            labels,
            state: if state.cooling_for().is_some() {
                2.0
            } else if state.is_failing() {
                1.0
            } else {
                0.0
            },
            cooldowns: state.cooldowns_started(),
            remaining_requests: left(deployment.balance.rpm, requests),
            remaining_tokens: left(deployment.balance.tpm, tokens),
        });
    }
    let mut teams_seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut team_aliases = Vec::new();
    for key in &keys {
        if let Some(budget) = own_budget(&key.budget_chain, &BudgetSubject::key(&key.token_hash)) {
            let mut labels = LabelValues::default();
            labels
                .set(Label::HashedApiKey, &key.token_hash)
                .set(Label::ApiKeyAlias, key.key_alias.as_deref().unwrap_or(""));
            readings.budgets.push(BudgetReading {
                labels,
                team: false,
                remaining_usd: remaining_usd(budget),
            });
        }
        let Some(team_id) = key.team_id.as_deref() else {
            continue;
        };
        if !teams_seen.insert(team_id) {
            continue;
        }
        if let Some(budget) = own_budget(&key.budget_chain, &BudgetSubject::team(team_id)) {
            let alias = gateway
                .teams
                .held(team_id)
                .and_then(|team| team.team_alias.clone());
            team_aliases.push((team_id, alias, remaining_usd(budget)));
        }
    }
    for (team_id, alias, remaining_usd) in &team_aliases {
        let mut labels = LabelValues::default();
        labels
            .set(Label::Team, team_id)
            .set(Label::TeamAlias, alias.as_deref().unwrap_or(""));
        readings.budgets.push(BudgetReading {
            labels,
            team: true,
            remaining_usd: *remaining_usd,
        });
    }
    let text = metrics.render(&readings);
    Ok(([(header::CONTENT_TYPE, EXPOSITION)], text).into_response())
}

/// The budget of `subject` in a key's chain.
fn own_budget<'a>(
    chain: &'a [std::sync::Arc<Budget>],
    subject: &BudgetSubject,
) -> Option<&'a Budget> {
    let subject = subject.to_string();
    chain
        .iter()
        .find(|budget| **budget.subject() == *subject)
        .map(|budget| &**budget)
}

/// What a budget has left, in USD: +Inf without a limit (LiteLLM's reading too).
fn remaining_usd(budget: &Budget) -> f64 {
    budget
        .headroom()
        .map_or(f64::INFINITY, |micros| micros as f64 / 1_000_000.0)
}
