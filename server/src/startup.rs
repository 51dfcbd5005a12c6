//! Building and running one Gatehouse instance: database, caches, background jobs, the router,
//! and an orderly shutdown that loses no spend row.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use app::sealing::Sealer;
use axum::serve::ListenerExt;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::console::{self, ConsoleSettings};
use crate::console_models::ConsoleModels;
use crate::console_routes::ConsoleRoutes;
use crate::core::redis_link::RedisLink;
use crate::metering::upkeep;
use crate::metering::writer::SpendWriter;
use crate::metering::Meter;
use crate::observe::Observer;
use crate::policy::alerts::Alerts;
use crate::policy::auth::MasterKey;
use crate::policy::budgets::{self, Ledger};
use crate::policy::end_users::EndUserCache;
use crate::policy::keys::KeyCache;
use crate::policy::limits::{Limiter, LocalLimiter, RedisLimiter};
use crate::policy::tags::TagCache;
use crate::policy::teams::TeamCache;
use crate::routing::health_checks::HealthChecks;
use crate::routing::live::LiveModels;
use crate::routing::redis_cooldowns::RedisCooldowns;
use crate::routing::redis_usage;
use crate::routing::retry::RetryBudget;
use crate::state::Gateway;
use crate::sync::{self, Synced};
use crate::{admin_api, endpoints};

/// Longest wait for in-flight upstream calls at shutdown.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// Idle upstream connections kept per host.
const UPSTREAM_IDLE_PER_HOST: usize = 1_024;

pub struct Settings {
    pub config: Config,
    pub site_root: String,
    pub secure_cookies: bool,
    /// The first admin to create if absent: (email, password).
    pub admin: Option<(String, String)>,
    /// Seals provider credentials stored from the console or `/model/new`
    /// (`GATEHOUSE_SECRETS_KEY`); without it only credential-free deployments can be stored.
    pub sealer: Option<Sealer>,
}

/// A running instance.
pub struct Running {
    pub local_addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Begins a graceful shutdown.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// Waits until the instance stopped and its spend rows are written.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("gatehouse task panicked")?
    }
}

/// Applies the schema (idempotent; safe with several instances starting together).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    app::db::MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations")
}

