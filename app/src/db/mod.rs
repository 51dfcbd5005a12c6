//! Postgres access, one module per aggregate. Every query binds its parameters.

pub mod audit;
mod budget_links;
pub mod budget_state;
pub mod budget_templates;
pub mod budgets;
pub mod deployments;
pub mod end_users;
pub mod error;
mod filters;
mod holds;
pub mod key_lists;
pub mod key_secrets;
pub mod keys;
pub mod members;
pub mod organizations;
pub mod projects;
pub mod reconcile;
mod record;
pub mod reports;
pub mod routes;
pub mod spend;
pub mod spend_faults;
pub mod tags;
pub mod teams;
pub mod users;

/// The schema, embedded; applied at start-up.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The database refused a value the caller gave (SQLSTATE class 22: a NUL character in text,
/// a number or date out of range): the caller's fault, answered with a 400, never a 500.
pub fn is_invalid_value(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database) => {
            database.code().is_some_and(|code| code.starts_with("22"))
        }
        _ => false,
    }
}

/// What a caller is told of a value the database refused.
pub const INVALID_VALUE_MESSAGE: &str =
    "A value in the request cannot be stored: it holds a NUL character or is out of range.";
