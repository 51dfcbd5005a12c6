//! Policy enforced on every data-plane request, from memory: key authentication and
//! authorization, budgets. Kept in step with Postgres by LISTEN/NOTIFY and a periodic reload.

pub mod alerts;
pub mod auth;
pub mod auth_failures;
pub mod budgets;
pub mod end_users;
pub mod keys;
pub mod limits;
pub mod named;
pub mod new_names;
pub mod refusals;
pub mod routes;
pub mod tags;
pub mod teams;
