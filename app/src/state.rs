//! Server-side state the console's server functions read from the Leptos context.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;

use crate::error::ConsoleError;

/// Everything a console request needs: the Leptos options and the database pool.
#[derive(Clone, Debug)]
pub struct ConsoleState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
}

impl FromRef<ConsoleState> for LeptosOptions {
    fn from_ref(state: &ConsoleState) -> Self {
        state.leptos_options.clone()
    }
}

/// The database pool of the current server-function call.
pub fn pool() -> Result<PgPool, ConsoleError> {
    leptos::prelude::use_context::<ConsoleState>()
        .map(|state| state.pool)
        .ok_or_else(|| {
            tracing::error!("console state missing from the Leptos context");
            ConsoleError::Internal
        })
}
