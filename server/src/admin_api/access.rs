//! Who may do what through the management API. Deny by default: `require_caller` wraps every
//! management route and refuses (401) a request without a known key unless its path is one of
//! `PUBLIC_ROUTES`; the caller it found reaches the handler as the `Actor` extractor. The master
//! key acts as an admin; a virtual key that belongs to a user acts with that user's role and
//! team memberships, capped at the role of whoever minted it and, when a team admin minted it,
//! within the key's team only; any other key may only read itself. Everything not granted is
//! refused (403), and the refusal of a change is audited by `audit::watch`.
//!
//! The role matrix these checks implement is in `docs/GOVERNANCE.md` ("Roles") and tested in
//! `server/tests/rbac.rs`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use app::db::members::MemberRole;
use app::db::users;
use app::model::Role;

use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::policy::auth::{authenticate, Caller};
use crate::state::SharedGateway;

/// The management routes anyone may call: probes, which carry no data.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/health/liveliness",
    "/health/liveness",
    "/health/readiness",
    // Checks its own credential: the master key, or a metrics token no other route accepts.
    "/metrics",
];

/// The caller of a management route: its key, and what it may do (`app::ops::Actor`).
#[derive(Clone)]
pub struct Actor {
    pub caller: Caller,
    pub ops: app::ops::Actor,
}

impl std::ops::Deref for Actor {
    type Target = app::ops::Actor;

    fn deref(&self) -> &app::ops::Actor {
        &self.ops
    }
}

/// Who is calling, and with which role and memberships.
pub async fn actor(
    gateway: &SharedGateway,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<Actor, ApiError> {
    let caller = authenticate(&gateway.authenticator(), headers, origin).await?;
    let mut ops = app::ops::Actor {
        source_ip: origin.peer.map(|address| address.to_string()),
        token_hash: Some(caller.token_hash().to_string()),
        key_project_id: caller.project_id().map(|project| project.to_string()),
        ..app::ops::Actor::default()
    };
    let (user_id, ceiling, key_team) = match &caller {
        Caller::Master { .. } => {
            ops.name = "master_key".into();
            ops.role = Some(Role::Admin);
            return Ok(Actor { caller, ops });
        }
        Caller::Key { key, .. } => (key.user_id.clone(), key.role_ceiling, key.team_id.clone()),
    };
    let Some(user_id) = user_id else {
        ops.name = format!("key:{}", caller.token_hash());
        return Ok(Actor { caller, ops });
    };
    let user_id = user_id.to_string();
    let user = users::find(&gateway.pool, &user_id).await?;
    let mut memberships = users::memberships(&gateway.pool, &user_id).await?;
    if ceiling.is_some() {
        // Minted by a team admin: the key acts within its own team only.
        memberships.retain(|membership| key_team.as_deref() == Some(membership.team_id.as_str()));
    }
    ops.admin_of = memberships
        .iter()
        .filter(|membership| MemberRole::parse(&membership.role) == Some(MemberRole::Admin))
        .map(|membership| membership.team_id.clone())
        .collect();
    ops.member_of = memberships
        .into_iter()
        .map(|membership| membership.team_id)
        .collect();
    ops.name = app::ops::Actor::user_name(&user_id);
    ops.role = user
        .as_ref()
        .and_then(users::UserRow::role)
        .map(|role| ceiling.map_or(role, |ceiling| role.capped_at(ceiling)));
    ops.user_id = Some(user_id);
    Ok(Actor { caller, ops })
}

/// Wraps every management route: finds the caller (or refuses the request) before the handler
/// runs, so that a route is never open by omission.
pub async fn require_caller(
    State(gateway): State<SharedGateway>,
    origin: Origin,
    mut request: Request,
    next: Next,
) -> Response {
    if PUBLIC_ROUTES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match actor(&gateway, request.headers(), &origin).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// The caller `require_caller` found.
impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.remove::<Actor>().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a management route runs without require_caller");
            ApiError::Internal
        })
    }
}
