//! Virtual keys: creation, lookup, listing, revocation. Secrets never reach this table, only
//! their SHA-256.

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::db::budgets::{self, BudgetLimits};
use crate::model::{KeyStatus, KeyView};
use crate::secrets;

/// Columns selected for a key, in `KeyRow` order, and the tables they come from: the key and its
/// budget (macros so queries stay static strings).
macro_rules! key_columns {
    () => {
        "k.token_hash, k.key_name, k.key_alias, k.models, b.max_micros AS max_budget_micros, \
         COALESCE(b.spend_micros, 0) AS spend_micros, k.metadata, k.expires_at, k.revoked_at, \
         k.created_by, k.created_at, k.team_id, k.blocked, b.duration AS budget_duration, \
         b.resets_at AS budget_reset_at"
    };
}
macro_rules! key_tables {
    () => {
        " FROM virtual_keys AS k LEFT JOIN budget_counters AS b ON b.subject = 'key:' || k.token_hash"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub token_hash: String,
    pub key_name: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub max_budget_micros: Option<i64>,
    pub spend_micros: i64,
    pub metadata: serde_json::Value,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub team_id: Option<String>,
    pub blocked: bool,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<OffsetDateTime>,
}

impl KeyRow {
    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|expiry| expiry <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    pub fn to_view(&self, now: OffsetDateTime) -> KeyView {
        KeyView {
            token_hash: self.token_hash.clone(),
            key_name: self.key_name.clone(),
            key_alias: self.key_alias.clone(),
            models: self.models.clone(),
            spend_micros: self.spend_micros,
            max_budget_micros: self.max_budget_micros,
            created_at: format_time(self.created_at),
            expires_at: self.expires_at.map(format_time),
            status: self.status(now),
        }
    }
}

/// `2026-11-24 18:10 UTC`: the console's timestamp format.
pub fn format_time(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// What a caller asks for when creating a key (LiteLLM `/key/generate` fields).
#[derive(Debug, Clone, Default)]
pub struct KeySpec {
    /// A caller-chosen secret (`sk-…`), or `None` to generate one.
    pub secret: Option<String>,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub budget: BudgetLimits,
    pub duration_seconds: Option<i64>,
    pub metadata: serde_json::Value,
    pub team_id: Option<String>,
    pub created_by: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    #[error("a custom key must start with `sk-` and be at least 20 characters long")]
    BadCustomKey,
    #[error("a key with that alias or secret already exists")]
    Duplicate,
    #[error("no team with that team_id exists")]
    UnknownTeam,
    #[error("could not generate a random key")]
    Random(#[from] getrandom::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for CreateKeyError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => CreateKeyError::Duplicate,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                CreateKeyError::UnknownTeam
            }
            _ => CreateKeyError::Database(error),
        }
    }
}

/// Creates a key and returns its secret (to show once) with the stored row.
pub async fn create(pool: &PgPool, spec: KeySpec) -> Result<(String, KeyRow), CreateKeyError> {
    let (secret, token_hash) = match spec.secret {
        Some(custom) => {
            if !custom.starts_with("sk-") || custom.len() < 20 {
                return Err(CreateKeyError::BadCustomKey);
            }
            let hash = secrets::hash_key(&custom);
            (custom, hash)
        }
        None => {
            let generated = secrets::generate_virtual_key()?;
            (generated.secret, generated.token_hash)
        }
    };
    let expires_at = spec
        .duration_seconds
        .map(|seconds| OffsetDateTime::now_utc() + time::Duration::seconds(seconds));
    let mut transaction = pool.begin().await?;
    if let Some(team_id) = &spec.team_id {
        // Locked so the team cannot be deleted before its new key is in.
        let live_team: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM teams WHERE team_id = $1 AND deleted_at IS NULL FOR SHARE",
        )
        .bind(team_id)
        .fetch_optional(&mut *transaction)
        .await?;
        if live_team.is_none() {
            return Err(CreateKeyError::UnknownTeam);
        }
    }
    sqlx::query(
        "INSERT INTO virtual_keys (token_hash, key_name, key_alias, models, metadata, expires_at, \
         created_by, team_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&token_hash)
    .bind(secrets::display_name(&secret))
    .bind(spec.key_alias.filter(|alias| !alias.is_empty()))
    .bind(&spec.models)
    .bind(&spec.metadata)
    .bind(expires_at)
    .bind(&spec.created_by)
    .bind(&spec.team_id)
    .execute(&mut *transaction)
    .await?;
    budgets::set_limits(
        &mut transaction,
        &budgets::key_subject(&token_hash),
        &spec.budget,
    )
    .await?;
    let query = concat!(
        "SELECT ",
        key_columns!(),
        key_tables!(),
        " WHERE k.token_hash = $1"
    );
    let row = sqlx::query_as::<_, KeyRow>(query)
        .bind(&token_hash)
        .fetch_one(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok((secret, row))
}

/// A key by its hash, whatever its status.
pub async fn find_by_hash(pool: &PgPool, token_hash: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    let query = concat!(
        "SELECT ",
        key_columns!(),
        key_tables!(),
        " WHERE k.token_hash = $1"
    );
    sqlx::query_as(query)
        .bind(token_hash)
        .fetch_optional(pool)
        .await
}

/// Every key that is not revoked (expired keys included: expiry is checked per request).
pub async fn list_unrevoked(pool: &PgPool) -> Result<Vec<KeyRow>, sqlx::Error> {
    let query = concat!(
        "SELECT ",
        key_columns!(),
        key_tables!(),
        " WHERE k.revoked_at IS NULL"
    );
    sqlx::query_as(query).fetch_all(pool).await
}

/// The newest keys first, revoked ones included, for the console.
pub async fn list_recent(pool: &PgPool, limit: i64) -> Result<Vec<KeyRow>, sqlx::Error> {
    let query = concat!(
        "SELECT ",
        key_columns!(),
        key_tables!(),
        " ORDER BY k.created_at DESC, k.token_hash LIMIT $1"
    );
    sqlx::query_as(query).bind(limit).fetch_all(pool).await
}

/// A key that was just revoked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevokedKey {
    pub token_hash: String,
    pub key_alias: Option<String>,
}

/// Revokes keys given by hash or alias; returns those actually revoked. The table trigger
/// notifies every instance.
pub async fn revoke(
    pool: &PgPool,
    token_hashes: &[String],
    aliases: &[String],
) -> Result<Vec<RevokedKey>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE virtual_keys SET revoked_at = now() \
         WHERE revoked_at IS NULL AND (token_hash = ANY($1) OR key_alias = ANY($2)) \
         RETURNING token_hash, key_alias",
    )
    .bind(token_hashes)
    .bind(aliases)
    .fetch_all(pool)
    .await
}

/// How many keys that still work are pinned to a request class (`metadata.request_class`).
pub async fn count_pinned_to_class(pool: &PgPool, class: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM virtual_keys \
         WHERE revoked_at IS NULL AND metadata->>'request_class' = $1",
    )
    .bind(class)
    .fetch_one(pool)
    .await
}
