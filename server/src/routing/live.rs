//! The deployments this instance serves: config.yaml's, plus those stored in Postgres (the
//! console, `/model/new`), rebuilt into new model groups whenever the stored set changes (a
//! kept deployment keeps its live state); the router settings they are routed by (config.yaml's
//! with the console's route policy over them); and the cooldowns instances announce to each
//! other (over NOTIFY, or Redis when configured).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::db::deployments::{self, DeploymentSpec, StoredDeployment};
use app::db::routes::{self, RoutePolicyError, StoredRoutePolicy};
use app::route_policy::RouteOverrides;
use app::sealing::Sealer;
use arc_swap::{ArcSwap, Guard};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{stored_deployment, RouterSettings, RoutingBase, StoredEnvironment};
use crate::core::notify::{PolicyNotice, POLICY_CHANNEL};
use crate::providers::Deployment;
use crate::routing::attempts::CooldownAnnouncer;
use crate::routing::redis_cooldowns::{CooldownTarget, RedisCooldowns};
use crate::routing::ModelGroups;

/// A stored deployment this instance cannot serve, and why.
#[derive(Debug, Clone)]
pub struct StoredProblem {
    pub id: Uuid,
    pub model_name: String,
    pub model: String,
    pub message: String,
}

pub struct LiveModels {
    config: Vec<Arc<Deployment>>,
    groups: ArcSwap<ModelGroups>,
    router: ArcSwap<RouterSettings>,
    routing_base: RoutingBase,
    /// The console's route policy as last loaded, and why it is not applied, if it is not.
    route_policy: Mutex<(Option<StoredRoutePolicy>, Option<String>)>,
    /// This process's id in cooldown announcements, so it skips its own.
    instance: String,
    /// Shares cooldowns when configured; otherwise they are announced over NOTIFY.
    redis: Option<Arc<RedisCooldowns>>,
    problems: Mutex<Vec<StoredProblem>>,
    pool: PgPool,
    sealer: Option<Arc<Sealer>>,
    /// What stored deployments may read of the environment.
    stored_environment: StoredEnvironment,
    /// What the groups and router settings were built from. Held across a reload, so reloads
    /// never interleave.
    loaded: tokio::sync::Mutex<Option<Loaded>>,
}

/// `(id, updated_at)` of the stored deployments, and the route policy's version.
#[derive(PartialEq)]
struct Loaded {
    deployments: Vec<(Uuid, OffsetDateTime)>,
    route_policy: Option<i64>,
}

impl LiveModels {
    /// Serves config.yaml's deployments and routing until the first `reload`.
    pub fn new(
        config: Vec<Deployment>,
        router: RouterSettings,
        routing_base: RoutingBase,
        pool: PgPool,
        sealer: Option<Arc<Sealer>>,
        redis: Option<Arc<RedisCooldowns>>,
        stored_environment: StoredEnvironment,
    ) -> Self {
        let config: Vec<Arc<Deployment>> = config.into_iter().map(Arc::new).collect();
        LiveModels {
            groups: ArcSwap::from_pointee(ModelGroups::new(config.iter().cloned())),
            router: ArcSwap::from_pointee(router),
            routing_base,
            route_policy: Mutex::new((None, None)),
            instance: Uuid::new_v4().simple().to_string(),
            redis,
            config,
            problems: Mutex::new(Vec::new()),
            pool,
            sealer,
            stored_environment,
            loaded: tokio::sync::Mutex::new(None),
        }
    }

