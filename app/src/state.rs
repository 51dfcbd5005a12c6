//! Server-side state the console's server functions read from the Leptos context.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;

use crate::db::deployments::DeploymentSpec;
use crate::error::ConsoleError;
use crate::model::{ConnectionTest, DeploymentView};
use crate::route_policy::{RouteOverrides, RoutesView};
use crate::sealing::Sealer;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the console asks of the gateway about deployments. The server implements it; the
/// console never sees provider code.
pub trait ModelRuntime: Send + Sync {
    /// Every deployment this instance serves, and stored ones it could not load.
    fn deployments(&self) -> Vec<DeploymentView>;
    /// Applies the stored deployments on this instance now (the others follow the NOTIFY).
    fn reload(&self) -> BoxFuture<'_, ()>;
    /// Sends a one-token request to a deployment this instance serves.
    fn test_connection(&self, id: String) -> BoxFuture<'_, ConnectionTest>;
}

/// What a management operation asks of the gateway's live configuration: whether an allow-list
/// reaches a model (access groups and wildcards included) and which request classes exist.
pub trait Catalog: Send + Sync {
    /// `allowed` (LiteLLM's model access list: names, `prefix*`, access groups, empty for all)
    /// reaches `model`.
    fn model_allowed(&self, allowed: &[String], model: &str) -> bool;
    /// `name` is a configured request class.
    fn is_request_class(&self, name: &str) -> bool;
    /// Refuses a deployment the gateway could not serve, saying which field is wrong.
    fn check_deployment(&self, spec: &DeploymentSpec) -> Result<(), String>;
}

/// What the console asks of the gateway about routing.
pub trait RouteRuntime: Send + Sync {
    /// The routing in force on this instance: groups with their deployments' health, settings,
    /// fallback chains and request classes.
    fn routes(&self) -> RoutesView;
    /// Refuses `proposed` route policy changes if they cannot be applied, or if they add a
    /// problem (a circle, a missing or incompatible target) that `current` does not have.
    fn check(&self, current: &RouteOverrides, proposed: &RouteOverrides) -> Result<(), String>;
    /// Applies the stored route policy on this instance now (the others follow the NOTIFY).
    fn reload(&self) -> BoxFuture<'_, ()>;
}

/// Everything a console request needs.
#[derive(Clone)]
pub struct ConsoleState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    /// Seals provider credentials; `None` when no secrets key is configured.
    pub sealer: Option<Arc<Sealer>>,
    pub models: Arc<dyn ModelRuntime>,
    pub routes: Arc<dyn RouteRuntime>,
    pub catalog: Arc<dyn Catalog>,
    /// What opens first-run setup.
    pub setup: crate::secrets::SetupGate,
    /// Cookies are marked `Secure` (served over HTTPS).
    pub secure_cookies: bool,
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ConsoleState")
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl FromRef<ConsoleState> for LeptosOptions {
    fn from_ref(state: &ConsoleState) -> Self {
        state.leptos_options.clone()
    }
}

/// The console state of the current server-function call.
pub fn console_state() -> Result<ConsoleState, ConsoleError> {
    leptos::prelude::use_context::<ConsoleState>().ok_or_else(|| {
        tracing::error!("console state missing from the Leptos context");
        ConsoleError::Internal
    })
}

/// The database pool of the current server-function call.
pub fn pool() -> Result<PgPool, ConsoleError> {
    console_state().map(|state| state.pool)
}
