//! Key management from the console: list, create (secret shown once) with a team, budget and
//! rate limits, rotate (new secret shown once, the old one kept for a grace period), block or
//! unblock, revoke. Admins only.

// A server function takes one argument per form field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::{CreatedKey, KeyView};

/// Most keys the console lists at once.
pub const KEY_LIST_LIMIT: i64 = 500;

#[server(endpoint = "list_keys")]
pub async fn list_keys() -> Result<Vec<KeyView>, ConsoleError> {
    use crate::api::guard;
    use crate::db::keys;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::require_role(&session, &[Role::Admin]).await?;
    let now = time::OffsetDateTime::now_utc();
    let rows = keys::list_recent(&crate::state::pool()?, KEY_LIST_LIMIT).await?;
    Ok(rows.iter().map(|row| row.to_view(now)).collect())
}

/// A form field that is empty or absent: `None`.
#[cfg(feature = "ssr")]
fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// Dollars from a form field (empty: none).
#[cfg(feature = "ssr")]
fn dollars(text: Option<&str>, what: &str) -> Result<Option<i64>, ConsoleError> {
    given(text)
        .map(|text| {
            let dollars: f64 = text.parse().map_err(|_| {
                ConsoleError::Invalid(format!("{what} `{text}` is not a number of dollars."))
            })?;
            crate::model::dollars_to_micros(dollars).map_err(ConsoleError::Invalid)
        })
        .transpose()
}

/// A whole number, 0 or more, from a form field (empty: none).
#[cfg(feature = "ssr")]
fn count(text: Option<&str>, what: &str) -> Result<Option<i64>, ConsoleError> {
    given(text)
        .map(|text| {
            text.parse::<i64>()
                .ok()
                .filter(|count| *count >= 0)
                .ok_or_else(|| {
                    ConsoleError::Invalid(format!("{what} `{text}` is not a whole number."))
                })
        })
        .transpose()
}

/// A duration (`30s`, `1h`, `30d`, `1mo`) from a form field (empty: none), with its seconds.
#[cfg(feature = "ssr")]
fn duration(text: Option<&str>) -> Result<Option<(String, i64)>, ConsoleError> {
    given(text)
        .map(|text| {
            crate::model::parse_duration_seconds(text)
                .map(|seconds| (text.to_string(), seconds))
                .map_err(ConsoleError::Invalid)
        })
        .transpose()
}

/// Creates a key from the console form. Empty fields mean "no limit".
#[server(endpoint = "create_key")]
pub async fn create_key(
    csrf: String,
    key_alias: String,
    models: String,
    max_budget: String,
    duration: String,
    team_id: Option<String>,
    soft_budget: Option<String>,
    budget_duration: Option<String>,
    rpm_limit: Option<String>,
    tpm_limit: Option<String>,
    max_parallel_requests: Option<String>,
) -> Result<CreatedKey, ConsoleError> {
    use crate::api::guard;
    use crate::db::budgets::BudgetLimits;
    use crate::db::keys::{self, CreateKeyError, KeySpec, RateLimits};
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;

    let spec = KeySpec {
        secret: None,
        key_alias: Some(key_alias.trim().to_string()),
        models: models
            .split(',')
            .map(str::trim)
            .filter(|model| !model.is_empty())
            .map(String::from)
            .collect(),
        budget: BudgetLimits {
            max_micros: dollars(Some(&max_budget), "Budget")?,
            soft_micros: dollars(soft_budget.as_deref(), "Soft budget")?,
            duration: self::duration(budget_duration.as_deref())?,
        },
        duration_seconds: self::duration(Some(&duration))?.map(|(_, seconds)| seconds),
        metadata: serde_json::json!({}),
        team_id: given(team_id.as_deref()).map(str::to_string),
        user_id: None,
        limits: RateLimits {
            rpm_limit: count(rpm_limit.as_deref(), "Requests per minute")?,
            tpm_limit: count(tpm_limit.as_deref(), "Tokens per minute")?,
            max_parallel_requests: count(max_parallel_requests.as_deref(), "Parallel requests")?,
        },
        model_rpm_limit: serde_json::json!({}),
        model_tpm_limit: serde_json::json!({}),
        project_id: None,
        model_budgets: Default::default(),
        allowed_routes: Vec::new(),
        created_by: user.label().to_string(),
        // Keys are created on this page by admins only.
        role_ceiling: None,
    };
    match keys::create(&crate::state::pool()?, spec).await {
        Ok((secret, row)) => {
            tracing::info!(by = %user.label(), key = %row.key_name, "key created in console");
            let after = serde_json::json!({
                "key_name": row.key_name,
                "key_alias": row.key_alias,
                "models": row.models,
                "team_id": row.team_id,
                "max_budget_micros": row.max_budget_micros,
                "soft_budget_micros": row.soft_budget_micros,
                "budget_duration": row.budget_duration,
                "rpm_limit": row.rpm_limit,
                "tpm_limit": row.tpm_limit,
                "max_parallel_requests": row.max_parallel_requests,
            });
            guard::audit(&user, "key.generate", "key", &row.token_hash, Some(after)).await;
            Ok(CreatedKey {
                key: secret,
                key_name: row.key_name,
            })
        }
        Err(CreateKeyError::Duplicate) => Err(ConsoleError::Invalid(
            "A key with that alias already exists.".into(),
        )),
        Err(CreateKeyError::UnknownTeam) => Err(ConsoleError::Invalid(
            "No live team has that team id.".into(),
        )),
        Err(error) => {
            tracing::error!(%error, "console key creation failed");
            Err(ConsoleError::Internal)
        }
    }
}

