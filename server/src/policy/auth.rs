//! Authentication and authorization of a data-plane or management request: which key is
//! calling, may it use this model, has it budget left.

use std::sync::Arc;

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::core::access_groups::AccessGroups;
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::policy::auth_failures::AuthFailures;
use crate::policy::budgets::Budget;
use crate::policy::keys::{CachedKey, KeyCache, Lookup};
use crate::policy::teams::{CachedTeam, TeamCache};

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// `general_settings.master_key`: every model, every management route.
    Master { token_hash: Arc<str> },
    /// A virtual key, and its team when it has one.
    Key {
        key: Arc<CachedKey>,
        team: Option<Arc<CachedTeam>>,
    },
}

impl Caller {
    pub fn token_hash(&self) -> &Arc<str> {
        match self {
            Caller::Master { token_hash } => token_hash,
            Caller::Key { key, .. } => &key.token_hash,
        }
    }

    pub fn is_master(&self) -> bool {
        matches!(self, Caller::Master { .. })
    }

    /// The model is allowed by the key and by its team.
    pub fn may_use(&self, model: &str, access: &AccessGroups) -> bool {
        match self {
            Caller::Master { .. } => true,
            Caller::Key { key, team } => {
                key.may_use(model, access)
                    && team.as_ref().is_none_or(|team| team.may_use(model, access))
            }
        }
    }

    pub fn team_id(&self) -> Option<&Arc<str>> {
        match self {
            Caller::Key {
                team: Some(team), ..
            } => Some(&team.team_id),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<&Arc<str>> {
        match self {
            Caller::Key { key, .. } => key.user_id.as_ref(),
            Caller::Master { .. } => None,
        }
    }

    /// Whether the key's or its team's metadata turns request logs off.
    pub fn logging_off(&self) -> bool {
        match self {
            Caller::Key { key, team } => {
                key.logging_off || team.as_ref().is_some_and(|team| team.logging_off)
            }
            Caller::Master { .. } => false,
        }
    }

    /// The key's and its team's aliases, where they have them.
    pub fn aliases(&self) -> (Option<&Arc<str>>, Option<&Arc<str>>) {
        match self {
            Caller::Key { key, team } => (
                key.key_alias.as_ref(),
                team.as_ref().and_then(|team| team.team_alias.as_ref()),
            ),
            Caller::Master { .. } => (None, None),
        }
    }

    pub fn project_id(&self) -> Option<&Arc<str>> {
        match self {
            Caller::Key { key, .. } => key.project_id.as_ref(),
            Caller::Master { .. } => None,
        }
    }

    /// The budgets a request of this caller counts against: the key's, its user's (overall
    /// and within the team), then its team's.
    pub fn budget_chain(&self) -> Option<&Arc<[Arc<Budget>]>> {
        match self {
            Caller::Master { .. } => None,
            Caller::Key { key, .. } => Some(&key.budget_chain),
        }
    }

    /// The largest share of a budget the caller's chain has spent (0 upwards); `None` without
    /// a budget.
    pub fn budget_used(&self) -> Option<f64> {
        self.budget_chain()?
            .iter()
            .filter_map(|budget| budget.used_share())
            .reduce(f64::max)
    }

    /// The request class the key pins, and the key's tags.
    pub fn class_hints(&self) -> (Option<&str>, &[String]) {
        match self {
            Caller::Master { .. } => (None, &[]),
            Caller::Key { key, .. } => (key.request_class.as_deref(), &key.tags),
        }
    }
}

/// The master key, held only as its hash.
#[derive(Clone)]
pub struct MasterKey {
    hash: [u8; 32],
    token_hash: Arc<str>,
}

impl MasterKey {
    /// Whether `presented` is the master key (compared in constant time).
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        app::secrets::hash_key_bytes(presented)
            .ct_eq(&self.hash)
            .into()
    }

    pub fn new(secret: &str) -> Self {
        let hash = app::secrets::hash_key_bytes(secret);
        MasterKey {
            hash,
            token_hash: Arc::from(hex::encode(hash).as_str()),
        }
    }
}

/// The bearer token of a request: LiteLLM's `x-litellm-api-key` (a client whose
/// `Authorization` carries something else), else `Authorization: Bearer …`, else `x-api-key`
/// or `api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(LITELLM_KEY_HEADER) {
        let token = value.to_str().ok()?.trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        return (!token.is_empty()).then_some(token);
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().ok()?.trim();
        let token = match text.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ if text.eq_ignore_ascii_case("bearer") => "",
            _ => text,
        };
        return (!token.is_empty()).then_some(token);
    }
    ["x-api-key", "api-key"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// LiteLLM's header for the virtual key, outranking `Authorization`.
const LITELLM_KEY_HEADER: &str = "x-litellm-api-key";

/// What authentication reads: the master key, the key and team caches, and the tally of
/// addresses that presented unknown keys.
pub struct Authenticator<'a> {
    pub master_key: Option<&'a MasterKey>,
    pub keys: &'a KeyCache,
    pub teams: &'a TeamCache,
    pub auth_failures: &'a AuthFailures,
}

