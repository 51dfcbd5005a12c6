//! Authentication and authorization of a data-plane or management request: which key is
//! calling, may it use this model, has it budget left.

use std::sync::Arc;

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::policy::keys::{CachedKey, KeyCache, SpendCounter};

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// `general_settings.master_key`: every model, every management route.
    Master {
        token_hash: Arc<str>,
    },
    Key(Arc<CachedKey>),
}

impl Caller {
    pub fn token_hash(&self) -> &Arc<str> {
        match self {
            Caller::Master { token_hash } => token_hash,
            Caller::Key(key) => &key.token_hash,
        }
    }

    pub fn is_master(&self) -> bool {
        matches!(self, Caller::Master { .. })
    }

    pub fn may_use(&self, model: &str) -> bool {
        match self {
            Caller::Master { .. } => true,
            Caller::Key(key) => key.may_use(model),
        }
    }

    pub fn spend(&self) -> Option<Arc<SpendCounter>> {
        match self {
            Caller::Master { .. } => None,
            Caller::Key(key) => Some(key.spend.clone()),
        }
    }

    /// The share of its budget the key has spent (0 upwards); `None` without a budget.
    pub fn budget_used(&self) -> Option<f64> {
        let Caller::Key(key) = self else {
            return None;
        };
        key.max_budget_micros
            .map(|budget| key.spend.current() as f64 / budget.max(1) as f64)
    }

    /// The request class the key pins, and the key's tags.
    pub fn class_hints(&self) -> (Option<&str>, &[String]) {
        match self {
            Caller::Master { .. } => (None, &[]),
            Caller::Key(key) => (key.request_class.as_deref(), &key.tags),
        }
    }

    /// Refuses a key whose spend has reached its budget.
    pub fn check_budget(&self) -> Result<(), ApiError> {
        let Caller::Key(key) = self else {
            return Ok(());
        };
        match key.max_budget_micros {
            Some(budget) if key.spend.current() >= budget => Err(ApiError::BudgetExceeded {
                spend_micros: key.spend.current(),
                budget_micros: budget,
            }),
            _ => Ok(()),
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
    pub fn new(secret: &str) -> Self {
        let hash = app::secrets::hash_key_bytes(secret);
        MasterKey {
            hash,
            token_hash: Arc::from(hex::encode(hash).as_str()),
        }
    }
}

/// The bearer token of a request: `Authorization: Bearer …`, else `x-api-key` or `api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
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

/// Who is calling: the master key or a live (unrevoked, unexpired) virtual key.
pub async fn authenticate(
    keys: &KeyCache,
    master: Option<&MasterKey>,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let secret = presented_key(headers).ok_or(ApiError::MissingKey)?;
    let hash = app::secrets::hash_key_bytes(secret);
    if let Some(master) = master {
        if bool::from(master.hash.ct_eq(&hash)) {
            return Ok(Caller::Master {
                token_hash: master.token_hash.clone(),
            });
        }
    }
    let key = keys.lookup(&hash).await?.ok_or(ApiError::InvalidKey)?;
    if key
        .expires_at
        .is_some_and(|expiry| expiry <= OffsetDateTime::now_utc())
    {
        return Err(ApiError::ExpiredKey);
    }
    Ok(Caller::Key(key))
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
    }
}
