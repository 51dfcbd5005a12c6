//! Postgres access, one module per aggregate. Every query binds its parameters.

pub mod audit;
pub mod budget_templates;
pub mod budgets;
pub mod deployments;
pub mod end_users;
pub mod keys;
pub mod members;
pub mod organizations;
pub mod projects;
pub mod reconcile;
pub mod reports;
pub mod routes;
pub mod spend;
pub mod spend_faults;
pub mod tags;
pub mod teams;
pub mod users;

/// The schema, embedded; applied at start-up.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