/// Gives a key a new secret, shown once; the old one keeps working for `grace_period`
/// (`1h`, `1d`; empty: it stops now).
#[server(endpoint = "rotate_key")]
pub async fn rotate_key(
    csrf: String,
    token_hash: String,
    grace_period: String,
) -> Result<CreatedKey, ConsoleError> {
    use crate::api::guard;
    use crate::db::keys;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;
    let grace_seconds = duration(Some(&grace_period))?.map_or(0, |(_, seconds)| seconds);
    let rotated = keys::rotate(&crate::state::pool()?, &token_hash, grace_seconds, None)
        .await
        .map_err(|error| {
            tracing::error!(%error, "console key rotation failed");
            ConsoleError::Internal
        })?;
    let (secret, row) = rotated
        .ok_or_else(|| ConsoleError::Invalid("That key does not exist or is revoked.".into()))?;
    let after = serde_json::json!({ "key_name": row.key_name, "grace_seconds": grace_seconds });
    guard::audit(&user, "key.regenerate", "key", &row.token_hash, Some(after)).await;
    Ok(CreatedKey {
        key: secret,
        key_name: row.key_name,
    })
}

/// Blocks (refused everywhere within a second) or unblocks a key.
#[server(endpoint = "set_key_blocked")]
pub async fn set_key_blocked(
    csrf: String,
    token_hash: String,
    blocked: bool,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::keys::{self, KeyChange};
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;
    let change = KeyChange {
        blocked: Some(blocked),
        ..KeyChange::default()
    };
    let row = keys::update(&crate::state::pool()?, &token_hash, change)
        .await
        .map_err(|error| {
            tracing::error!(%error, "console key block failed");
            ConsoleError::Internal
        })?
        .ok_or_else(|| ConsoleError::Invalid("That key does not exist or is revoked.".into()))?;
    let action = if blocked { "key.block" } else { "key.unblock" };
    let after = serde_json::json!({ "blocked": blocked });
    guard::audit(&user, action, "key", &row.token_hash, Some(after)).await;
    Ok(())
}

#[server(endpoint = "revoke_key")]
pub async fn revoke_key(csrf: String, token_hash: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::keys;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;
    let revoked = keys::revoke(&crate::state::pool()?, &[token_hash], &[]).await?;
    if revoked.is_empty() {
        return Err(ConsoleError::Invalid(
            "That key does not exist or is already revoked.".into(),
        ));
    }
    tracing::info!(by = %user.label(), key = %revoked[0].token_hash, "key revoked in console");
    let after = serde_json::json!({ "revoked": true });
    guard::audit(
        &user,
        "key.delete",
        "key",
        &revoked[0].token_hash,
        Some(after),
    )
    .await;
    Ok(())
}
