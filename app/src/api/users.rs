//! Users from the console, through `ops::users` (the API's write path): list (admins, finance,
//! viewers), create with a role and password, edit budget, limits and models, change a role,
//! reset a password, delete (admins; nobody changes their own role or deletes themselves).

// A form posts one argument per field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::{BudgetForm, LimitsForm};
use crate::model::AccountView;

/// Most users the page lists.
pub const USER_LIST_LIMIT: i64 = 100;

pub use crate::model::MIN_PASSWORD_CHARS;

#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<AccountView>, ConsoleError> {
    use crate::api::guard;
    use crate::db::users;
    use crate::ops;
    use std::collections::HashMap;

    let actor = guard::current_actor().await?;
    let pool = crate::state::pool()?;
    let page = ops::users::list(&pool, &actor, None, 1, USER_LIST_LIMIT).await?;
    let mut teams: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, team_id, role) in users::all_memberships(&pool).await? {
        teams
            .entry(user_id)
            .or_default()
            .push(format!("{team_id} ({role})"));
    }
    Ok(page
        .users
        .into_iter()
        .map(|user| AccountView {
            role: crate::model::Role::parse(&user.role),
            can_log_in: user.can_log_in,
            teams: teams.remove(&user.user_id).unwrap_or_default(),
            user_id: user.user_id,
            email: user.user_email,
            user_alias: user.user_alias,
            models: user.models,
            budget: user.budget,
            rpm_limit: user.rpm_limit,
            tpm_limit: user.tpm_limit,
            max_parallel_requests: user.max_parallel_requests,
            created_at: crate::model::short_time(&user.created_at),
        })
        .collect())
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    csrf: String,
    email: String,
    role: String,
    password: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::users::{self, NewUser};

    let actor = guard::admin_changer(&csrf, "create users").await?;
    let email = email.trim().to_string();
    if !email.contains('@') || email.len() > 200 {
        return Err(ConsoleError::Invalid(
            "Give the user's email address.".into(),
        ));
    }
    let input = NewUser {
        user_email: Some(email),
        user_role: Some(role),
        password: Some(password),
        auto_create_key: Some(false),
        ..NewUser::default()
    };
    users::create(&crate::state::pool()?, &actor, input).await?;
    Ok(())
}

/// Changes a user's budget, limits, models and alias from its edit form: the fields given
/// change (an empty one stays as it is; empty models mean every model).
#[server(endpoint = "update_user")]
pub async fn update_user(
    csrf: String,
    user_id: String,
    user_alias: String,
    models: String,
    #[server(flatten)] budget: BudgetForm,
    #[server(flatten)] limits: LimitsForm,
) -> Result<(), ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::users::{self, UserUpdate};

    let actor = guard::admin_changer(&csrf, "change users").await?;
    let update = UserUpdate {
        user_id: Some(user_id),
        user_alias: form::text(&user_alias),
        models: Some(form::list(&models)),
        budget: form::budget(&budget)?,
        limits: form::limits(&limits)?,
        ..UserUpdate::default()
    };
    users::update(&crate::state::pool()?, &actor, update).await?;
    Ok(())
}

#[server(endpoint = "change_role")]
pub async fn change_role(csrf: String, user_id: String, role: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::users::{self, UserUpdate};

    let actor = guard::admin_changer(&csrf, "change roles").await?;
    let update = UserUpdate {
        user_id: Some(user_id),
        user_role: Some(role),
        ..UserUpdate::default()
    };
    users::update(&crate::state::pool()?, &actor, update).await?;
    Ok(())
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    csrf: String,
    user_id: String,
    password: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::users::{self, UserUpdate};

    let session = guard::session().await?;
    let actor = guard::actor(&session).await?;
    guard::check_csrf(&session, &csrf).await?;
    actor.require_admin("reset passwords")?;
    let update = UserUpdate {
        user_id: Some(user_id.trim().to_string()),
        password: Some(password),
        ..UserUpdate::default()
    };
    let changed = users::update(&crate::state::pool()?, &actor, update).await?;
    // Every session of that user ended with the reset, but this one when it is theirs.
    if actor.user_id.as_deref() == Some(changed.user_id.as_str()) {
        guard::follow_epoch(&session, &changed).await?;
    }
    Ok(())
}

#[server(endpoint = "delete_user")]
pub async fn delete_user(csrf: String, user_id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::users;

    let actor = guard::changer(&csrf).await?;
    users::delete(&crate::state::pool()?, &actor, &[user_id]).await?;
    Ok(())
}
