//! Session helpers shared by every server function: who is calling, is the form genuine,
//! may they do this.

use tower_sessions::Session;
use uuid::Uuid;

use crate::db::users::{self, UserRow};
use crate::error::ConsoleError;
use crate::model::Role;
use crate::secrets;
use crate::state::pool;

const USER_ID: &str = "user_id";
const SESSION_EPOCH: &str = "session_epoch";
const CSRF_TOKEN: &str = "csrf_token";

/// The tower-sessions session of the current request.
pub async fn session() -> Result<Session, ConsoleError> {
    leptos_axum::extract::<Session>().await.map_err(|error| {
        tracing::error!(%error, "session layer missing");
        ConsoleError::Internal
    })
}

/// The CSRF token of a visitor without a session: a double-submit cookie, so that nothing is
/// stored for anonymous visitors (a session row is written only at login).
const CSRF_COOKIE: &str = "gatehouse_csrf";
/// The same cookie over HTTPS, in the form browsers accept only from this host, securely.
const SECURE_CSRF_COOKIE: &str = "__Host-gatehouse_csrf";

/// The CSRF token forms must carry: the session's once logged in, else the visitor's
/// double-submit cookie (set on this response when the visitor has none).
pub async fn csrf_token(session: &Session, secure: bool) -> Result<String, ConsoleError> {
    if let Some(token) = session.get::<String>(CSRF_TOKEN).await? {
        return Ok(token);
    }
    if let Some(token) = cookie_token(secure).await {
        return Ok(token);
    }
    let options = leptos::prelude::use_context::<leptos_axum::ResponseOptions>();
    // A page renders its session summary more than once: one cookie per response.
    if let Some(token) = options.as_ref().and_then(token_set_on) {
        return Ok(token);
    }
    let token = secrets::new_csrf_token().map_err(|_| ConsoleError::Internal)?;
    if let Some(options) = options {
        // Over HTTPS the `__Host-` form: no subdomain or plain-HTTP page can plant one.
        let cookie = if secure {
            format!("{SECURE_CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Secure")
        } else {
            format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
        };
        let value =
            axum::http::HeaderValue::from_str(&cookie).map_err(|_| ConsoleError::Internal)?;
        options.append_header(axum::http::header::SET_COOKIE, value);
    }
    Ok(token)
}

/// The visitor's CSRF cookie (the `__Host-` one over HTTPS), when it holds a token of ours.
async fn cookie_token(secure: bool) -> Option<String> {
    let wanted = if secure {
        SECURE_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    };
    let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.ok()?;
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, token)| token.to_string())
        .filter(|token| token.len() == 64 && token.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// The CSRF token already set as a cookie on the response being built.
fn token_set_on(options: &leptos_axum::ResponseOptions) -> Option<String> {
    let parts = options.0.read().ok()?;
    parts
        .headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| {
            let cookie = cookie.strip_prefix("__Host-").unwrap_or(cookie);
            cookie.strip_prefix(CSRF_COOKIE)?.strip_prefix('=')
        })
        .and_then(|rest| rest.split(';').next())
        .map(str::to_string)
}

/// Refuses a form whose CSRF token does not match the session's (or, before a login, the
/// visitor's cookie).
pub async fn check_csrf(session: &Session, given: &str) -> Result<(), ConsoleError> {
    let expected = match session.get::<String>(CSRF_TOKEN).await? {
        Some(token) => Some(token),
        None => cookie_token(crate::state::console_state()?.secure_cookies).await,
    };
    match expected {
        Some(expected) if secrets::tokens_match(&expected, given) => Ok(()),
        _ => Err(ConsoleError::InvalidCsrf),
    }
}

/// The logged-in user, if any: a deleted user's session, or one opened before the user's
/// password last changed, counts as logged out.
pub async fn current_user_in(
    pool: &sqlx::PgPool,
    session: &Session,
) -> Result<Option<UserRow>, ConsoleError> {
    let Some(id) = session.get::<Uuid>(USER_ID).await? else {
        return Ok(None);
    };
    let Some(user) = users::find_by_id(pool, id).await? else {
        return Ok(None);
    };
    // A session opened before the user's password last changed is over.
    if session.get::<i64>(SESSION_EPOCH).await? != Some(user.session_epoch) {
        session.flush().await?;
        return Ok(None);
    }
    Ok(Some(user))
}

