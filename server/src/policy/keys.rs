//! The in-memory virtual-key cache: every unrevoked key by the SHA-256 of each secret that opens
//! it (two during a rotation's grace period), with its budget in the ledger.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use app::db::key_lists;
use app::db::key_secrets::{self, SecretRow};
use app::db::keys::{self, KeyRow};
use app::model::subject::BudgetSubject;
use app::model::Role;
use dashmap::DashMap;
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::core::access_groups::AccessGroups;
use crate::policy::budgets::{Budget, Ledger};
use crate::policy::limits::ScopeLimits;
use crate::policy::routes::AllowedRoutes;
use app::model::identity;

/// How long an unknown key is remembered as unknown before the database is asked again.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
const NEGATIVE_CAPACITY: u64 = 100_000;

/// What a secret's lookup found.
pub enum Lookup {
    Found(Arc<CachedKey>),
    /// No live key has this secret.
    Unknown,
    /// Not in memory, and the database was not asked (`may_query` refused).
    NotQueried,
}

/// What the data plane knows about a key.
#[derive(Debug)]
pub struct CachedKey {
    pub token_hash: Arc<str>,
    /// Its `key_alias` (the `api_key_alias` of its metrics).
    pub key_alias: Option<Arc<str>>,
    /// Its metadata turns its request logs off (`disable_logging`).
    pub logging_off: bool,
    pub models: Vec<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub blocked: bool,
    pub team_id: Option<Arc<str>>,
    /// The user the key belongs to.
    pub user_id: Option<Arc<str>>,
    /// The models its user may use (empty: every model).
    pub user_models: Vec<String>,
    /// The project the key belongs to.
    pub project_id: Option<Arc<str>>,
    /// The models its project may use (empty: every model).
    pub project_models: Vec<String>,
    /// The budgets the key's requests count against: its own, its user's, its user's within
    /// its team, its project's, its team's, then its team's organization's.
    pub budget_chain: Arc<[Arc<Budget>]>,
    /// Its budget for one model (`model_max_budget`), by model.
    pub model_budgets: HashMap<String, Arc<Budget>>,
    /// The routes it may call.
    pub allowed_routes: AllowedRoutes,
    /// Its own rate limits (scope `key:<token hash>`).
    pub limits: ScopeLimits,
    /// Its user's rate limits (scope `user:<user_id>`), shared by all the user's keys.
    pub user_limits: Option<ScopeLimits>,
    /// Per-model requests and tokens per minute (`model_rpm_limit`, `model_tpm_limit`).
    pub model_limits: HashMap<String, (Option<u64>, Option<u64>)>,
    /// `metadata.request_class`: the request class every request of the key runs in.
    pub request_class: Option<String>,
    /// `metadata.tags` (LiteLLM keeps a key's tags there).
    pub tags: Vec<String>,
    /// The most the key may do on the management API (`None`: minted by an admin, no cap).
    pub role_ceiling: Option<Role>,
}

impl CachedKey {
    /// LiteLLM semantics: no models listed means every model; `*` too; `prefix*` matches by
    /// prefix; an access group's name allows its models.
    pub fn may_use(&self, model: &str, access: &AccessGroups) -> bool {
        model_allowed(&self.models, model, access)
            && model_allowed(&self.user_models, model, access)
            && model_allowed(&self.project_models, model, access)
    }

    /// The key's limits for one model, if it has any (scope `key:<token hash>:model:<model>`).
    pub fn model_limits(&self, model: &str) -> Option<ScopeLimits> {
        let (rpm, tpm) = *self.model_limits.get(model)?;
        Some(ScopeLimits {
            scope: Arc::from(BudgetSubject::key_model(&self.token_hash, model).to_string()),
            rpm,
            tpm,
            parallel: None,
        })
    }
}

/// A limit stored as a signed number: none when absent (or negative, which the schema refuses).
pub fn limit_of(value: Option<i64>) -> Option<u64> {
    value.and_then(|limit| u64::try_from(limit).ok())
}

/// `{model: limit}` from a key's `model_rpm_limit` or `model_tpm_limit`.
fn per_model(value: &serde_json::Value) -> impl Iterator<Item = (&String, u64)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(model, limit)| Some((model, limit.as_u64()?)))
}

/// LiteLLM's model access list: empty, `*` or `all-proxy-models` allow every model; `prefix*`
/// allows by prefix; an access group's name allows the group's models; anything else names a
/// model.
pub fn model_allowed(allowed: &[String], model: &str, access: &AccessGroups) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|entry| {
            entry == model
                || entry == "*"
                || entry == "all-proxy-models"
                || entry
                    .strip_suffix('*')
                    .is_some_and(|prefix| model.starts_with(prefix))
                || access.holds(entry, model)
        })
}

/// Parses a stored hex hash into the cache's lookup key.
pub fn parse_hash(hex_hash: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut bytes).ok()?;
    Some(bytes)
}

