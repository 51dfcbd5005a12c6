//! The management operations: the one write path of every entity the management API and the
//! console change. An operation takes the `Actor`, checks it may (the rules are in `actor`),
//! checks the input, makes the change and records its audit entry in one transaction
//! (`record`), and answers with a typed view. The API's routes and the console's server
//! functions are thin over it.

pub mod actor;
pub mod budget_fields;
pub mod deployments;
pub mod end_users;
pub mod keys;
pub mod limit_fields;
pub mod members;
pub mod named_budgets;
pub mod organizations;
pub mod projects;
pub mod record;
pub mod route_policy;
pub mod tags;
pub mod team_scope;
pub mod teams;
pub mod users;

pub use crate::error::ops::OpsError;
pub use crate::state::Catalog;
pub use actor::Actor;

/// RFC 3339 text of a timestamp, as views carry them.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