/// The logged-in user holding one of `allowed` roles; anything else is refused.
pub async fn require_role(session: &Session, allowed: &[Role]) -> Result<UserRow, ConsoleError> {
    require_role_in(&pool()?, session, allowed).await
}

/// [`require_role`] with the pool given (outside a server function, or taken before an await) (a plain route with the session layer).
pub async fn require_role_in(
    pool: &sqlx::PgPool,
    session: &Session,
    allowed: &[Role],
) -> Result<UserRow, ConsoleError> {
    let user = current_user_in(pool, session)
        .await?
        .ok_or(ConsoleError::NotLoggedIn)?;
    match user.role() {
        Some(role) if allowed.contains(&role) => Ok(user),
        _ => Err(ConsoleError::Forbidden),
    }
}

/// The logged-in user as the management operations see it: its role, its teams, and the
/// address the request came from. Refused (401) without a session.
pub async fn actor(session: &Session) -> Result<crate::ops::Actor, ConsoleError> {
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;

    use crate::db::members::MemberRole;

    let pool = pool()?;
    let user = current_user_in(&pool, session)
        .await?
        .ok_or(ConsoleError::NotLoggedIn)?;
    let memberships = users::memberships(&pool, &user.user_id).await?;
    let source_ip = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .ok()
        .map(|ConnectInfo(address)| address.ip().to_string());
    Ok(crate::ops::Actor {
        name: crate::ops::Actor::user_name(&user.user_id),
        role: user.role(),
        admin_of: memberships
            .iter()
            .filter(|membership| MemberRole::parse(&membership.role) == Some(MemberRole::Admin))
            .map(|membership| membership.team_id.clone())
            .collect(),
        member_of: memberships
            .into_iter()
            .map(|membership| membership.team_id)
            .collect(),
        user_id: Some(user.user_id),
        token_hash: None,
        key_project_id: None,
        source_ip,
    })
}

/// The logged-in user as the management operations see it, for a read.
pub async fn current_actor() -> Result<crate::ops::Actor, ConsoleError> {
    actor(&session().await?).await
}

/// The logged-in user about to make a change, once the form's CSRF token is checked.
pub async fn changer(csrf: &str) -> Result<crate::ops::Actor, ConsoleError> {
    let session = session().await?;
    let actor = actor(&session).await?;
    check_csrf(&session, csrf).await?;
    Ok(actor)
}

/// `changer`, refused unless an admin (before the form is read); `what` says what is refused.
pub async fn admin_changer(csrf: &str, what: &str) -> Result<crate::ops::Actor, ConsoleError> {
    let actor = changer(csrf).await?;
    actor.require_admin(what)?;
    Ok(actor)
}

/// `changer`, refused unless an admin or a team admin (before the form is read).
pub async fn team_changer(csrf: &str, what: &str) -> Result<crate::ops::Actor, ConsoleError> {
    let actor = changer(csrf).await?;
    actor.require_manages_some_team(what)?;
    Ok(actor)
}

/// Logs a user in: a new session id (no fixation), a new CSRF token, the user's id.
pub async fn start_session(session: &Session, user: &UserRow) -> Result<(), ConsoleError> {
    session.cycle_id().await?;
    let token = secrets::new_csrf_token().map_err(|_| ConsoleError::Internal)?;
    session.insert(CSRF_TOKEN, token).await?;
    session.insert(USER_ID, user.id).await?;
    session.insert(SESSION_EPOCH, user.session_epoch).await?;
    Ok(())
}

/// Keeps the current session open after its own user's password changed (the user who reset
/// their own password stays logged in; every other session of theirs ends).
pub async fn follow_epoch(session: &Session, user: &UserRow) -> Result<(), ConsoleError> {
    session.insert(SESSION_EPOCH, user.session_epoch).await?;
    Ok(())
}

/// Logs out: the whole session is deleted.
pub async fn end_session(session: &Session) -> Result<(), ConsoleError> {
    session.flush().await?;
    Ok(())
}
