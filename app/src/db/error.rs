//! The one error of the database's write paths: what the schema refused, by kind, or the
//! database itself. The management operations say what each kind means for their entity.

/// A write the database refused.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A row with the same key (or unique name) exists.
    #[error("a row with that key exists")]
    Duplicate,
    /// A row names another that does not exist.
    #[error("a referenced row does not exist")]
    UnknownReference,
    /// The row is still used by others and cannot go.
    #[error("the row is still in use")]
    InUse,
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Duplicate,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => DbError::UnknownReference,
            _ => DbError::Database(error),
        }
    }
}
