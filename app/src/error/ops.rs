//! The management operations' one error (`app::ops` answers with it): a refusal, something
//! missing, a request that breaks a rule, a conflict with what exists, or the database. The
//! console maps it to its own error here, the API to its status in the server, each once.

use super::ConsoleError;
use crate::db::error::DbError;
use crate::model::invalid::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The actor may not do this; the message says what is missing.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The change conflicts with what exists (a duplicate, a row still in use, a reference to
    /// nothing), naming the field at fault.
    #[error("{message}")]
    Conflict {
        message: String,
        param: Option<&'static str>,
    },
    /// Password hashing is saturated.
    #[error("The server is busy; retry shortly.")]
    Busy,
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Something that should not fail did (no randomness): logged, answered as our fault.
    #[error("{0}")]
    Internal(String),
}

impl OpsError {
    pub fn conflict(message: impl Into<String>, param: &'static str) -> OpsError {
        OpsError::Conflict {
            message: message.into(),
            param: Some(param),
        }
    }
}

impl From<sqlx::Error> for OpsError {
    fn from(error: sqlx::Error) -> Self {
        OpsError::Database(error)
    }
}

impl From<DbError> for OpsError {
    /// What a kind of refusal means when the entity's op does not say more.
    fn from(error: DbError) -> Self {
        match error {
            DbError::Duplicate => OpsError::Conflict {
                message: "It already exists.".into(),
                param: None,
            },
            DbError::UnknownReference => OpsError::Conflict {
                message: "It names something that does not exist.".into(),
                param: None,
            },
            DbError::InUse => OpsError::Conflict {
                message: "It is still in use.".into(),
                param: None,
            },
            DbError::Database(error) => OpsError::Database(error),
        }
    }
}

/// How the console reports an operation's error.
impl From<OpsError> for ConsoleError {
    fn from(error: OpsError) -> Self {
        match error {
            OpsError::Forbidden(reason) => ConsoleError::ForbiddenBecause(reason),
            OpsError::NotFound(message) => ConsoleError::NotFound(message),
            OpsError::Invalid(invalid) => ConsoleError::Invalid(invalid.to_string()),
            OpsError::Conflict { message, .. } => ConsoleError::Invalid(message),
            OpsError::Busy => ConsoleError::Busy,
            OpsError::Database(error) => error.into(),
            OpsError::Internal(problem) => {
                tracing::error!(%problem, "a management operation failed");
                ConsoleError::Internal
            }
        }
    }
}
