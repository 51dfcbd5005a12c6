//! The in-memory virtual-key cache: every unrevoked key by the SHA-256 of its secret, with a
//! spend counter that requests charge at once and the spend writer settles against Postgres.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::db::keys::{self, KeyRow};
use app::db::spend::KeySpend;
use dashmap::DashMap;
use sqlx::PgPool;
use time::OffsetDateTime;

/// How long an unknown key is remembered as unknown before the database is asked again.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
const NEGATIVE_CAPACITY: u64 = 100_000;

/// A key's spend: what Postgres holds plus what this instance charged and has not yet written.
#[derive(Debug, Default)]
pub struct SpendCounter {
    persisted: AtomicI64,
    pending: AtomicI64,
}

impl SpendCounter {
    pub fn current(&self) -> i64 {
        self.persisted.load(Ordering::Acquire) + self.pending.load(Ordering::Acquire)
    }

    pub fn add_pending(&self, micros: i64) {
        self.pending.fetch_add(micros, Ordering::AcqRel);
    }

    /// Spend only grows, so a stale read can never lower it.
    fn observe_persisted(&self, micros: i64) {
        self.persisted.fetch_max(micros, Ordering::AcqRel);
    }

    /// A batch carrying `flushed` micro-dollars landed: raise the persisted value first, then
    /// release the pending amount, so the total never dips below the truth.
    fn settle(&self, flushed: i64, persisted: Option<i64>) {
        if let Some(value) = persisted {
            self.observe_persisted(value);
        }
        self.pending.fetch_sub(flushed, Ordering::AcqRel);
    }
}

/// What the data plane knows about a key.
#[derive(Debug)]
pub struct CachedKey {
    pub token_hash: Arc<str>,
    pub models: Vec<String>,
    pub max_budget_micros: Option<i64>,
    pub expires_at: Option<OffsetDateTime>,
    pub spend: Arc<SpendCounter>,
    /// `metadata.request_class`: the request class every request of the key runs in.
    pub request_class: Option<String>,
    /// `metadata.tags` (LiteLLM keeps a key's tags there).
    pub tags: Vec<String>,
}

impl CachedKey {
    /// LiteLLM semantics: no models listed means every model; `*` too; `prefix*` matches by
    /// prefix.
    pub fn may_use(&self, model: &str) -> bool {
        self.models.is_empty()
            || self.models.iter().any(|allowed| {
                allowed == model
                    || allowed == "*"
                    || allowed == "all-proxy-models"
                    || allowed
                        .strip_suffix('*')
                        .is_some_and(|prefix| model.starts_with(prefix))
            })
    }
}

/// Parses a stored hex hash into the cache's lookup key.
pub fn parse_hash(hex_hash: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut bytes).ok()?;
    Some(bytes)
}

pub struct KeyCache {
    pool: PgPool,
    entries: DashMap<[u8; 32], Arc<CachedKey>>,
    unknown: moka::sync::Cache<[u8; 32], ()>,
}

impl KeyCache {
    pub fn new(pool: PgPool) -> Self {
        KeyCache {
            pool,
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

    /// After a spend batch landed: settle each key's counter.
    pub fn settle_flushed(&self, flushed: &HashMap<&str, i64>, persisted: &[KeySpend]) {
        let persisted: HashMap<&str, i64> = persisted
            .iter()
            .map(|spend| (spend.token_hash.as_str(), spend.spend_micros))
            .collect();
        for (hex_hash, micros) in flushed {
            let Some(hash) = parse_hash(hex_hash) else {
                continue;
            };
            if let Some(entry) = self.entries.get(&hash) {
                entry
                    .spend
                    .settle(*micros, persisted.get(hex_hash).copied());
            }
        }
    }

    fn apply(&self, row: KeyRow) -> Option<Arc<CachedKey>> {
        let hash = parse_hash(&row.token_hash)?;
        let spend = self
            .entries
            .get(&hash)
            .map(|existing| existing.spend.clone())
            .unwrap_or_default();
        spend.observe_persisted(row.spend_micros);
        let metadata = &row.metadata;
        let entry = Arc::new(CachedKey {
            token_hash: Arc::from(row.token_hash.as_str()),
            models: row.models,
            max_budget_micros: row.max_budget_micros,
            expires_at: row.expires_at,
            spend,
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

    fn key(models: &[&str]) -> CachedKey {
        CachedKey {
            token_hash: Arc::from("x"),
            models: models.iter().map(|m| m.to_string()).collect(),
            max_budget_micros: None,
            expires_at: None,
            spend: Arc::default(),
            request_class: None,
            tags: Vec::new(),
        }
    }

    #[test]
    fn model_access_follows_litellm() {
        assert!(key(&[]).may_use("anything"));
        assert!(key(&["gpt-4o"]).may_use("gpt-4o"));
        assert!(!key(&["gpt-4o"]).may_use("gpt-4o-mini"));
        assert!(key(&["gpt-4o*"]).may_use("gpt-4o-mini"));
        assert!(key(&["*"]).may_use("x"));
    }

    #[test]
    fn spend_counter_never_dips_when_settling() {
        let counter = SpendCounter::default();
        counter.observe_persisted(100);
        counter.add_pending(30);
        assert_eq!(counter.current(), 130);
        counter.settle(30, Some(130));
        assert_eq!(counter.current(), 130);
        counter.observe_persisted(90);
        assert_eq!(
            counter.current(),
            130,
            "a stale reload must not lower spend"
        );
    }
}
