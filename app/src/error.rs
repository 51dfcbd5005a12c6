//! The console's one error type: what a server function can report to the browser.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Errors returned by console server functions; each message is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ConsoleError {
    #[error("Please log in.")]
    NotLoggedIn,
    #[error("Your role does not allow this action.")]
    Forbidden,
    #[error("This form has expired; reload the page and try again.")]
    InvalidCsrf,
    #[error("Incorrect email or password.")]
    BadCredentials,
    #[error("Gatehouse is already set up; log in instead.")]
    AlreadySetUp,
    #[error("{0}")]
    Invalid(String),
    #[error("Something went wrong on the server; the details are in the server log.")]
    Internal,
    #[error("The request to the server failed: {0}")]
    Transport(String),
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for ConsoleError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "console database error");
        Self::Internal
    }
}

#[cfg(feature = "ssr")]
impl From<tower_sessions::session::Error> for ConsoleError {
    fn from(error: tower_sessions::session::Error) -> Self {
        tracing::error!(%error, "console session error");
        Self::Internal
    }
}
