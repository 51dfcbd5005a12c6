//! The audit entry of a change, written in the change's own transaction: a change is never
//! made without its entry, nor recorded without being made.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

use crate::db::audit::{self, AuditEntry};
use crate::ops::{Actor, OpsError};

/// What a change did.
pub struct Change<'a> {
    /// `organization.new`, `team.update`, …
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A view as the audit entry holds it.
pub fn snapshot(view: &impl Serialize) -> Option<Value> {
    serde_json::to_value(view).ok()
}

/// Records `change`, made by `actor`, in the transaction `connection` belongs to.
pub async fn record(
    connection: &mut PgConnection,
    actor: &Actor,
    change: Change<'_>,
) -> Result<(), OpsError> {
    let entry = AuditEntry {
        actor: actor.name.clone(),
        action: change.action.to_string(),
        target_type: change.target_type.to_string(),
        target_id: Some(change.target_id.to_string()),
        allowed: true,
        before: change.before,
        after: change.after,
        source_ip: actor.source_ip.clone(),
    };
    audit::record(connection, &entry).await?;
    Ok(())
}
