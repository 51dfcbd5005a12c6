//! The route policy the console's Routes page changes (its overrides of config.yaml's routing):
//! admins change it, one change at a time against the version they saw, with its audit entry
//! (the overrides before and after) written in the change's transaction.

use serde_json::json;
use sqlx::PgPool;

use crate::db::routes::{self, RoutePolicyError};
use crate::ops::record::{record, snapshot, Change};
use crate::ops::{Actor, OpsError};
use crate::route_policy::RouteOverrides;

fn refused(error: RoutePolicyError) -> OpsError {
    match error {
        RoutePolicyError::Database(error) => OpsError::Database(error),
        RoutePolicyError::ChangedMeanwhile { updated_by } => OpsError::conflict(
            format!(
                "Not saved: {updated_by} changed the routing since this page was loaded. \
                 Reload the page and make your change again."
            ),
            "seen_version",
        ),
        RoutePolicyError::Unreadable { .. } => OpsError::conflict(
            "The stored route policy is not readable by this Gatehouse; reset it to \
             config.yaml's routing first.",
            "routes",
        ),
        error @ RoutePolicyError::Unwritable(_) => OpsError::Internal(error.to_string()),
    }
}

/// Changes the stored overrides of version `seen`: `edit` turns them into the new ones, or
/// says why not (a 400 with its words). `what` names the change in the audit entry.
pub async fn change(
    pool: &PgPool,
    actor: &Actor,
    seen: i64,
    what: &str,
    edit: impl FnOnce(RouteOverrides) -> Result<RouteOverrides, String>,
) -> Result<(), OpsError> {
    actor.require_admin("change routing")?;
    let mut transaction = pool.begin().await?;
    let (before, after) = routes::update(&mut transaction, &actor.name, seen, edit)
        .await
        .map_err(refused)?
        .map_err(|problem| OpsError::conflict(problem, "routes"))?;
    if before == after {
        // Nothing to store: dropping the transaction leaves the policy as it was.
        return Ok(());
    }
    let change = Change {
        action: "routes.update",
        target_type: "route_policy",
        target_id: "routes",
        before: snapshot(&before),
        after: Some(json!({ "change": what, "overrides": after })),
    };
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(())
}

/// Drops every change made on the Routes page: config.yaml's routing applies again.
pub async fn reset(pool: &PgPool, actor: &Actor) -> Result<(), OpsError> {
    actor.require_admin("change routing")?;
    let mut transaction = pool.begin().await?;
    routes::reset(&mut transaction).await?;
    let change = Change {
        action: "routes.reset",
        target_type: "route_policy",
        target_id: "routes",
        before: None,
        after: None,
    };
    record(&mut transaction, actor, change).await?;
    transaction.commit().await?;
    Ok(())
}
