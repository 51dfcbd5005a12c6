//! Key management from the console: list, create (secret shown once), revoke. Admins only.

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

/// Creates a key from the console form. Empty fields mean "no limit".
#[server(endpoint = "create_key")]
pub async fn create_key(
    csrf: String,
    key_alias: String,
    models: String,
    max_budget: String,
    duration: String,
) -> Result<CreatedKey, ConsoleError> {
    use crate::api::guard;
    use crate::db::keys::{self, CreateKeyError, KeySpec};
    use crate::model::{dollars_to_micros, parse_duration_seconds, Role};

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;

    let max_budget_micros = match max_budget.trim() {
        "" => None,
        text => {
            let dollars: f64 = text.parse().map_err(|_| {
                ConsoleError::Invalid(format!("Budget `{text}` is not a number of dollars."))
            })?;
            Some(dollars_to_micros(dollars).map_err(ConsoleError::Invalid)?)
        }
    };
    let duration_seconds = match duration.trim() {
        "" => None,
        text => Some(parse_duration_seconds(text).map_err(ConsoleError::Invalid)?),
    };
    let spec = KeySpec {
        secret: None,
        key_alias: Some(key_alias.trim().to_string()),
        models: models
            .split(',')
            .map(str::trim)
            .filter(|model| !model.is_empty())
            .map(String::from)
            .collect(),
        budget: crate::db::budgets::BudgetLimits {
            max_micros: max_budget_micros,
            ..Default::default()
        },
        duration_seconds,
        metadata: serde_json::json!({}),
        team_id: None,
        user_id: None,
        limits: Default::default(),
        model_rpm_limit: serde_json::json!({}),
        model_tpm_limit: serde_json::json!({}),
        project_id: None,
        model_budgets: Default::default(),
        allowed_routes: Vec::new(),
        created_by: user.label().to_string(),
    };
    match keys::create(&crate::state::pool()?, spec).await {
        Ok((secret, row)) => {
            tracing::info!(by = %user.label(), key = %row.key_name, "key created in console");
            let after = serde_json::json!({
                "key_name": row.key_name,
                "key_alias": row.key_alias,
                "models": row.models,
                "max_budget_micros": row.max_budget_micros,
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
        Err(error) => {
            tracing::error!(%error, "console key creation failed");
            Err(ConsoleError::Internal)
        }
    }
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
