//! The admin console on the gateway's port: Leptos pages and server functions behind
//! Postgres-backed sessions (HttpOnly, SameSite=Lax, id rotated at login).

use std::net::SocketAddr;
use std::sync::Arc;

use app::error::ConsoleError;
use app::model::reports::SpendQuery;
use app::sealing::Sealer;
use app::shell::{shell, App};
use app::state::{ConsoleState, ModelRuntime, RouteRuntime};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tower_sessions::cookie::SameSite;
use tower_sessions::Session;
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// Idle time after which a console session ends.
const SESSION_IDLE_HOURS: i64 = 12;
/// How often expired sessions are deleted.
const SESSION_SWEEP: std::time::Duration = std::time::Duration::from_secs(3_600);

pub struct ConsoleSettings {
    /// Where `cargo leptos build` put the site (`target/site`).
    pub site_root: String,
    pub site_addr: SocketAddr,
    /// Mark the session cookie `Secure` (set when Gatehouse is served over HTTPS).
    pub secure_cookies: bool,
    pub sealer: Option<Arc<Sealer>>,
    pub models: Arc<dyn ModelRuntime>,
    pub routes: Arc<dyn RouteRuntime>,
    /// Model access and request classes, for the management operations.
    pub catalog: Arc<dyn app::state::Catalog>,
    /// What opens first-run setup: the master key or the token printed at start.
    pub setup: app::secrets::SetupGate,
}

/// The console's routes, and the task that sweeps expired sessions.
pub async fn router(
    pool: PgPool,
    settings: ConsoleSettings,
) -> anyhow::Result<(Router, JoinHandle<()>)> {
    let store = PostgresStore::new(pool.clone());
    store.migrate().await?;
    let sweeper = tokio::spawn({
        let store = store.clone();
        async move {
            if let Err(error) = store.continuously_delete_expired(SESSION_SWEEP).await {
                tracing::warn!(%error, "session sweeper stopped");
            }
        }
    });
    let sessions = SessionManagerLayer::new(store)
        .with_name("gatehouse_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            SESSION_IDLE_HOURS,
        )));

    let leptos_options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(settings.site_root)
        .site_pkg_dir("pkg")
        .site_addr(settings.site_addr)
        .build();
    let state = ConsoleState {
        leptos_options: leptos_options.clone(),
        pool,
        sealer: settings.sealer,
        models: settings.models,
        routes: settings.routes,
        catalog: settings.catalog,
        setup: settings.setup,
        secure_cookies: settings.secure_cookies,
    };
    let routes = generate_route_list(App);
    let router = Router::new()
        .route("/console/spend.csv", axum::routing::get(spend_csv))
        .leptos_routes(&state, routes, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<ConsoleState, _>(
            shell,
        ))
        // Innermost first: the session, then statuses and headers on what the pages and
        // server functions answered, then the body bound before anything reads a body.
        .layer(sessions)
        .layer(axum::middleware::map_response(
            crate::console_http::server_fn_statuses,
        ))
        .layer(axum::middleware::map_response(
            crate::console_http::security_headers,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            crate::console_http::MAX_CONSOLE_BODY_BYTES,
        ))
        .with_state(state);
    Ok((router, sweeper))
}

/// The Spend page's CSV download: the same query string as the page, for admins and finance.
async fn spend_csv(
    State(state): State<ConsoleState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    let query = SpendQuery::from_query_string(&query.unwrap_or_default());
    match app::api::reports::spend_csv(&state.pool, &session, &query).await {
        Ok((file_name, csv)) => {
            let disposition = format!("attachment; filename=\"{file_name}\"");
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                csv,
            )
                .into_response()
        }
        Err(ConsoleError::NotLoggedIn) => Redirect::to("/login").into_response(),
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, error.to_string()).into_response()
        }
    }
}
