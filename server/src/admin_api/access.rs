//! Who may do what through the management API. The master key acts as an admin; a virtual key
//! that belongs to a user acts with that user's role and team memberships, capped at the role
//! of whoever minted it and, when a team admin minted it, within the key's team only; any other
//! key may only read itself. Everything not granted here is refused (403), and the refusal of a change
//! is audited by `audit::watch`.
//!
//! The role matrix these checks implement is in `docs/GOVERNANCE.md` ("Roles") and tested in
//! `server/tests/rbac.rs`.

use std::collections::BTreeSet;

use axum::http::HeaderMap;

use app::db::keys::{KeyRow, KeyVisibility};
use app::db::members::MemberRole;
use app::db::users;
use app::model::Role;

use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::policy::auth::{authenticate, Caller};
use crate::state::SharedGateway;

/// The caller of a management route, with what it may do.
pub struct Actor {
    pub caller: Caller,
    /// `master_key`, `user:<user_id>` or `key:<token hash>`: for `created_by` and the audit.
    pub name: String,
    /// The global role: the master key is an admin; a key without a user has none.
    pub role: Option<Role>,
    pub user_id: Option<String>,
    /// Teams the user administers, and every team it belongs to (administered ones included).
    pub admin_of: BTreeSet<String>,
    pub member_of: BTreeSet<String>,
    /// The address the request came from, for the audit.
    pub source_ip: Option<String>,
}

