//! This minute's requests and tokens per deployment, shared through Redis when it is configured,
//! so usage-based routing sees every instance's traffic against a deployment's `rpm`/`tpm`.
//! Every quarter second each instance adds what it counted since the last round to a hash per
//! Unix minute and reads back the totals in the same round trip: a request never waits on Redis,
//! and the shared view lags by at most one round.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::core::redis_link::RedisLink;
use tokio_util::sync::CancellationToken;

use crate::core::clock::unix_minute;
use crate::providers::Deployment;
use crate::routing::live::LiveModels;

const SHARE_EVERY: Duration = Duration::from_millis(250);
/// A minute's hash outlives its minute long enough for late rounds.
const KEEP_SECONDS: u64 = 120;

/// What this instance has already added to the shared counts, per deployment.
#[derive(Clone, Copy, Default)]
struct Shared {
    minute: u64,
    requests: u64,
    tokens: u64,
}

/// Shares usage until `stop`. Counts a failed round did not add are added by the next.
pub async fn share_usage(link: Arc<RedisLink>, models: Arc<LiveModels>, stop: CancellationToken) {
    let mut shared: HashMap<String, Shared> = HashMap::new();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SHARE_EVERY) => {}
        }
        match share_once(&link, &models, &mut shared).await {
            Ok(()) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot share usage counts through Redis; retrying");
            }
            Err(_) => {}
        }
    }
}

async fn share_once(
    link: &Arc<RedisLink>,
    models: &LiveModels,
    shared: &mut HashMap<String, Shared>,
) -> redis::RedisResult<()> {
    let groups = models.groups_owned();
    // Only limits make usage matter to routing.
    let limited: Vec<&Arc<Deployment>> = groups
        .deployments()
        .filter(|deployment| deployment.balance.rpm.is_some() || deployment.balance.tpm.is_some())
        .collect();
    if limited.is_empty() {
        return Ok(());
    }
    let minute = unix_minute();
    shared.retain(|_, before| before.minute == minute);
    let key = format!("gatehouse:usage:{minute}");
    let mut round = redis::pipe();
    let mut counted = Vec::with_capacity(limited.len());
    for deployment in &limited {
        let (requests, tokens) = deployment.state.own_minute_usage(minute);
        let before = shared
            .get(&deployment.id)
            .filter(|before| before.minute == minute)
            .copied()
            .unwrap_or_default();
        round
            .cmd("HINCRBY")
            .arg(&key)
            .arg(format!("{}:requests", deployment.id))
            .arg(requests.saturating_sub(before.requests))
            .cmd("HINCRBY")
            .arg(&key)
            .arg(format!("{}:tokens", deployment.id))
            .arg(tokens.saturating_sub(before.tokens));
        counted.push(Shared {
            minute,
            requests: requests.max(before.requests),
            tokens: tokens.max(before.tokens),
        });
    }
    round.cmd("EXPIRE").arg(&key).arg(KEEP_SECONDS).ignore();
    let totals: Vec<u64> = link
        .call(|mut connection| async move { round.query_async(&mut connection).await })
        .await?;
    for ((deployment, mine), total) in limited.iter().zip(counted).zip(totals.chunks(2)) {
        if let [requests, tokens] = total {
            deployment.state.set_others_usage(
                minute,
                requests.saturating_sub(mine.requests),
                tokens.saturating_sub(mine.tokens),
            );
        }
        shared.insert(deployment.id.clone(), mine);
    }
    Ok(())
}