/// A secret that opens a key, until `valid_until` when it was rotated out.
#[derive(Debug, Clone)]
struct CachedSecret {
    key: Arc<CachedKey>,
    valid_until: Option<OffsetDateTime>,
}

impl CachedSecret {
    fn is_valid(&self, now: OffsetDateTime) -> bool {
        self.valid_until.is_none_or(|until| until > now)
    }
}

/// Every live secret by its SHA-256, each with the key it opens.
pub struct KeyCache {
    pool: PgPool,
    ledger: Arc<Ledger>,
    entries: DashMap<[u8; 32], CachedSecret>,
    unknown: moka::sync::Cache<[u8; 32], ()>,
    /// Lookups that went to the database.
    misses: std::sync::atomic::AtomicU64,
}

impl KeyCache {
    pub fn new(pool: PgPool, ledger: Arc<Ledger>) -> Self {
        KeyCache {
            pool,
            ledger,
            entries: DashMap::new(),
            misses: Default::default(),
            unknown: moka::sync::Cache::builder()
                .max_capacity(NEGATIVE_CAPACITY)
                .time_to_live(NEGATIVE_TTL)
                .build(),
        }
    }

    /// The key this secret hash opens: from memory, or (once, for a secret this instance has
    /// not seen, and only when `may_query` allows it) from Postgres. A rotated-out secret opens
    /// its key until its grace period ends.
    pub async fn lookup(
        &self,
        hash: &[u8; 32],
        may_query: impl FnOnce() -> bool,
    ) -> Result<Lookup, sqlx::Error> {
        if let Some(entry) = self.entries.get(hash) {
            if entry.is_valid(OffsetDateTime::now_utc()) {
                return Ok(Lookup::Found(entry.key.clone()));
            }
        }
        if self.unknown.contains_key(hash) {
            return Ok(Lookup::Unknown);
        }
        if !may_query() {
            return Ok(Lookup::NotQueried);
        }
        self.misses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(secret) = key_secrets::find_secret(&self.pool, &hex::encode(hash)).await? else {
            self.unknown.insert(*hash, ());
            return Ok(Lookup::Unknown);
        };
        let row = keys::find(&self.pool, &secret.token_hash).await?;
        match row.filter(|row| row.revoked_at.is_none()) {
            Some(row) => {
                let key = self.cached(row);
                self.entries.insert(
                    *hash,
                    CachedSecret {
                        key: key.clone(),
                        valid_until: secret.valid_until,
                    },
                );
                Ok(Lookup::Found(key))
            }
            None => {
                self.unknown.insert(*hash, ());
                Ok(Lookup::Unknown)
            }
        }
    }

    /// Every key held in memory, once each (a key with several secrets is held once per
    /// secret).
    pub fn held(&self) -> Vec<Arc<CachedKey>> {
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .filter(|entry| seen.insert(entry.key.token_hash.clone()))
            .map(|entry| entry.key.clone())
            .collect()
    }

