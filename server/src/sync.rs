//! Keeps the key cache, the stored deployments and the route policy in step with Postgres:
//! LISTEN on `gatehouse_policy` for changes made by any instance, and a periodic full reload to
//! catch anything missed while disconnected.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::core::notify::{PolicyNotice, POLICY_CHANNEL};
use crate::policy::budgets::Ledger;
use crate::policy::end_users::EndUserCache;
use crate::policy::keys::KeyCache;
use crate::policy::tags::TagCache;
use crate::policy::teams::TeamCache;
use crate::routing::live::LiveModels;
use crate::routing::redis_cooldowns::CooldownTarget;

/// What the listener keeps current.
pub struct Synced {
    pub keys: Arc<KeyCache>,
    pub teams: Arc<TeamCache>,
    pub end_users: Arc<EndUserCache>,
    pub tags: Arc<TagCache>,
    pub budgets: Arc<Ledger>,
    pub models: Arc<LiveModels>,
}

/// Full reload period.
const RELOAD_EVERY: Duration = Duration::from_secs(5);
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Runs until `stop` is cancelled.
pub async fn run(pool: PgPool, synced: Synced, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(error) = listener.listen(POLICY_CHANNEL).await {
                    tracing::warn!(%error, "cannot LISTEN for policy changes");
                } else {
                    listen(&mut listener, &synced, &stop).await;
                }
            }
            Err(error) => tracing::warn!(%error, "policy listener cannot connect"),
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_DELAY) => {}
            () = stop.cancelled() => {}
        }
    }
}

async fn listen(listener: &mut PgListener, synced: &Synced, stop: &CancellationToken) {
    // Anything changed before LISTEN took effect is picked up by this reload; end users and
    // tags changed while no one listened are read again.
    forget_named(synced);
    reload(synced).await;
    let mut reload_timer = tokio::time::interval(RELOAD_EVERY);
    reload_timer.tick().await;
    loop {
        tokio::select! {
            notification = listener.try_recv() => match notification {
                Ok(Some(notification)) => match PolicyNotice::parse(notification.payload()) {
                    Some(notice) => apply(synced, notice).await,
                    None => tracing::warn!(payload = notification.payload(),
                        "ignoring a notice on the policy channel that no sender writes"),
                },
                Ok(None) => {
                    tracing::warn!("policy listener lost its connection; reconnecting");
                    forget_named(synced);
                    reload(synced).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "policy listener failed");
                    return;
                }
            },
            _ = reload_timer.tick() => reload(synced).await,
            () = stop.cancelled() => return,
        }
    }
}

/// Brings the cache a notice names up to date.
async fn apply(synced: &Synced, notice: PolicyNotice) {
    match notice {
        PolicyNotice::Key(hash) => {
            if let Err(error) = synced.keys.refresh(&hash).await {
                tracing::warn!(%error, "key refresh failed; the next reload retries");
            }
        }
        PolicyNotice::Team(team_id) => {
            if let Err(error) = synced.teams.refresh(&team_id).await {
                tracing::warn!(%error, "team refresh failed; the next reload retries");
            }
        }
        PolicyNotice::EndUser(user_id) => synced.end_users.forget(&user_id),
        PolicyNotice::Tag(name) => synced.tags.forget(&name),
        PolicyNotice::Budget(subject) => synced.budgets.limits_changed(&subject).await,
        PolicyNotice::Deployments | PolicyNotice::Routes => reload_models(&synced.models).await,
        cooldown @ PolicyNotice::Cooldown { .. } => {
            synced.models.apply_cooldown_notice(&cooldown);
        }
    }
}

/// Forgets every end user and tag held: notifications may have been missed.
fn forget_named(synced: &Synced) {
    synced.end_users.forget_all();
    synced.tags.forget_all();
}

async fn reload(synced: &Synced) {
    match synced.keys.reload_all().await {
        Ok(count) => tracing::debug!(keys = count, "key cache reloaded"),
        Err(error) => tracing::warn!(%error, "key cache reload failed"),
    }
    if let Err(error) = synced.teams.reload_all().await {
        tracing::warn!(%error, "team cache reload failed");
    }
    reload_models(&synced.models).await;
}

async fn reload_models(models: &LiveModels) {
    if let Err(error) = models.reload().await {
        tracing::warn!(%error, "stored deployments reload failed; the next reload retries");
    }
}