/// Starts an instance serving on `listener`.
pub async fn start(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
) -> anyhow::Result<Running> {
    migrate(&pool).await?;
    let setup_token = app::secrets::new_csrf_token().context("generating the setup token")?;
    ensure_first_admin(&pool, settings.admin, &setup_token).await?;
    let local_addr = listener.local_addr()?;
    let config = settings.config;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }

    let tasks = TaskTracker::new();
    let budgets = Ledger::new(pool.clone(), tasks.clone());
    let keys = Arc::new(KeyCache::new(pool.clone(), budgets.clone()));
    let teams = Arc::new(TeamCache::new(pool.clone()));
    let end_users = Arc::new(EndUserCache::new(pool.clone(), budgets.clone()));
    let tags = Arc::new(TagCache::new(pool.clone(), budgets.clone()));
    let loaded = keys.reload_all().await.context("loading virtual keys")?;
    tracing::info!(keys = loaded, "virtual keys loaded");
    let sealer = settings.sealer.map(Arc::new);
    if sealer.is_none() {
        tracing::warn!(
            "GATEHOUSE_SECRETS_KEY is not set: deployments with credentials cannot be stored \
             from the console or /model/new"
        );
    }
    // Redis is connected if it answers now; otherwise Gatehouse starts without it, degraded
    // (limits refuse, cooldowns and usage stay local) and connects when it answers.
    let redis_link = match &config.redis_url {
        None => None,
        Some(url) => {
            let link =
                RedisLink::open(url.expose()).context("the Redis URL router_settings names")?;
            if !link.connect().await {
                tracing::warn!(
                    "starting without Redis: rate-limited keys are refused (503) until it answers"
                );
            }
            Some(link)
        }
    };
    let redis = redis_link
        .clone()
        .map(|link| Arc::new(RedisCooldowns::new(link)));
    let models = Arc::new(LiveModels::new(
        config.deployments,
        config.router,
        config.routing_base,
        pool.clone(),
        sealer.clone(),
        redis.clone(),
        config.stored_environment.clone(),
    ));
    models
        .reload()
        .await
        .context("loading stored deployments")?;
    let stop = CancellationToken::new();
    let listener_task = tokio::spawn(sync::run(
        pool.clone(),
        Synced {
            keys: keys.clone(),
            teams: teams.clone(),
            end_users: end_users.clone(),
            tags: tags.clone(),
            budgets: budgets.clone(),
            models: models.clone(),
        },
        stop.clone(),
    ));
    if let Some(redis) = &redis {
        // Not fatal: the subscription reads them again whenever it (re)connects.
        match redis.apply_in_force(&*models).await {
            Ok(()) => tracing::info!("cooldowns and usage counts are shared through Redis"),
            Err(error) => tracing::warn!(%error, "cooldowns in force not read from Redis yet"),
        }
    }
    let limiter = Arc::new(match &redis_link {
        Some(link) => Limiter::Redis(RedisLimiter::new(link.clone(), tasks.clone())),
        None => Limiter::Local(LocalLimiter::default()),
    });
    let redis_for_readiness = redis_link.clone();
    let redis_tasks = redis.zip(redis_link).map(|(redis, link)| {
        (
            tokio::spawn(redis_usage::share_usage(link, models.clone(), stop.clone())),
            tokio::spawn(redis.follow(models.clone(), stop.clone())),
        )
    });
    let budget_task = tokio::spawn(budgets::maintain_until(budgets.clone(), stop.clone()));
    let refusals = Arc::new(crate::policy::refusals::RefusalTally::default());
    let refusals_task = tokio::spawn(crate::policy::refusals::keep_writing(
        pool.clone(),
        refusals.clone(),
        stop.clone(),
    ));
    let upkeep_task = tokio::spawn(upkeep::maintain_until(
        pool.clone(),
        config.spend_log.clone(),
        stop.clone(),
    ));

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(UPSTREAM_IDLE_PER_HOST)
        .tcp_nodelay(true)
        // An upstream that redirects is misconfigured; never follow it with our credentials.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let alerts = config
        .alert_webhook
        .clone()
        .map(|webhook| Alerts::new(webhook, http.clone(), pool.clone(), tasks.clone()));
    let observer = Arc::new(
        Observer::new(
            &config.observability,
            config.spend_log.store_payloads,
            http.clone(),
        )
        .map_err(|message| anyhow::anyhow!("litellm_settings: {message}"))?,
    );
    let (queue, writer) = SpendWriter::spawn(
        pool.clone(),
        budgets.clone(),
        alerts,
        config.spend_batch_window,
        observer.flush_meters(),
    );
    let health = Arc::new(HealthChecks::new(
        models.clone(),
        http.clone(),
        config.observability.health,
    ));
    let health_task = config
        .observability
        .health
        .background
        .then(|| tokio::spawn(health.clone().keep_checking(stop.clone())));
    let gateway = Arc::new(Gateway {
        models: models.clone(),
        keys,
        teams,
        end_users,
        tags,
        budgets: budgets.clone(),
        limiter,
        master_key: config
            .master_key
            .as_ref()
            .map(|key| MasterKey::new(key.expose())),
        http,
        meter: Meter::new(queue, observer.clone()),
        tasks: tasks.clone(),
        pool: pool.clone(),
        started_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
        retry_budget: RetryBudget::default(),
        store_payloads: config.spend_log.store_payloads,
        api_base_header: config.api_base_header,
        client_mock_responses: config.client_mock_responses,
        auth_failures: Default::default(),
        new_names: Default::default(),
        refusals: refusals.clone(),
        health,
        redis: redis_for_readiness,
    });
    if gateway.master_key.is_none() {
        tracing::warn!("no general_settings.master_key: the management API is unusable");
    }

    let (console, sweeper) = console::router(
        pool.clone(),
        ConsoleSettings {
            site_root: settings.site_root,
            site_addr: local_addr,
            secure_cookies: settings.secure_cookies,
            sealer,
            models: Arc::new(ConsoleModels {
                models: models.clone(),
                http: gateway.http.clone(),
            }),
            routes: Arc::new(ConsoleRoutes {
                models: models.clone(),
            }),
            catalog: models,
            setup: app::secrets::SetupGate::new(
                config.master_key.as_ref().map(|key| key.expose()),
                &setup_token,
            ),
        },
    )
    .await?;
    let app: Router = endpoints::routes()
        .merge(admin_api::routes(gateway.clone()))
        .method_not_allowed_fallback(|| async { crate::core::error::ApiError::MethodNotAllowed })
        .with_state(gateway)
        .merge(console);

    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            // Responses are written whole; never hold a segment back (Nagle).
            let listener = listener.tap_io(|stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
            });
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .await;
            tracing::info!("no longer accepting requests; finishing upstream calls");
            tasks.close();
            if tokio::time::timeout(DRAIN_LIMIT, tasks.wait())
                .await
                .is_err()
            {
                tracing::error!("upstream calls still running after {DRAIN_LIMIT:?}");
            }
            writer.finish().await;
            observer.finish().await;
            stop.cancel();
            if let Err(error) = budget_task.await {
                tracing::warn!(%error, "budget maintenance ended badly");
            }
            if let Err(error) = upkeep_task.await {
                tracing::warn!(%error, "spend log upkeep ended badly");
            }
            if let Err(error) = refusals_task.await {
                tracing::warn!(%error, "the tally of refused unknown keys ended badly");
            }
            if let Some(task) = health_task {
                if let Err(error) = task.await {
                    tracing::warn!(%error, "background health checks ended badly");
                }
            }
            // After the last spend rows landed: what is left of the leases goes back.
            if let Err(error) = budgets.release_all().await {
                tracing::warn!(%error, "budget leases not returned; other instances reclaim them");
            }
            sweeper.abort();
            if let Err(error) = listener_task.await {
                tracing::warn!(%error, "policy listener ended badly");
            }
            if let Some((usage, cooldowns)) = redis_tasks {
                for ended in [usage.await, cooldowns.await] {
                    if let Err(error) = ended {
                        tracing::warn!(%error, "a Redis sharing task ended badly");
                    }
                }
            }
            served.context("serving HTTP")
        }
    });
    Ok(Running {
        local_addr,
        stop,
        task,
    })
}

/// Creates the admin named by `GATEHOUSE_ADMIN_EMAIL` / `GATEHOUSE_ADMIN_PASSWORD` if absent.
/// Without one, and while no account exists, prints the one-time token that opens `/setup`
/// (besides the master key): nobody who cannot read the log or the config takes the console.
async fn ensure_first_admin(
    pool: &PgPool,
    admin: Option<(String, String)>,
    setup_token: &str,
) -> anyhow::Result<()> {
    let Some((email, password)) = admin else {
        if app::db::users::count(pool).await? == 0 {
            tracing::warn!(
                "no console accounts yet: open /setup and give the master key or this one-time \
                 setup token: {setup_token}"
            );
        }
        return Ok(());
    };
    let hash = tokio::task::spawn_blocking(move || app::secrets::hash_password(&password))
        .await?
        .map_err(|error| anyhow::anyhow!("hashing the admin password: {error}"))?;
    let created =
        app::db::users::insert_if_absent(pool, &email, &hash, app::model::Role::Admin).await?;
    if created.is_some() {
        tracing::info!(%email, "console admin created from GATEHOUSE_ADMIN_EMAIL");
    }
    Ok(())
}