    /// Keys held in memory, and lookups that went to the database so far.
    pub fn stats(&self) -> (usize, u64) {
        (
            self.entries.len(),
            self.misses.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Reloads one key and its secrets after a change notification.
    pub async fn refresh(&self, token_hash: &str) -> Result<(), sqlx::Error> {
        let row = keys::find(&self.pool, token_hash)
            .await?
            .filter(|row| row.revoked_at.is_none());
        let secrets = match &row {
            Some(_) => key_secrets::live_secrets(&self.pool, Some(token_hash)).await?,
            None => Vec::new(),
        };
        self.entries
            .retain(|_, entry| entry.key.token_hash.as_ref() != token_hash);
        if let Some(row) = row {
            let key = self.cached(row);
            self.insert_secrets(&key, &secrets);
        }
        Ok(())
    }

    /// Replaces the cache's view with every unrevoked key and its live secrets in Postgres.
    pub async fn reload_all(&self) -> Result<usize, sqlx::Error> {
        let rows = key_lists::list_unrevoked(&self.pool).await?;
        let secrets = key_secrets::live_secrets(&self.pool, None).await?;
        let count = rows.len();
        let keys: HashMap<String, Arc<CachedKey>> = rows
            .into_iter()
            .map(|row| (row.token_hash.clone(), self.cached(row)))
            .collect();
        let mut present = HashSet::with_capacity(secrets.len());
        for secret in &secrets {
            let (Some(key), Some(hash)) = (
                keys.get(&secret.token_hash),
                parse_hash(&secret.secret_hash),
            ) else {
                continue;
            };
            present.insert(hash);
            self.insert_secret(hash, key, secret);
        }
        self.entries.retain(|hash, _| present.contains(hash));
        Ok(count)
    }

    /// Drops a key at once (this instance revoked it).
    pub fn evict(&self, token_hash: &str) {
        self.entries.retain(|hash, entry| {
            let keep = entry.key.token_hash.as_ref() != token_hash;
            if !keep {
                self.unknown.insert(*hash, ());
            }
            keep
        });
    }

    fn insert_secrets(&self, key: &Arc<CachedKey>, secrets: &[SecretRow]) {
        for secret in secrets {
            if let Some(hash) = parse_hash(&secret.secret_hash) {
                self.insert_secret(hash, key, secret);
            }
        }
    }

    fn insert_secret(&self, hash: [u8; 32], key: &Arc<CachedKey>, secret: &SecretRow) {
        self.unknown.invalidate(&hash);
        self.entries.insert(
            hash,
            CachedSecret {
                key: key.clone(),
                valid_until: secret.valid_until,
            },
        );
    }

    /// The data plane's view of a key row.
    fn cached(&self, row: KeyRow) -> Arc<CachedKey> {
        let mut budget_chain = vec![self
            .ledger
            .budget(&BudgetSubject::key(&row.token_hash).to_string())];
        if let Some(user_id) = &row.user_id {
            budget_chain.push(
                self.ledger
                    .budget(&BudgetSubject::user(user_id).to_string()),
            );
            if let Some(team_id) = &row.team_id {
                budget_chain.push(
                    self.ledger
                        .budget(&BudgetSubject::member(team_id, user_id).to_string()),
                );
            }
        }
        if let Some(project_id) = &row.project_id {
            budget_chain.push(
                self.ledger
                    .budget(&BudgetSubject::project(project_id).to_string()),
            );
        }
        if let Some(team_id) = &row.team_id {
            budget_chain.push(
                self.ledger
                    .budget(&BudgetSubject::team(team_id).to_string()),
            );
        }
        let model_budgets = row
            .model_max_budget
            .as_object()
            .into_iter()
            .flatten()
            .map(|(model, _)| {
                let subject = BudgetSubject::key_model(&row.token_hash, model).to_string();
                (model.clone(), self.ledger.budget(&subject))
            })
            .collect();
        if let Some(organization_id) = &row.team_organization_id {
            budget_chain.push(
                self.ledger
                    .budget(&BudgetSubject::organization(organization_id).to_string()),
            );
        }
        let user_limits = row.user_id.as_deref().map(|user_id| ScopeLimits {
            scope: Arc::from(BudgetSubject::user(user_id).to_string()),
            rpm: limit_of(row.user_rpm_limit),
            tpm: limit_of(row.user_tpm_limit),
            parallel: limit_of(row.user_max_parallel_requests),
        });
        let metadata = &row.metadata;
        let mut model_limits: HashMap<String, (Option<u64>, Option<u64>)> = HashMap::new();
        for (model, rpm) in per_model(&row.model_rpm_limit) {
            model_limits.entry(model.clone()).or_default().0 = Some(rpm);
        }
        for (model, tpm) in per_model(&row.model_tpm_limit) {
            model_limits.entry(model.clone()).or_default().1 = Some(tpm);
        }
        let limits = ScopeLimits {
            scope: Arc::from(BudgetSubject::key(&row.token_hash).to_string()),
            rpm: limit_of(row.rpm_limit),
            tpm: limit_of(row.tpm_limit),
            parallel: limit_of(row.max_parallel_requests),
        };
        // An unreadable ceiling grants nothing beyond a team admin's.
        let role_ceiling = row
            .role_ceiling
            .as_deref()
            .map(|ceiling| Role::parse(ceiling).unwrap_or(Role::TeamAdmin));
        Arc::new(CachedKey {
            role_ceiling,
            token_hash: Arc::from(row.token_hash.as_str()),
            key_alias: row.key_alias.as_deref().map(Arc::from),
            logging_off: crate::core::logging_off::requested_by(&row.metadata),
            models: row.models,
            expires_at: row.expires_at,
            blocked: row.blocked,
            team_id: row.team_id.as_deref().map(Arc::from),
            user_id: row.user_id.as_deref().map(Arc::from),
            user_models: row.user_models.unwrap_or_default(),
            project_id: row.project_id.as_deref().map(Arc::from),
            project_models: row.project_models.unwrap_or_default(),
            budget_chain: budget_chain.into(),
            model_budgets,
            allowed_routes: AllowedRoutes::new(row.allowed_routes),
            limits,
            user_limits: user_limits.filter(|limits| !limits.is_empty()),
            model_limits,
            request_class: metadata
                .get("request_class")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            tags: metadata
                .get("tags")
                .and_then(serde_json::Value::as_array)
                .map(|tags| {
                    // Tags stored before they were bounded are dropped rather than refuse
                    // every request of the key.
                    tags.iter()
                        .filter_map(|tag| identity::tag(tag.as_str()?, "metadata.tags").ok())
                        .take(identity::MAX_TAGS)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
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
        let none = AccessGroups::default();
        assert!(model_allowed(&key(&[]), "anything", &none));
        assert!(model_allowed(&key(&["gpt-4o"]), "gpt-4o", &none));
        assert!(!model_allowed(&key(&["gpt-4o"]), "gpt-4o-mini", &none));
        assert!(model_allowed(&key(&["gpt-4o*"]), "gpt-4o-mini", &none));
        assert!(model_allowed(&key(&["*"]), "x", &none));
    }
}