/// Who is calling, and with which role and memberships.
pub async fn actor(
    gateway: &SharedGateway,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<Actor, ApiError> {
    let caller = authenticate(&gateway.authenticator(), headers, origin).await?;
    let source_ip = origin.peer.map(|address| address.to_string());
    let user_id = match &caller {
        Caller::Master { .. } => {
            return Ok(Actor {
                caller,
                name: "master_key".into(),
                role: Some(Role::Admin),
                user_id: None,
                admin_of: BTreeSet::new(),
                member_of: BTreeSet::new(),
                source_ip,
            })
        }
        Caller::Key { key, .. } => key.user_id.clone(),
    };
    let (ceiling, key_team) = match &caller {
        Caller::Key { key, .. } => (key.role_ceiling, key.team_id.clone()),
        Caller::Master { .. } => (None, None),
    };
    let Some(user_id) = user_id else {
        let name = format!("key:{}", caller.token_hash());
        return Ok(Actor {
            caller,
            name,
            role: None,
            user_id: None,
            admin_of: BTreeSet::new(),
            member_of: BTreeSet::new(),
            source_ip,
        });
    };
    let user_id = user_id.to_string();
    let user = users::find_by_user_id(&gateway.pool, &user_id).await?;
    let mut memberships = users::memberships(&gateway.pool, &user_id).await?;
    if ceiling.is_some() {
        // Minted by a team admin: the key acts within its own team only.
        memberships.retain(|membership| key_team.as_deref() == Some(membership.team_id.as_str()));
    }
    let admin_of = memberships
        .iter()
        .filter(|membership| MemberRole::parse(&membership.role) == Some(MemberRole::Admin))
        .map(|membership| membership.team_id.clone())
        .collect();
    let member_of = memberships
        .into_iter()
        .map(|membership| membership.team_id)
        .collect();
    Ok(Actor {
        caller,
        name: format!("user:{user_id}"),
        role: user
            .as_ref()
            .and_then(users::UserRow::role)
            .map(|role| ceiling.map_or(role, |ceiling| role.capped_at(ceiling))),
        user_id: Some(user_id),
        admin_of,
        member_of,
        source_ip,
    })
}

impl Actor {
    fn has(&self, allowed: &[Role]) -> bool {
        self.role.is_some_and(|role| allowed.contains(&role))
    }

    fn refuse(&self, what: &str) -> ApiError {
        ApiError::Forbidden(format!(
            "Your role ({}) may not {what}.",
            self.role.map_or("a key without a user", Role::as_str)
        ))
    }

    /// Creates, changes and deletes anything: admins only.
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.has(&[Role::Admin]) {
            Ok(())
        } else {
            Err(self.refuse(what))
        }
    }

    /// Reads every team, key and user.
    pub fn reads_everything(&self) -> bool {
        self.has(&[Role::Admin, Role::Finance, Role::Viewer])
    }

    pub fn require_reads_everything(&self, what: &str) -> Result<(), ApiError> {
        if self.reads_everything() {
            Ok(())
        } else {
            Err(self.refuse(what))
        }
    }

    /// Reads every spend row and the audit log.
    pub fn require_reads_spend(&self, what: &str) -> Result<(), ApiError> {
        if self.has(&[Role::Admin, Role::Finance]) {
            Ok(())
        } else {
            Err(self.refuse(what))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.has(&[Role::Admin])
    }

    /// Manages the team's keys and members: an admin, or an admin of that team.
    pub fn manages_team(&self, team_id: &str) -> bool {
        self.is_admin() || self.admin_of.contains(team_id)
    }

    pub fn require_manages_team(&self, team_id: &str, what: &str) -> Result<(), ApiError> {
        if self.manages_team(team_id) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "Only an admin or an admin of team `{team_id}` may {what}."
            )))
        }
    }

    /// Sees the team: everyone who reads everything, and its members.
    pub fn sees_team(&self, team_id: &str) -> bool {
        self.reads_everything() || self.member_of.contains(team_id)
    }

    /// The key is this user's own.
    pub fn owns(&self, key: &KeyRow) -> bool {
        self.user_id.is_some() && key.user_id == self.user_id
    }

    /// Reads the key: everyone who reads everything, the key itself, its user, and the admins
    /// of its team.
    pub fn sees_key(&self, key: &KeyRow) -> bool {
        self.reads_everything()
            || self.caller.token_hash().as_ref() == key.token_hash
            || self.owns(key)
            || key
                .team_id
                .as_deref()
                .is_some_and(|team| self.admin_of.contains(team))
    }

    /// Changes the key: admins, and the admins of its team when the key's user's global role is
    /// no higher than their own (a team admin never takes over an admin's key).
    pub fn manages_key(&self, key: &KeyRow) -> bool {
        self.is_admin()
            || (key
                .team_id
                .as_deref()
                .is_some_and(|team| self.admin_of.contains(team))
                && (self.owns(key)
                    || self.outranks(key.user_role.as_deref().and_then(Role::parse))))
    }

    /// This caller's role covers `other` (a user without a role is covered by everyone).
    fn outranks(&self, other: Option<Role>) -> bool {
        match (self.role, other) {
            (_, None) => true,
            (Some(mine), Some(theirs)) => mine.covers(theirs),
            (None, Some(_)) => false,
        }
    }

    /// Refuses to act for or on a user whose global role is higher than the caller's.
    pub fn require_outranks(&self, other: Option<Role>, user_id: &str) -> Result<(), ApiError> {
        if self.is_admin() || self.outranks(other) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "`{user_id}` has a higher global role ({}) than yours; only an admin may do that.",
                other.map_or("none", Role::as_str)
            )))
        }
    }

    /// The ceiling a key this caller mints carries: none when an admin mints it, else the
    /// caller's own role.
    pub fn minted_role_ceiling(&self) -> Option<Role> {
        if self.is_admin() {
            None
        } else {
            Some(self.role.unwrap_or(Role::TeamAdmin))
        }
    }

    pub fn require_manages_key(&self, key: &KeyRow, what: &str) -> Result<(), ApiError> {
        if self.manages_key(key) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "Only an admin, or an admin of the key's team whose role is no lower than its \
                 user's, may {what}."
            )))
        }
    }

    /// The keys `/key/list` shows this caller: all, or those of the teams it administers and
    /// its own. `None`: it may list none.
    pub fn key_visibility<'a>(&'a self, admin_teams: &'a [String]) -> Option<KeyVisibility<'a>> {
        if self.reads_everything() {
            return Some(KeyVisibility::All);
        }
        self.user_id
            .as_deref()
            .map(|user_id| KeyVisibility::TeamsOrOwn {
                teams: admin_teams,
                user_id,
            })
    }
}
