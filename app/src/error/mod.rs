//! The console's one error type: what a server function can report to the browser; and (`ops`)
//! the management operations' error, with how the console reports it.

#[cfg(feature = "ssr")]
pub mod ops;

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
    /// Refused, with the rule that refuses it.
    #[error("{0}")]
    ForbiddenBecause(String),
    #[error("This form has expired; reload the page and try again.")]
    InvalidCsrf,
    #[error("Incorrect email or password.")]
    BadCredentials,
    #[error("Gatehouse is already set up; log in instead.")]
    AlreadySetUp,
    #[error("Too many failed attempts; try again in {0} seconds.")]
    TooManyAttempts(u64),
    #[error("The server is busy; try again in a moment.")]
    Busy,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("Something went wrong on the server; the details are in the server log.")]
    Internal,
    #[error("The request to the server failed: {0}")]
    Transport(String),
}

impl ConsoleError {
    /// The HTTP status a server function answers with this error: a refusal or bad input is a
    /// 4xx, only the server's own failure a 5xx.
    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::NotLoggedIn | ConsoleError::BadCredentials => 401,
            ConsoleError::Forbidden
            | ConsoleError::ForbiddenBecause(_)
            | ConsoleError::InvalidCsrf => 403,
            ConsoleError::AlreadySetUp => 409,
            ConsoleError::NotFound(_) => 404,
            // Transport on the server: the arguments could not be read (a missing field).
            ConsoleError::Invalid(_) | ConsoleError::Transport(_) => 400,
            ConsoleError::TooManyAttempts(_) => 429,
            ConsoleError::Busy => 503,
            ConsoleError::Internal => 500,
        }
    }
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
        if crate::db::is_invalid_value(&error) {
            return Self::Invalid(crate::db::INVALID_VALUE_MESSAGE.into());
        }
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
