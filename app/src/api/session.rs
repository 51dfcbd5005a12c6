//! Login, logout, first-run setup and the session summary every page reads.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::SessionInfo;

/// Shortest console password accepted.
pub const MIN_PASSWORD_LENGTH: usize = 12;

/// Who is visiting, their CSRF token, and whether first-run setup is still open.
#[server(endpoint = "get_session_info")]
pub async fn get_session_info() -> Result<SessionInfo, ConsoleError> {
    use crate::api::guard;
    use crate::db::users;
    use crate::model::{Role, UserView};

    // The state is taken before any await (the reactive context may be gone after one).
    let state = crate::state::console_state()?;
    let session = guard::session().await?;
    // The user first: a session that ended (its password changed) is flushed before the page
    // is given a CSRF token.
    let current = guard::current_user_in(&state.pool, &session).await?;
    let csrf_token = guard::csrf_token(&session, state.secure_cookies).await?;
    let user = current.map(|row| UserView {
        role: row.role().unwrap_or(Role::Viewer),
        email: row.label().to_string(),
    });
    let needs_setup = user.is_none() && users::count(&state.pool).await? == 0;
    Ok(SessionInfo {
        user,
        csrf_token,
        needs_setup,
    })
}

#[server(endpoint = "login")]
pub async fn login(csrf: String, email: String, password: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::users;
    use crate::password_guard::{self, Attempt};

    // The state is taken before any await (the reactive context may be gone after one).
    let pool = crate::state::pool()?;
    let attempt = Attempt::of_request(Some(&email)).await;
    attempt.check()?;
    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = users::find_by_email(&pool, email.trim()).await?;
    let stored = user.as_ref().and_then(|row| row.password_hash.clone());
    let password_ok = password_guard::verify_password(password, stored).await?;
    match user {
        Some(user) if password_ok => {
            attempt.succeeded();
            guard::start_session(&session, &user).await?;
            tracing::info!(user_id = %user.user_id, "console login");
            leptos_axum::redirect(user.role().map_or("/login", crate::model::Role::home));
            Ok(())
        }
        _ => {
            attempt.failed();
            // The typed email is not logged: it may be a password typed in the wrong box.
            tracing::warn!(address = ?attempt.address, "console login refused");
            Err(ConsoleError::BadCredentials)
        }
    }
}

#[server(endpoint = "logout")]
pub async fn logout(csrf: String) -> Result<(), ConsoleError> {
    use crate::api::guard;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    guard::end_session(&session).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// First-run setup: creates the first admin and logs them in; only for who gives the master key
/// or the one-time setup token from the log, and refused once any user exists.
#[server(endpoint = "setup_admin")]
pub async fn setup_admin(
    csrf: String,
    setup_secret: String,
    email: String,
    password: String,
    password_confirmation: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::users;
    use crate::password_guard;

    // The state is taken before any await (the reactive context may be gone after one).
    let state = crate::state::console_state()?;
    let attempt = password_guard::Attempt::of_request(None).await;
    attempt.check()?;
    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    if !state.setup.accepts(&setup_secret) {
        attempt.failed();
        tracing::warn!(address = ?attempt.address, "first-run setup refused: wrong master key or setup token");
        return Err(ConsoleError::Forbidden);
    }
    if users::count(&state.pool).await? > 0 {
        return Err(ConsoleError::AlreadySetUp);
    }
    let email = email.trim().to_string();
    if !email.contains('@') {
        return Err(ConsoleError::Invalid("Enter a valid email address.".into()));
    }
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(ConsoleError::Invalid(format!(
            "The password must be at least {MIN_PASSWORD_LENGTH} characters."
        )));
    }
    if password != password_confirmation {
        return Err(ConsoleError::Invalid("The passwords do not match.".into()));
    }
    let hash = password_guard::hash_password(password).await?;
    let user = users::insert_first_admin(&state.pool, &email, &hash)
        .await?
        .ok_or(ConsoleError::AlreadySetUp)?;
    guard::start_session(&session, &user).await?;
    tracing::info!(user_id = %user.user_id, "first admin created through setup");
    leptos_axum::redirect(crate::model::Role::Admin.home());
    Ok(())
}
