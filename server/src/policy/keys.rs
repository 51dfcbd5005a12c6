//! The in-memory virtual-key cache: every unrevoked key by the SHA-256 of its secret, with its
//! budget in the ledger.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use app::db::budgets::key_subject;
use app::db::keys::{self, KeyRow};
use dashmap::DashMap;
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::policy::budgets::{Budget, Ledger};

/// How long an unknown key is remembered as unknown before the database is asked again.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
const NEGATIVE_CAPACITY: u64 = 100_000;

/// What the data plane knows about a key.
#[derive(Debug)]
pub struct CachedKey {
    pub token_hash: Arc<str>,
    pub models: Vec<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub blocked: bool,
    pub team_id: Option<Arc<str>>,
    /// The key's own budget (unlimited when it has none).
    pub budget: Arc<Budget>,
    /// `metadata.request_class`: the request class every request of the key runs in.
    pub request_class: Option<String>,
    /// `metadata.tags` (LiteLLM keeps a key's tags there).
    pub tags: Vec<String>,
}

impl CachedKey {
    /// LiteLLM semantics: no models listed means every model; `*` too; `prefix*` matches by
    /// prefix.
    pub fn may_use(&self, model: &str) -> bool {
        model_allowed(&self.models, model)
    }
}

/// LiteLLM's model access list: empty, `*` or `all-proxy-models` allow every model; `prefix*`
/// allows by prefix; anything else names a model.
pub fn model_allowed(allowed: &[String], model: &str) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|entry| {
            entry == model
                || entry == "*"
                || entry == "all-proxy-models"
                || entry
                    .strip_suffix('*')
                    .is_some_and(|prefix| model.starts_with(prefix))
        })
}

/// Parses a stored hex hash into the cache's lookup key.
pub fn parse_hash(hex_hash: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut bytes).ok()?;
    Some(bytes)
}

pub struct KeyCache {
    pool: PgPool,
    ledger: Arc<Ledger>,
    entries: DashMap<[u8; 32], Arc<CachedKey>>,
    unknown: moka::sync::Cache<[u8; 32], ()>,
}

impl KeyCache {
    pub fn new(pool: PgPool, ledger: Arc<Ledger>) -> Self {
        KeyCache {
            pool,
            ledger,
            entries: DashMap::new(),
            unknown: moka::sync::Cache::builder()
                .max_capacity(NEGATIVE_CAPACITY)
                .time_to_live(NEGATIVE_TTL)
                .build(),
        }
    }

    /// The key with this secret hash: from memory, or (once, for a key this instance has not
    /// seen) from Postgres.
    pub async fn lookup(&self, hash: &[u8; 32]) -> Result<Option<Arc<CachedKey>>, sqlx::Error> {
        if let Some(entry) = self.entries.get(hash) {
            return Ok(Some(entry.clone()));
        }
        if self.unknown.contains_key(hash) {
            return Ok(None);
        }
        let row = keys::find_by_hash(&self.pool, &hex::encode(hash)).await?;
        match row.filter(|row| row.revoked_at.is_none()) {
            Some(row) => Ok(self.apply(row)),
            None => {
                self.unknown.insert(*hash, ());
                Ok(None)
            }
        }
    }

    /// Reloads one key after a change notification.
    pub async fn refresh(&self, hex_hash: &str) -> Result<(), sqlx::Error> {
        let Some(hash) = parse_hash(hex_hash) else {
            return Ok(());
        };
        self.unknown.invalidate(&hash);
        match keys::find_by_hash(&self.pool, hex_hash).await? {
            Some(row) if row.revoked_at.is_none() => {
                self.apply(row);
            }
            _ => {
                self.entries.remove(&hash);
            }
        }
        Ok(())
    }

    /// Replaces the cache's view with every unrevoked key in Postgres.
    pub async fn reload_all(&self) -> Result<usize, sqlx::Error> {
        let rows = keys::list_unrevoked(&self.pool).await?;
        let mut present = HashSet::with_capacity(rows.len());
        for row in rows {
            if let Some(hash) = parse_hash(&row.token_hash) {
                present.insert(hash);
                self.apply(row);
            }
        }
        self.entries.retain(|hash, _| present.contains(hash));
        Ok(present.len())
    }

    /// Drops a key at once (this instance revoked it).
    pub fn evict(&self, hex_hash: &str) {
        if let Some(hash) = parse_hash(hex_hash) {
            self.entries.remove(&hash);
            self.unknown.insert(hash, ());
        }
    }

    fn apply(&self, row: KeyRow) -> Option<Arc<CachedKey>> {
        let hash = parse_hash(&row.token_hash)?;
        let budget = self.ledger.budget(&key_subject(&row.token_hash));
        let metadata = &row.metadata;
        let entry = Arc::new(CachedKey {
            token_hash: Arc::from(row.token_hash.as_str()),
            models: row.models,
            expires_at: row.expires_at,
            blocked: row.blocked,
            team_id: row.team_id.as_deref().map(Arc::from),
            budget,
            request_class: metadata
                .get("request_class")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            tags: metadata
                .get("tags")
                .and_then(serde_json::Value::as_array)
                .map(|tags| {
                    tags.iter()
                        .filter_map(|tag| tag.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        });
        self.entries.insert(hash, entry.clone());
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(models: &[&str]) -> Vec<String> {
        models.iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn model_access_follows_litellm() {
        assert!(model_allowed(&key(&[]), "anything"));
        assert!(model_allowed(&key(&["gpt-4o"]), "gpt-4o"));
        assert!(!model_allowed(&key(&["gpt-4o"]), "gpt-4o-mini"));
        assert!(model_allowed(&key(&["gpt-4o*"]), "gpt-4o-mini"));
        assert!(model_allowed(&key(&["*"]), "x"));
    }
}
