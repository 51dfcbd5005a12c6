//! The routing strategies: which of a group's available deployments (already filtered by
//! capability, health and priority tier) takes the next request.

use std::sync::Arc;

use crate::config::RoutingStrategy;
use crate::core::prices::Prices;
use crate::providers::Deployment;

/// Latency routing sends every this-many-th request to the next deployment in turn rather than
/// the fastest, so a deployment that was slow once is measured again.
pub const LATENCY_EXPLORE_EVERY: usize = 10;

/// What a strategy may know about the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestShape {
    pub stream: bool,
}

/// The index in `candidates` (never empty) of the deployment to try; `turn` is the group's
/// running request count, which breaks ties in turn. `None` when usage-based routing finds
/// every candidate at its rpm or tpm limit.
pub fn choose(
    strategy: RoutingStrategy,
    candidates: &[&Arc<Deployment>],
    shape: RequestShape,
    turn: usize,
) -> Option<usize> {
    let count = candidates.len();
    match strategy {
        RoutingStrategy::SimpleShuffle => Some(weighted_random(candidates)),
        RoutingStrategy::LeastBusy => Some(lowest_by(candidates, turn, |deployment| {
            deployment.state.in_flight()
        })),
        RoutingStrategy::LatencyBased => {
            let untried: Vec<usize> = (0..count)
                .filter(|&index| candidates[index].state.latency(shape.stream).is_none())
                .collect();
            if !untried.is_empty() {
                return Some(untried[turn % untried.len()]);
            }
            if turn % LATENCY_EXPLORE_EVERY == LATENCY_EXPLORE_EVERY - 1 {
                return Some((turn / LATENCY_EXPLORE_EVERY) % count);
            }
            Some(lowest_by(candidates, turn, |deployment| {
                deployment
                    .state
                    .latency(shape.stream)
                    .map_or(0, |latency| latency.as_micros())
            }))
        }
        RoutingStrategy::CostBased => Some(lowest_by(candidates, turn, |deployment| {
            price_key(&deployment.prices)
        })),
        RoutingStrategy::UsageBased => {
            let open: Vec<usize> = (0..count)
                .filter(|&index| headroom(candidates[index]) > 0.0)
                .collect();
            let best = open
                .iter()
                .map(|&index| headroom(candidates[index]))
                .fold(f64::NEG_INFINITY, f64::max);
            let tied: Vec<usize> = open
                .into_iter()
                .filter(|&index| headroom(candidates[index]) >= best)
                .collect();
            (!tied.is_empty()).then(|| tied[turn % tied.len()])
        }
    }
}

/// The candidate with the lowest `key`, ties taken in turn.
fn lowest_by<K: Ord + Copy>(
    candidates: &[&Arc<Deployment>],
    turn: usize,
    key: impl Fn(&Deployment) -> K,
) -> usize {
    let keys: Vec<K> = candidates
        .iter()
        .map(|deployment| key(deployment))
        .collect();
    let Some(lowest) = keys.iter().min().copied() else {
        return 0;
    };
    let tied: Vec<usize> = (0..keys.len()).filter(|&i| keys[i] == lowest).collect();
    tied[turn % tied.len()]
}

/// Random, each candidate weighted by its `weight`, else `rpm`, else `tpm`, else 1.
fn weighted_random(candidates: &[&Arc<Deployment>]) -> usize {
    let weights: Vec<f64> = candidates
        .iter()
        .map(|deployment| {
            let balance = &deployment.balance;
            balance
                .weight
                .or(balance.rpm.map(|rpm| rpm as f64))
                .or(balance.tpm.map(|tpm| tpm as f64))
                .unwrap_or(1.0)
                .max(0.0)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return fastrand::usize(..candidates.len());
    }
    let mut draw = fastrand::f64() * total;
    for (index, weight) in weights.iter().enumerate() {
        if draw < *weight {
            return index;
        }
        draw -= weight;
    }
    candidates.len() - 1
}

/// A deployment's prices summed into one number that orders deployments of the same mode.
fn price_key(prices: &Prices) -> i64 {
    prices.input_micros_per_mtok
        + prices.output_micros_per_mtok
        + prices.image_micros_per_m
        + prices.audio_second_micros_per_m
        + prices.character_micros_per_m
        + prices.request_micros_per_m
}

/// The share of its rpm and tpm limits a deployment has left this minute (1 without limits, 0
/// at either limit).
fn headroom(deployment: &Deployment) -> f64 {
    let (requests, tokens) = deployment.state.minute_usage();
    let left = |used: u64, limit: Option<u64>| match limit {
        Some(0) => 0.0,
        Some(limit) => 1.0 - (used as f64 / limit as f64).min(1.0),
        None => 1.0,
    };
    left(requests, deployment.balance.rpm).min(left(tokens, deployment.balance.tpm))
}
