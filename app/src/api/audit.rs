//! The audit log for the console: entries newest first, filtered, each user named by its email
//! beside its id. Admins and finance read it.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::AuditView;

/// Entries on one page of the Audit page.
pub const AUDIT_PAGE_SIZE: i64 = 100;

/// Entries matching the filters (empty text: any), older than `before_id` when given.
#[server(endpoint = "list_audit")]
pub async fn list_audit(
    actor: String,
    action: String,
    target_type: String,
    before_id: Option<i64>,
) -> Result<Vec<AuditView>, ConsoleError> {
    use std::collections::HashMap;

    use crate::api::guard;
    use crate::db::audit::{self, AuditFilter};
    use crate::db::keys::format_time;
    use crate::db::users;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::require_role(&session, &[Role::Admin, Role::Finance]).await?;
    let given = |text: String| {
        let text = text.trim().to_string();
        (!text.is_empty()).then_some(text)
    };
    let filter = AuditFilter {
        actor: given(actor),
        action: given(action),
        target_type: given(target_type),
        target_id: None,
        before_id,
        limit: AUDIT_PAGE_SIZE,
    };
    let compact =
        |value: Option<serde_json::Value>| value.map(|v| v.to_string()).unwrap_or_default();
    let pool = crate::state::pool()?;
    let rows = audit::list(&pool, &filter).await?;
    // Users act as `user:<user_id>`; people know them by email.
    let mut emails: HashMap<String, String> = HashMap::new();
    for user_id in rows
        .iter()
        .filter_map(|row| row.actor.strip_prefix("user:"))
    {
        if emails.contains_key(user_id) {
            continue;
        }
        if let Some(email) = users::find(&pool, user_id)
            .await?
            .and_then(|user| user.email)
        {
            emails.insert(user_id.to_string(), email);
        }
    }
    let shown_actor = |actor: String| match actor
        .strip_prefix("user:")
        .and_then(|user_id| emails.get(user_id))
    {
        Some(email) => format!("{email} ({actor})"),
        None => actor,
    };
    Ok(rows
        .into_iter()
        .map(|row| AuditView {
            id: row.id,
            at: format_time(row.at),
            actor: shown_actor(row.actor),
            action: row.action,
            target: match row.target_id {
                Some(id) => format!("{} {id}", row.target_type),
                None => row.target_type,
            },
            outcome: row.outcome,
            before: compact(row.before),
            after: compact(row.after),
            source_ip: row.source_ip.unwrap_or_default(),
        })
        .collect())
}
