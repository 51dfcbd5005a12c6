//! Console server functions: each checks the session, its CSRF token and role, then calls `db`.

pub mod audit;
pub mod budgets;
pub mod end_users;
pub mod keys;
pub mod models;
pub mod named_budgets;
pub mod organizations;
pub mod projects;
pub mod reports;
pub mod routes;
pub mod session;
pub mod spend;
pub mod tags;
pub mod teams;
pub mod users;

#[cfg(feature = "ssr")]
pub(crate) mod deployment_form;
#[cfg(feature = "ssr")]
pub(crate) mod form;
#[cfg(feature = "ssr")]
pub(crate) mod guard;
#[cfg(feature = "ssr")]
pub(crate) mod route_form;
