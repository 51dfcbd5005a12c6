//! Keys from the console, through `ops::keys` (the API's write path): list, create (secret
//! shown once), edit, rotate (new secret shown once, the old one kept for a grace period),
//! block or unblock, revoke. Admins manage every key, team admins their teams' keys.

// A server function takes one argument per form field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::{BudgetForm, LimitsForm};
use crate::model::views::{KeyDetails, KeyListing};
use crate::model::CreatedKey;

/// A page (from 1; none: the first) of the keys the caller may read (its teams' and its own,
/// or every key), newest first.
#[server(endpoint = "list_keys")]
pub async fn list_keys(page: Option<i64>) -> Result<KeyListing, ConsoleError> {
    use crate::api::guard;
    use crate::ops::keys::{self, KeyListQuery, MAX_PAGE_SIZE};

    let actor = guard::current_actor().await?;
    let query = KeyListQuery {
        page: Some(page.unwrap_or(1).max(1)),
        size: Some(MAX_PAGE_SIZE),
        ..KeyListQuery::default()
    };
    let listed = keys::list(&crate::state::pool()?, &actor, query).await?;
    Ok(KeyListing {
        keys: listed.keys,
        page: listed.page,
        pages: (listed.total + listed.size - 1) / listed.size,
    })
}

/// Creates a key from the console form. Empty fields mean "no limit".
#[server(endpoint = "create_key")]
pub async fn create_key(
    csrf: String,
    key_alias: String,
    models: String,
    duration: String,
    team_id: Option<String>,
    #[server(flatten)] budget: BudgetForm,
    #[server(flatten)] limits: LimitsForm,
) -> Result<CreatedKey, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::keys::{self, NewKey};

    let actor = guard::team_changer(&csrf, "create keys").await?;
    let input = NewKey {
        key_alias: form::text(&key_alias),
        models: form::list(&models),
        budget: form::budget(&budget)?,
        duration: form::text(&duration),
        team_id: team_id.as_deref().and_then(form::text),
        limits: form::limits(&limits)?,
        ..NewKey::default()
    };
    let state = crate::state::console_state()?;
    let issued = keys::generate(&state.pool, &actor, &*state.catalog, input).await?;
    Ok(CreatedKey {
        key: issued.secret,
        key_name: issued.details.key_name,
    })
}

/// Changes a key from its edit form: the fields given change (an empty one stays as it is;
/// empty models mean every model).
#[server(endpoint = "update_key")]
pub async fn update_key(
    csrf: String,
    token_hash: String,
    key_alias: String,
    models: String,
    #[server(flatten)] budget: BudgetForm,
    #[server(flatten)] limits: LimitsForm,
    duration: String,
    metadata: String,
) -> Result<KeyDetails, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::keys::{self, KeyUpdate};

    let actor = guard::team_changer(&csrf, "change keys").await?;
    let update = KeyUpdate {
        key: token_hash,
        key_alias: form::text(&key_alias),
        models: Some(form::list(&models)),
        budget: form::budget(&budget)?,
        limits: form::limits(&limits)?,
        duration: form::text(&duration),
        metadata: form::json_object(&metadata, "Metadata")?,
        ..KeyUpdate::default()
    };
    let state = crate::state::console_state()?;
    Ok(keys::update(&state.pool, &actor, &*state.catalog, update).await?)
}

/// Gives a key a new secret, shown once; the old one keeps working for `grace_period`
/// (`1h`, `1d`; empty: it stops now).
#[server(endpoint = "rotate_key")]
pub async fn rotate_key(
    csrf: String,
    token_hash: String,
    grace_period: String,
) -> Result<CreatedKey, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::keys;

    let actor = guard::team_changer(&csrf, "regenerate keys").await?;
    let grace = form::text(&grace_period);
    let issued = keys::regenerate(
        &crate::state::pool()?,
        &actor,
        &token_hash,
        None,
        grace.as_deref(),
    )
    .await?;
    Ok(CreatedKey {
        key: issued.secret,
        key_name: issued.details.key_name,
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
    use crate::ops::keys;

    let actor = guard::team_changer(&csrf, "block keys").await?;
    keys::set_blocked(&crate::state::pool()?, &actor, &token_hash, blocked).await?;
    Ok(())
}

#[server(endpoint = "revoke_key")]
pub async fn revoke_key(csrf: String, token_hash: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::keys;

    let actor = guard::team_changer(&csrf, "revoke keys").await?;
    keys::delete(&crate::state::pool()?, &actor, &[token_hash], &[]).await?;
    Ok(())
}
