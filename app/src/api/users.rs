//! Users from the console: list (admins, finance, viewers), create with a role and password,
//! change a role, reset a password, delete (admins; nobody changes or deletes themselves).

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::AccountView;

/// Most users the page lists.
pub const USER_LIST_LIMIT: i64 = 100;

/// The shortest password the console accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<AccountView>, ConsoleError> {
    use std::collections::HashMap;

    use crate::api::guard;
    use crate::db::keys::format_time;
    use crate::db::users;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::require_role(&session, &[Role::Admin, Role::Finance, Role::Viewer]).await?;
    let pool = crate::state::pool()?;
    let (rows, _) = users::list_page(&pool, None, 1, USER_LIST_LIMIT).await?;
    let mut teams: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, team_id, role) in users::all_memberships(&pool).await? {
        teams
            .entry(user_id)
            .or_default()
            .push(format!("{team_id} ({role})"));
    }
    Ok(rows
        .into_iter()
        .map(|row| AccountView {
            role: row.role(),
            can_log_in: row.email.is_some() && row.password_hash.is_some(),
            teams: teams.remove(&row.user_id).unwrap_or_default(),
            user_id: row.user_id,
            email: row.email,
            spend_micros: row.spend_micros,
            max_budget_micros: row.max_budget_micros,
            created_at: format_time(row.created_at),
        })
        .collect())
}

/// A role named in a form.
#[cfg(feature = "ssr")]
fn role_named(text: &str) -> Result<crate::model::Role, ConsoleError> {
    crate::model::Role::parse(text.trim())
        .ok_or_else(|| ConsoleError::Invalid(format!("`{text}` is not a role.")))
}

/// An Argon2 hash of a new password, refused when too short.
#[cfg(feature = "ssr")]
async fn new_password_hash(password: String) -> Result<String, ConsoleError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ConsoleError::Invalid(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    crate::api::password_guard::hash_password(password).await
}

/// The user named in a form, refused when it is the one signed in.
#[cfg(feature = "ssr")]
async fn someone_else(
    acting: &crate::db::users::UserRow,
    user_id: &str,
) -> Result<crate::db::users::UserRow, ConsoleError> {
    if acting.user_id == user_id {
        return Err(ConsoleError::Invalid(
            "Nobody changes their own role or deletes themselves; ask another admin.".into(),
        ));
    }
    crate::db::users::find_by_user_id(&crate::state::pool()?, user_id)
        .await?
        .ok_or_else(|| ConsoleError::Invalid("That user no longer exists.".into()))
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    csrf: String,
    email: String,
    role: String,
    password: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::users::{self, UserError, UserSpec};
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin]).await?;
    let email = email.trim().to_string();
    if !email.contains('@') || email.len() > 200 {
        return Err(ConsoleError::Invalid(
            "Give the user's email address.".into(),
        ));
    }
    let spec = UserSpec {
        user_id: None,
        email: Some(email.clone()),
        password_hash: Some(new_password_hash(password).await?),
        role: role_named(&role)?,
        user_alias: None,
        models: Vec::new(),
        metadata: serde_json::json!({}),
        budget: Default::default(),
        limits: Default::default(),
        created_by: format!("user:{}", acting.label()),
    };
    let row = users::create(&crate::state::pool()?, spec)
        .await
        .map_err(|error| match error {
            UserError::Duplicate => ConsoleError::Invalid("A user with that email exists.".into()),
            UserError::Database(error) => ConsoleError::from(error),
        })?;
    guard::audit(
        &acting,
        "user.new",
        "user",
        &row.user_id,
        Some(serde_json::json!({ "user_email": email, "role": row.role })),
    )
    .await;
    Ok(())
}

#[server(endpoint = "change_role")]
pub async fn change_role(csrf: String, user_id: String, role: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::users::{self, UserChange};
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin]).await?;
    let target = someone_else(&acting, &user_id).await?;
    let role = role_named(&role)?;
    let change = UserChange {
        role: Some(role),
        ..UserChange::default()
    };
    users::update(&crate::state::pool()?, &target.user_id, change).await?;
    guard::audit(
        &acting,
        "user.update",
        "user",
        &target.user_id,
        Some(serde_json::json!({ "role": role.as_str(), "previous_role": target.role })),
    )
    .await;
    Ok(())
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    csrf: String,
    user_id: String,
    password: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::users::{self, UserChange};
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin]).await?;
    let change = UserChange {
        password_hash: Some(new_password_hash(password).await?),
        ..UserChange::default()
    };
    let changed = users::update(&crate::state::pool()?, user_id.trim(), change)
        .await?
        .ok_or_else(|| ConsoleError::Invalid("That user no longer exists.".into()))?;
    // Every session of that user ended with the reset, but this one when it is theirs.
    if changed.id == acting.id {
        guard::follow_epoch(&session, &changed).await?;
    }
    guard::audit(
        &acting,
        "user.reset_password",
        "user",
        user_id.trim(),
        Some(serde_json::json!({ "password_changed": true })),
    )
    .await;
    Ok(())
}

#[server(endpoint = "delete_user")]
pub async fn delete_user(csrf: String, user_id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::users;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let acting = guard::require_role(&session, &[Role::Admin]).await?;
    let target = someone_else(&acting, &user_id).await?;
    let deleted = users::delete(
        &crate::state::pool()?,
        std::slice::from_ref(&target.user_id),
    )
    .await?;
    guard::audit(
        &acting,
        "user.delete",
        "user",
        &target.user_id,
        Some(serde_json::json!({ "deleted": true, "keys_revoked": deleted.revoked_keys.len() })),
    )
    .await;
    Ok(())
}