    /// A stored deployment's definition built as the gateway would serve it (`os.environ/NAME`
    /// only for allow-listed variables), or what is wrong with it.
    pub fn build_stored(
        &self,
        id: &str,
        spec: &DeploymentSpec,
    ) -> Result<(Deployment, Vec<String>), String> {
        stored_deployment(
            id,
            &spec.model_name,
            &spec.litellm_params,
            &spec.model_info,
            &self.stored_environment,
        )
        .map_err(|error| error.to_string())
    }

    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }

    /// The model groups as of now (cheap; taken once per request).
    pub fn groups(&self) -> Guard<Arc<ModelGroups>> {
        self.groups.load()
    }

    /// The model groups as of now, to hold across a request's attempts.
    pub fn groups_owned(&self) -> Arc<ModelGroups> {
        self.groups.load_full()
    }

    /// The router settings as of now.
    pub fn router(&self) -> Arc<RouterSettings> {
        self.router.load_full()
    }

    pub fn problems(&self) -> Vec<StoredProblem> {
        self.problems
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The console's route policy as last loaded, and why it is not applied, if it is not.
    pub fn route_policy(&self) -> (Option<StoredRoutePolicy>, Option<String>) {
        self.route_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// config.yaml's routing, which the route policy changes.
    pub fn routing_base(&self) -> &RoutingBase {
        &self.routing_base
    }

    /// Re-reads the stored deployments and the route policy, and rebuilds the groups and the
    /// router settings where they changed; whether anything did.
    pub async fn reload(&self) -> Result<bool, sqlx::Error> {
        let mut loaded = self.loaded.lock().await;
        let rows = deployments::list(&self.pool).await?;
        let (policy, version, unreadable) = match routes::load(&self.pool).await {
            Ok(policy) => {
                let version = policy.as_ref().map(|policy| policy.version);
                (policy, version, None)
            }
            Err(RoutePolicyError::Database(error)) => return Err(error),
            Err(error @ RoutePolicyError::Unreadable { version, .. }) => {
                (None, Some(version), Some(error.to_string()))
            }
            Err(error) => (None, None, Some(error.to_string())),
        };
        let now = Loaded {
            deployments: rows.iter().map(|row| (row.id, row.updated_at)).collect(),
            route_policy: version,
        };
        if loaded.as_ref() == Some(&now) {
            return Ok(false);
        }
        if loaded.as_ref().map(|loaded| &loaded.deployments) != Some(&now.deployments) {
            self.rebuild_groups(&rows);
        }
        if loaded.as_ref().map(|loaded| loaded.route_policy) != Some(now.route_policy) {
            self.apply_route_policy(policy, unreadable);
        }
        *loaded = Some(now);
        Ok(true)
    }

    fn rebuild_groups(&self, rows: &[StoredDeployment]) {
        let mut serving = self.config.clone();
        let mut problems = Vec::new();
        let previous = self.groups.load_full();
        for row in rows {
            match self.build(row) {
                Ok(mut deployment) => {
                    if let Some(kept) = previous.deployment(&deployment.id) {
                        deployment.state = kept.state.clone();
                    }
                    serving.push(Arc::new(deployment));
                }
                Err(message) => {
                    tracing::warn!(deployment = %row.id, "stored deployment not served: {message}");
                    problems.push(StoredProblem {
                        id: row.id,
                        model_name: row.model_name.clone(),
                        model: row
                            .litellm_params
                            .get("model")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        message,
                    });
                }
            }
        }
        tracing::info!(
            stored = rows.len() - problems.len(),
            unusable = problems.len(),
            "model groups rebuilt"
        );
        self.groups.store(Arc::new(ModelGroups::new(serving)));
        *self.problems.lock().unwrap_or_else(PoisonError::into_inner) = problems;
    }

    /// Routes by config.yaml's routing with the policy's changes; by the file's alone when the
    /// policy cannot be applied (it was checked when saved, so only a changed config.yaml or
    /// a newer Gatehouse's document gets here).
    fn apply_route_policy(&self, policy: Option<StoredRoutePolicy>, unreadable: Option<String>) {
        let overrides = policy
            .as_ref()
            .map(|policy| policy.overrides.clone())
            .unwrap_or_default();
        let applied = match unreadable {
            Some(problem) => Err(problem),
            None => self
                .routing_base
                .apply(&overrides)
                .map_err(|error| error.to_string()),
        };
        let problem = match applied {
            Ok(settings) => {
                tracing::info!(
                    changed_in_console = policy.is_some(),
                    "router settings applied"
                );
                self.router.store(Arc::new(settings));
                None
            }
            Err(problem) => {
                tracing::warn!("the console's route policy is not applied: {problem}");
                if let Ok(file) = self.routing_base.apply(&RouteOverrides::default()) {
                    self.router.store(Arc::new(file));
                }
                Some(problem)
            }
        };
        *self
            .route_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (policy, problem);
    }

    fn build(&self, row: &StoredDeployment) -> Result<Deployment, String> {
        let spec = row
            .spec(self.sealer.as_deref())
            .map_err(|error| error.to_string())?;
        let (deployment, warnings) = self.build_stored(&row.id.to_string(), &spec)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        Ok(deployment)
    }
}

impl CooldownTarget for LiveModels {
    /// Applies a notice if it is another instance's cooldown; whether it was a cooldown.
    fn apply_cooldown_notice(&self, notice: &PolicyNotice) -> bool {
        let PolicyNotice::Cooldown {
            instance,
            left,
            deployment_id,
        } = notice
        else {
            return false;
        };
        if *instance != self.instance {
            self.cool_down(deployment_id, *left);
        }
        true
    }

    /// Cools a deployment down for another instance (it failed there).
    fn cool_down(&self, deployment_id: &str, left: Duration) {
        if let Some(deployment) = self.groups().deployment(deployment_id) {
            tracing::info!(deployment = %deployment_id, cooldown_ms = left.as_millis(),
                "cooldown announced by another instance");
            deployment.state.cool_down_for(left);
        }
    }
}

impl CooldownAnnouncer for LiveModels {
    /// Tells the other instances, through Redis when configured (NOTIFY when Redis fails, or
    /// without it), in the background: a cooldown never waits on either.
    fn announce(&self, deployment_id: &str, cooldown: Duration) {
        let payload = PolicyNotice::Cooldown {
            instance: self.instance.to_string(),
            left: cooldown,
            deployment_id: deployment_id.to_string(),
        }
        .to_string();
        let (pool, redis) = (self.pool.clone(), self.redis.clone());
        let deployment_id = deployment_id.to_string();
        tokio::spawn(async move {
            if let Some(redis) = redis {
                match redis.share(&payload, &deployment_id, cooldown).await {
                    Ok(()) => return,
                    // Every instance also listens on Postgres.
                    Err(error) => tracing::warn!(%error,
                        "cannot share a cooldown through Redis; announcing it over NOTIFY"),
                }
            }
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(POLICY_CHANNEL)
                .bind(payload)
                .execute(&pool)
                .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "cannot announce a cooldown to other instances");
            }
        });
    }
}
