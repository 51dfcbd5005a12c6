//! Who is making a management change, and what its role lets it do. The management API builds
//! an `Actor` from the calling key (its user's role, capped at the role of whoever minted it),
//! the console from the logged-in user; every rule about who may change what is here.
//!
//! The role matrix these rules implement is in `docs/GOVERNANCE.md` ("Roles").

use std::collections::BTreeSet;

use crate::db::key_lists::KeyVisibility;
use crate::db::keys::KeyRow;
use crate::model::Role;
use crate::ops::OpsError;

/// The caller of a management operation.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// `master_key`, `user:<user_id>` or `key:<token hash>`: for `created_by` and the audit.
    pub name: String,
    /// The global role: the master key is an admin; a key without a user has none.
    pub role: Option<Role>,
    pub user_id: Option<String>,
    /// The hash of the key making the call, when a key makes it.
    pub token_hash: Option<String>,
    /// The project of the key making the call, when it belongs to one.
    pub key_project_id: Option<String>,
    /// Teams the user administers, and every team it belongs to (administered ones included).
    pub admin_of: BTreeSet<String>,
    pub member_of: BTreeSet<String>,
    /// The address the request came from, for the audit.
    pub source_ip: Option<String>,
}

impl Actor {
    /// The name a user acts under.
    pub fn user_name(user_id: &str) -> String {
        format!("user:{user_id}")
    }

    fn has(&self, allowed: &[Role]) -> bool {
        self.role.is_some_and(|role| allowed.contains(&role))
    }

    fn refuse(&self, what: &str) -> OpsError {
        OpsError::Forbidden(format!(
            "Your role ({}) may not {what}.",
            self.role.map_or("a key without a user", Role::as_str)
        ))
    }

    /// Creates, changes and deletes anything: admins only.
    pub fn require_admin(&self, what: &str) -> Result<(), OpsError> {
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

    pub fn require_reads_everything(&self, what: &str) -> Result<(), OpsError> {
        if self.reads_everything() {
            Ok(())
        } else {
            Err(self.refuse(what))
        }
    }

    /// Reads every spend row and the audit log.
    pub fn require_reads_spend(&self, what: &str) -> Result<(), OpsError> {
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

    pub fn require_manages_team(&self, team_id: &str, what: &str) -> Result<(), OpsError> {
        if self.manages_team(team_id) {
            Ok(())
        } else {
            Err(OpsError::Forbidden(format!(
                "Only an admin or an admin of team `{team_id}` may {what}."
            )))
        }
    }

    /// Manages keys somewhere: an admin, or an admin of some team. (What it may do to one key
    /// or team is decided with that key or team.)
    pub fn require_manages_some_team(&self, what: &str) -> Result<(), OpsError> {
        if self.is_admin() || !self.admin_of.is_empty() {
            Ok(())
        } else {
            Err(self.refuse(what))
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
            || self.token_hash.as_deref() == Some(key.token_hash.as_str())
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
    pub fn require_outranks(&self, other: Option<Role>, user_id: &str) -> Result<(), OpsError> {
        if self.is_admin() || self.outranks(other) {
            Ok(())
        } else {
            Err(OpsError::Forbidden(format!(
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

    pub fn require_manages_key(&self, key: &KeyRow, what: &str) -> Result<(), OpsError> {
        if self.manages_key(key) {
            Ok(())
        } else {
            Err(OpsError::Forbidden(format!(
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