/// Who is calling: the master key or a live (unrevoked, unexpired, unblocked) virtual key whose
/// team, if it has one, is live and unblocked.
pub async fn authenticate(
    gateway: &Authenticator<'_>,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<Caller, ApiError> {
    let secret = presented_key(headers).ok_or(ApiError::MissingKey)?;
    let hash = app::secrets::hash_key_bytes(secret);
    if let Some(master) = gateway.master_key {
        if bool::from(master.hash.ct_eq(&hash)) {
            return Ok(Caller::Master {
                token_hash: master.token_hash.clone(),
            });
        }
    }
    // A secret not in memory costs a lookup: an address that presented too many unknown ones
    // this minute gets no more.
    let may_query = || {
        origin
            .peer
            .is_none_or(|address| !gateway.auth_failures.exhausted(address))
    };
    let key = match gateway.keys.lookup(&hash, may_query).await? {
        Lookup::Found(key) => key,
        Lookup::NotQueried => return Err(ApiError::TooManyFailedAuthentications),
        Lookup::Unknown => {
            if let Some(address) = origin.peer {
                gateway.auth_failures.failed(address);
            }
            return Err(ApiError::InvalidKey);
        }
    };
    if key
        .expires_at
        .is_some_and(|expiry| expiry <= OffsetDateTime::now_utc())
    {
        return Err(ApiError::ExpiredKey);
    }
    if key.blocked {
        return Err(ApiError::BlockedKey);
    }
    key.allowed_routes
        .permit(&origin.path)
        .map_err(|path| ApiError::Forbidden(format!("This key may not call `{path}`.")))?;
    let team = match &key.team_id {
        Some(team_id) => {
            let team = gateway.teams.lookup(team_id).await?;
            if team.refused {
                return Err(ApiError::BlockedTeam);
            }
            Some(team)
        }
        None => None,
    };
    Ok(Caller::Key { key, team })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_keys_from_the_usual_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_key(&headers), None);
        headers.insert("x-api-key", HeaderValue::from_static("sk-anthropic-style"));
        assert_eq!(presented_key(&headers), Some("sk-anthropic-style"));
        headers.insert("authorization", HeaderValue::from_static("Bearer sk-abc"));
        assert_eq!(presented_key(&headers), Some("sk-abc"));
        headers.insert("authorization", HeaderValue::from_static("Bearer "));
        assert_eq!(presented_key(&headers), None);
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-provider"),
        );
        headers.insert(
            "x-litellm-api-key",
            HeaderValue::from_static("Bearer sk-virtual"),
        );
        assert_eq!(presented_key(&headers), Some("sk-virtual"));
        headers.insert("x-litellm-api-key", HeaderValue::from_static("sk-plain"));
        assert_eq!(presented_key(&headers), Some("sk-plain"));
    }
}
