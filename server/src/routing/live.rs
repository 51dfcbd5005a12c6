//! The deployments this instance serves: config.yaml's, plus those stored in Postgres (the
//! console, `/model/new`), rebuilt into new model groups whenever the stored set changes (a
//! kept deployment keeps its live state); the router settings they are routed by; and the
//! cooldowns instances announce to each other over NOTIFY.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::db::deployments::{self, DeploymentSpec, StoredDeployment};
use app::sealing::Sealer;
use arc_swap::{ArcSwap, Guard};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{stored_deployment, RouterSettings};
use crate::policy::sync::POLICY_CHANNEL;
use crate::providers::Deployment;
use crate::routing::attempts::CooldownAnnouncer;
use crate::routing::ModelGroups;

/// The NOTIFY payload prefix of a cooldown: `cooldown:{instance}:{milliseconds}:{deployment}`.
const COOLDOWN_PREFIX: &str = "cooldown:";

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
    /// This process's id in cooldown announcements, so it skips its own.
    instance: String,
    problems: Mutex<Vec<StoredProblem>>,
    pool: PgPool,
    sealer: Option<Arc<Sealer>>,
    /// `(id, updated_at)` of the stored rows the groups were built from. Held across a reload,
    /// so reloads never interleave.
    loaded: tokio::sync::Mutex<Option<Vec<(Uuid, OffsetDateTime)>>>,
}

impl LiveModels {
    /// Serves config.yaml's deployments until the first `reload`.
    pub fn new(
        config: Vec<Deployment>,
        router: RouterSettings,
        pool: PgPool,
        sealer: Option<Arc<Sealer>>,
    ) -> Self {
        let config: Vec<Arc<Deployment>> = config.into_iter().map(Arc::new).collect();
        LiveModels {
            groups: ArcSwap::from_pointee(ModelGroups::new(config.iter().cloned())),
            router: ArcSwap::from_pointee(router),
            instance: Uuid::new_v4().simple().to_string(),
            config,
            problems: Mutex::new(Vec::new()),
            pool,
            sealer,
            loaded: tokio::sync::Mutex::new(None),
        }
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

    /// Applies a NOTIFY payload if it is another instance's cooldown; whether it was one.
    pub fn apply_cooldown_notice(&self, payload: &str) -> bool {
        let Some(notice) = payload.strip_prefix(COOLDOWN_PREFIX) else {
            return false;
        };
        let mut parts = notice.splitn(3, ':');
        let (Some(instance), Some(millis), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return true;
        };
        if instance == self.instance {
            return true;
        }
        let (Ok(millis), Some(deployment)) =
            (millis.parse::<u64>(), self.groups().deployment(id).cloned())
        else {
            return true;
        };
        tracing::info!(deployment = %id, cooldown_ms = millis, "cooldown announced by another instance");
        deployment
            .state
            .cool_down_for(Duration::from_millis(millis));
        true
    }

    pub fn problems(&self) -> Vec<StoredProblem> {
        self.problems
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the stored deployments and rebuilds the groups if they changed; whether they
    /// did.
    pub async fn reload(&self) -> Result<bool, sqlx::Error> {
        let mut loaded = self.loaded.lock().await;
        let rows = deployments::list(&self.pool).await?;
        let fingerprint: Vec<_> = rows.iter().map(|row| (row.id, row.updated_at)).collect();
        if loaded.as_ref() == Some(&fingerprint) {
            return Ok(false);
        }
        let mut serving = self.config.clone();
        let mut problems = Vec::new();
        let previous = self.groups.load_full();
        for row in &rows {
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
        *loaded = Some(fingerprint);
        Ok(true)
    }

    fn build(&self, row: &StoredDeployment) -> Result<Deployment, String> {
        let spec = row
            .spec(self.sealer.as_deref())
            .map_err(|error| error.to_string())?;
        let (deployment, warnings) = build_stored(&row.id.to_string(), &spec)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        Ok(deployment)
    }
}

impl CooldownAnnouncer for LiveModels {
    /// NOTIFYs the other instances (in the background: a cooldown never waits on the database).
    fn announce(&self, deployment_id: &str, cooldown: Duration) {
        let payload = format!(
            "{COOLDOWN_PREFIX}{}:{}:{deployment_id}",
            self.instance,
            cooldown.as_millis()
        );
        let pool = self.pool.clone();
        tokio::spawn(async move {
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

/// A stored deployment's definition built as the gateway would serve it (`os.environ/NAME`
/// values from this process), or what is wrong with it.
pub fn build_stored(id: &str, spec: &DeploymentSpec) -> Result<(Deployment, Vec<String>), String> {
    stored_deployment(
        id,
        &spec.model_name,
        &spec.litellm_params,
        &spec.model_info,
        &|name| std::env::var(name).ok(),
    )
    .map_err(|error| error.to_string())
}
