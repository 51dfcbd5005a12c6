//! `gatehouse --config config.yaml [--port 4000] [--host 127.0.0.1]`: one process serving the
//! LLM gateway and its admin console.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use app::sealing::Sealer;
use clap::Parser;
use server::config::Config;
use server::startup::{self, Settings};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "LLM gateway and admin console")]
struct Cli {
    /// LiteLLM-format proxy config (model_list, general_settings, …).
    #[arg(long, env = "CONFIG_FILE_PATH")]
    config: PathBuf,
    #[arg(long, env = "PORT", default_value_t = 4000)]
    port: u16,
    /// Address to bind; use 0.0.0.0 to serve other machines.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Where the built console assets are (cargo-leptos' site directory).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    site_root: String,
    /// Postgres connections in the pool.
    #[arg(long, env = "GATEHOUSE_DB_POOL", default_value_t = 10)]
    db_pool: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.config)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into());
    if config.observability.json_logs {
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .or_else(|| {
            config
                .database_url
                .as_ref()
                .map(|url| url.expose().to_string())
        })
        .context("set DATABASE_URL (or general_settings.database_url) to a Postgres URL")?;
    // Reports group tens of thousands of rollup rows: with Postgres' default 4 MB of working
    // memory it sorted them (twice as slow, measured with 10M spend rows) instead of hashing.
    let connect_options = PgConnectOptions::from_str(&database_url)
        .context("DATABASE_URL is not a Postgres URL")?
        .options([("work_mem", "32MB")]);
    let pool = PgPoolOptions::new()
        .max_connections(cli.db_pool)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(connect_options)
        .await
        .context("connecting to Postgres")?;
    let admin = match (
        std::env::var("GATEHOUSE_ADMIN_EMAIL"),
        std::env::var("GATEHOUSE_ADMIN_PASSWORD"),
    ) {
        (Ok(email), Ok(password)) if !email.is_empty() && !password.is_empty() => {
            Some((email, password))
        }
        _ => None,
    };
    let secure_cookies =
        std::env::var("GATEHOUSE_SECURE_COOKIES").is_ok_and(|value| value == "true");
    let sealer = secrets_sealer()?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(cli.host, cli.port))
        .await
        .with_context(|| format!("binding {}:{}", cli.host, cli.port))?;
    let running = startup::start(
        Settings {
            config,
            site_root: cli.site_root,
            secure_cookies,
            admin,
            sealer,
        },
        pool,
        listener,
    )
    .await?;
    tracing::info!("Gatehouse listening on http://{}", running.local_addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown();
    running.wait().await
}

/// The sealer of stored provider credentials: `GATEHOUSE_SECRETS_KEY` (else LiteLLM's
/// `LITELLM_SALT_KEY`), with `GATEHOUSE_SECRETS_KEY_PREVIOUS` still opening what an earlier key
/// sealed.
fn secrets_sealer() -> anyhow::Result<Option<Sealer>> {
    let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let Some(current) = variable("GATEHOUSE_SECRETS_KEY").or_else(|| variable("LITELLM_SALT_KEY"))
    else {
        return Ok(None);
    };
    let previous = variable("GATEHOUSE_SECRETS_KEY_PREVIOUS");
    Sealer::new(&current, previous.as_deref())
        .map(Some)
        .context("GATEHOUSE_SECRETS_KEY")
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
