//! Cooldowns shared through Redis, when `router_settings` names one. Each cooldown is kept in a
//! sorted set (deployment id, scored by when it ends), so an instance that starts or reconnects
//! learns the cooldowns in force, and published on a channel, so running instances apply it at
//! once. Without Redis, instances announce cooldowns over Postgres NOTIFY instead.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::notify::PolicyNotice;
use crate::core::redis_link::{RedisLink, CONNECT_TIMEOUT};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// Deployment ids scored by the Unix time in milliseconds their cooldown ends.
const COOLDOWNS_KEY: &str = "gatehouse:cooldowns";
/// What follows other instances' cooldowns: the deployments this instance serves.
pub trait CooldownTarget: Send + Sync {
    /// Cools a deployment down for `left` (it failed on another instance).
    fn cool_down(&self, deployment_id: &str, left: Duration);
    /// Applies a notice if it is another instance's cooldown; whether it was a cooldown.
    fn apply_cooldown_notice(&self, notice: &PolicyNotice) -> bool;
}

/// Where cooldown notices are published, in the NOTIFY payload format.
const CHANNEL: &str = "gatehouse:cooldown-notices";
/// Wait before subscribing again after the connection dropped.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

pub struct RedisCooldowns {
    link: Arc<RedisLink>,
}

impl RedisCooldowns {
    pub fn new(link: Arc<RedisLink>) -> Self {
        RedisCooldowns { link }
    }

    /// Stores a cooldown and publishes its notice.
    pub async fn share(
        &self,
        notice: &str,
        deployment_id: &str,
        cooldown: Duration,
    ) -> redis::RedisResult<()> {
        let now = unix_millis();
        let until = now.saturating_add(u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX));
        let mut round = redis::pipe();
        round
            // GT: a shorter cooldown never cuts a longer one short.
            .cmd("ZADD")
            .arg(COOLDOWNS_KEY)
            .arg("GT")
            .arg(until)
            .arg(deployment_id)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(COOLDOWNS_KEY)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(notice)
            .ignore();
        self.link
            .call(|mut connection| async move { round.query_async(&mut connection).await })
            .await
    }

    /// Applies other instances' cooldowns until `stop`: those in force whenever it
    /// (re)subscribes, then each one announced.
    pub async fn follow(self: Arc<Self>, models: Arc<dyn CooldownTarget>, stop: CancellationToken) {
        let mut in_outage = false;
        loop {
            let subscribed = std::time::Instant::now();
            tokio::select! {
                _ = stop.cancelled() => return,
                ended = self.subscribe(&*models) => {
                    // Warn once per outage, not once per retry.
                    if subscribed.elapsed() > 5 * RESUBSCRIBE_AFTER {
                        in_outage = false;
                    }
                    if !in_outage {
                        let reason = ended.err().map_or_else(|| "closed".to_string(), |error| error.to_string());
                        tracing::warn!("Redis cooldown subscription ended ({reason}); subscribing again every second");
                    }
                    in_outage = true;
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
            }
        }
    }

    /// Cools down here the deployments cooling down anywhere (at start-up, before serving).
    pub async fn apply_in_force(&self, models: &dyn CooldownTarget) -> redis::RedisResult<()> {
        let now = unix_millis();
        let mut read = redis::cmd("ZRANGEBYSCORE");
        read.arg(COOLDOWNS_KEY)
            .arg(now)
            .arg("+inf")
            .arg("WITHSCORES");
        let in_force: Vec<(String, u64)> = self
            .link
            .call(|mut connection| async move { read.query_async(&mut connection).await })
            .await?;
        for (deployment_id, until) in in_force {
            models.cool_down(
                &deployment_id,
                Duration::from_millis(until.saturating_sub(now)),
            );
        }
        Ok(())
    }

    async fn subscribe(&self, models: &dyn CooldownTarget) -> redis::RedisResult<()> {
        let mut pubsub =
            tokio::time::timeout(CONNECT_TIMEOUT, self.link.client().get_async_pubsub())
                .await
                .map_err(|_| {
                    redis::RedisError::from((
                        redis::ErrorKind::IoError,
                        "Redis did not answer in time",
                    ))
                })??;
        pubsub.subscribe(CHANNEL).await?;
        // Subscribed first, so no cooldown falls between reading the set and listening.
        self.apply_in_force(models).await?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let notice = message
                .get_payload::<String>()
                .ok()
                .and_then(|payload| PolicyNotice::parse(&payload));
            match notice {
                Some(notice) => {
                    models.apply_cooldown_notice(&notice);
                }
                None => tracing::warn!("ignoring an unreadable cooldown notice from Redis"),
            }
        }
        Ok(())
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
