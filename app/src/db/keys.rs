//! Virtual keys: creation, lookup, listing, revocation. Secrets never reach this table, only
//! their SHA-256.

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::db::budget_state::BudgetState;
use crate::db::budgets::{self, BudgetLimits};
use crate::db::error::DbError;
use crate::db::holds;
use crate::db::key_secrets::add_secret;
use crate::db::record::keyed_record;
use crate::model::subject::BudgetSubject;
use crate::model::KeyStatus;
use crate::secrets;

/// Columns selected for a key, in `KeyRow` order, and the tables they come from: the key and its
/// budget (macros so queries stay static strings).
macro_rules! key_columns {
    () => {
        concat!(
            "k.token_hash, k.key_name, k.key_alias, k.models, k.metadata, k.expires_at, \
             k.revoked_at, k.created_by, k.created_at, k.team_id, k.blocked, k.rpm_limit, \
             k.tpm_limit, k.max_parallel_requests, k.model_rpm_limit, k.model_tpm_limit, \
             k.user_id, u.models AS user_models, u.rpm_limit AS user_rpm_limit, \
             u.tpm_limit AS user_tpm_limit, \
             u.max_parallel_requests AS user_max_parallel_requests, \
             kt.organization_id AS team_organization_id, k.project_id, \
             p.models AS project_models, k.model_max_budget, k.allowed_routes, k.role_ceiling, \
             u.role AS user_role, ",
            crate::db::budget_state::budget_columns!()
        )
    };
}
macro_rules! key_tables {
    () => {
        " FROM virtual_keys AS k LEFT JOIN budget_counters AS b ON b.subject = 'key:' || k.token_hash \
         LEFT JOIN console_users AS u ON u.user_id = k.user_id \
         LEFT JOIN teams AS kt ON kt.team_id = k.team_id \
         LEFT JOIN projects AS p ON p.project_id = k.project_id"
    };
}
/// The select of a key row, to which a query adds its `WHERE`.
macro_rules! key_select {
    () => {
        concat!(
            "SELECT ",
            $crate::db::keys::key_columns!(),
            $crate::db::keys::key_tables!()
        )
    };
}
pub(crate) use {key_columns, key_select, key_tables};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub token_hash: String,
    pub key_name: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    #[sqlx(flatten)]
    pub budget: BudgetState,
    pub metadata: serde_json::Value,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub team_id: Option<String>,
    pub blocked: bool,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    /// `{model: requests per minute}`.
    pub model_rpm_limit: serde_json::Value,
    /// `{model: tokens per minute}`.
    pub model_tpm_limit: serde_json::Value,
    /// The user the key belongs to, and that user's models and rate limits (which bind the key
    /// too).
    pub user_id: Option<String>,
    pub user_models: Option<Vec<String>>,
    pub user_rpm_limit: Option<i64>,
    pub user_tpm_limit: Option<i64>,
    pub user_max_parallel_requests: Option<i64>,
    /// The organization of the key's team, whose budget binds the key too.
    pub team_organization_id: Option<String>,
    /// The project the key belongs to, and that project's models (which bind the key too).
    pub project_id: Option<String>,
    pub project_models: Option<Vec<String>>,
    /// `{model: {"budget_limit": dollars, "time_period": text | null}}`.
    pub model_max_budget: serde_json::Value,
    /// The routes the key may call (empty: every route).
    pub allowed_routes: Vec<String>,
    /// The most the key may do (`Role` text; `None`: minted by an admin, no cap).
    pub role_ceiling: Option<String>,
    /// Its user's global role (`Role` text).
    pub user_role: Option<String>,
}

/// Rate limits of a key or a team (LiteLLM's fields); `None`: no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
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
    pub user_id: Option<String>,
    pub limits: RateLimits,
    /// `{model: requests per minute}` and `{model: tokens per minute}`.
    pub model_rpm_limit: serde_json::Value,
    pub model_tpm_limit: serde_json::Value,
    pub project_id: Option<String>,
    pub model_budgets: ModelBudgets,
    pub allowed_routes: Vec<String>,
    pub created_by: String,
    /// The minter's role when it was not an admin: the key never acts with more.
    pub role_ceiling: Option<crate::model::Role>,
}

/// A key's per-model budgets (`model_max_budget`): as given, and each model's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBudgets {
    pub declared: serde_json::Value,
    pub limits: Vec<(String, BudgetLimits)>,
}

impl Default for ModelBudgets {
    /// No per-model budget.
    fn default() -> Self {
        ModelBudgets {
            declared: serde_json::json!({}),
            limits: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    #[error("a custom key must start with `sk-` and be at least 20 characters long")]
    BadCustomKey,
    #[error("a key with that alias or secret already exists")]
    Duplicate,
    #[error("no team with that team_id exists")]
    UnknownTeam,
    #[error("no user with that user_id exists")]
    UnknownUser,
    #[error("no project with that project_id exists")]
    UnknownProject,
    #[error("the project belongs to another team than the key")]
    ProjectOutsideTeam,
    #[error("could not generate a random key")]
    Random(#[from] getrandom::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for CreateKeyError {
    /// The database's refusals as `DbError` reads them; the one reference a key's insert
    /// checks by constraint is its team.
    fn from(error: sqlx::Error) -> Self {
        match DbError::from(error) {
            DbError::Duplicate => CreateKeyError::Duplicate,
            DbError::UnknownReference | DbError::InUse => CreateKeyError::UnknownTeam,
            DbError::Database(error) => CreateKeyError::Database(error),
        }
    }
}

keyed_record! {
    row: KeyRow,
    select: concat!(key_select!(), " WHERE k.token_hash = $1"),
    lock: "SELECT 1 FROM virtual_keys WHERE token_hash = $1 FOR UPDATE",
}

/// Creates a key in the caller's transaction and returns its secret (to show once) with the
/// stored row.
pub async fn create(
    connection: &mut PgConnection,
    spec: KeySpec,
) -> Result<(String, KeyRow), CreateKeyError> {
    let (secret, token_hash) = new_key_secret(spec.secret)?;
    let expires_at = spec
        .duration_seconds
        .map(|seconds| OffsetDateTime::now_utc() + time::Duration::seconds(seconds));
    if let Some(team_id) = &spec.team_id {
        if !holds::live_team(&mut *connection, team_id).await? {
            return Err(CreateKeyError::UnknownTeam);
        }
    }
    if let Some(user_id) = &spec.user_id {
        if !holds::user(&mut *connection, user_id).await? {
            return Err(CreateKeyError::UnknownUser);
        }
    }
    if let Some(project_id) = &spec.project_id {
        // Locked so the project cannot be deleted before its new key is in.
        let project_team: Option<Option<String>> =
            sqlx::query_scalar("SELECT team_id FROM projects WHERE project_id = $1 FOR SHARE")
                .bind(project_id)
                .fetch_optional(&mut *connection)
                .await?;
        match project_team {
            None => return Err(CreateKeyError::UnknownProject),
            Some(Some(team_id)) if spec.team_id.as_ref() != Some(&team_id) => {
                return Err(CreateKeyError::ProjectOutsideTeam)
            }
            Some(_) => {}
        }
    }
    sqlx::query(
        "INSERT INTO virtual_keys (token_hash, key_name, key_alias, models, metadata, expires_at, \
         created_by, team_id, rpm_limit, tpm_limit, max_parallel_requests, model_rpm_limit, \
         model_tpm_limit, user_id, project_id, model_max_budget, allowed_routes, role_ceiling) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&token_hash)
    .bind(secrets::display_name(&secret))
    .bind(spec.key_alias.filter(|alias| !alias.is_empty()))
    .bind(&spec.models)
    .bind(&spec.metadata)
    .bind(expires_at)
    .bind(&spec.created_by)
    .bind(&spec.team_id)
    .bind(spec.limits.rpm_limit)
    .bind(spec.limits.tpm_limit)
    .bind(spec.limits.max_parallel_requests)
    .bind(&spec.model_rpm_limit)
    .bind(&spec.model_tpm_limit)
    .bind(&spec.user_id)
    .bind(&spec.project_id)
    .bind(&spec.model_budgets.declared)
    .bind(&spec.allowed_routes)
    .bind(spec.role_ceiling.map(crate::model::Role::as_str))
    .execute(&mut *connection)
    .await?;
    add_secret(&mut *connection, &token_hash, &token_hash, &secret).await?;
    budgets::set_limits(
        &mut *connection,
        &BudgetSubject::key(&token_hash).to_string(),
        &spec.budget,
    )
    .await?;
    set_model_budgets(&mut *connection, &token_hash, &[], &spec.model_budgets).await?;
    let row = find(&mut *connection, &token_hash)
        .await?
        .ok_or(CreateKeyError::Database(sqlx::Error::RowNotFound))?;
    Ok((secret, row))
}

/// Lowers a key's role ceiling to `ceiling` (never raises it): a team admin who changes or
/// rotates a key takes it into its own scope, so it never gains what the key's user could do
/// elsewhere. The key's row is locked (`lock`) by the caller's transaction.
pub async fn cap_role_ceiling(
    connection: &mut PgConnection,
    token_hash: &str,
    ceiling: crate::model::Role,
) -> Result<(), sqlx::Error> {
    use crate::model::Role;
    let current: Option<Option<String>> =
        sqlx::query_scalar("SELECT role_ceiling FROM virtual_keys WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *connection)
            .await?;
    let Some(current) = current else {
        return Ok(());
    };
    let capped = match current
        .as_deref()
        .map(|text| Role::parse(text).unwrap_or(Role::TeamAdmin))
    {
        None => ceiling,
        Some(existing) => existing.capped_at(ceiling),
    };
    if current.as_deref() != Some(capped.as_str()) {
        sqlx::query("UPDATE virtual_keys SET role_ceiling = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(capped.as_str())
            .execute(connection)
            .await?;
    }
    Ok(())
}

/// Gives a key a new secret (the caller's, or a generated one); its other secrets keep working
/// for `grace_seconds` (0: they stop now). Returns the new secret, or `None` when the key is
/// revoked or unknown.
pub async fn rotate(
    connection: &mut PgConnection,
    token_hash: &str,
    grace_seconds: i64,
    new_secret: Option<String>,
) -> Result<Option<(String, KeyRow)>, CreateKeyError> {
    let (secret, secret_hash) = new_key_secret(new_secret)?;
    let live: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM virtual_keys WHERE token_hash = $1 AND revoked_at IS NULL FOR UPDATE",
    )
    .bind(token_hash)
    .fetch_optional(&mut *connection)
    .await?;
    if live.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE key_secrets SET valid_until = LEAST(COALESCE(valid_until, 'infinity'), \
           now() + make_interval(secs => $2)) \
         WHERE token_hash = $1",
    )
    .bind(token_hash)
    .bind(grace_seconds as f64)
    .execute(&mut *connection)
    .await?;
    add_secret(&mut *connection, &secret_hash, token_hash, &secret).await?;
    sqlx::query("UPDATE virtual_keys SET key_name = $2 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(secrets::display_name(&secret))
        .execute(&mut *connection)
        .await?;
    let row = find(&mut *connection, token_hash)
        .await?
        .ok_or(CreateKeyError::Database(sqlx::Error::RowNotFound))?;
    Ok(Some((secret, row)))
}

/// A caller's secret, checked, or a generated one; with its hash.
fn new_key_secret(custom: Option<String>) -> Result<(String, String), CreateKeyError> {
    match custom {
        Some(custom) => {
            if !custom.starts_with("sk-") || custom.len() < 20 {
                return Err(CreateKeyError::BadCustomKey);
            }
            let hash = secrets::hash_key(&custom);
            Ok((custom, hash))
        }
        None => {
            let generated = secrets::generate_virtual_key()?;
            Ok((generated.secret, generated.token_hash))
        }
    }
}

/// What `/key/update` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyChange {
    pub key_alias: Option<String>,
    pub models: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
    pub blocked: Option<bool>,
    /// Seconds from now until the key expires.
    pub duration_seconds: Option<i64>,
    pub budget: Option<BudgetLimits>,
    /// Each limit given replaces the key's.
    pub limits: RateLimits,
    pub model_rpm_limit: Option<serde_json::Value>,
    pub model_tpm_limit: Option<serde_json::Value>,
    pub model_budgets: Option<ModelBudgets>,
    pub allowed_routes: Option<Vec<String>>,
}

/// Sets a key's per-model budgets; models it had before (`previous`) and no longer lists lose
/// their limit (their spend stays on record).
async fn set_model_budgets(
    connection: &mut sqlx::PgConnection,
    token_hash: &str,
    previous: &[String],
    budgets: &ModelBudgets,
) -> Result<(), sqlx::Error> {
    for model in previous {
        if !budgets.limits.iter().any(|(listed, _)| listed == model) {
            let subject = BudgetSubject::key_model(token_hash, model).to_string();
            budgets::set_limits(connection, &subject, &BudgetLimits::default()).await?;
        }
    }
    for (model, limits) in &budgets.limits {
        let subject = BudgetSubject::key_model(token_hash, model).to_string();
        budgets::set_limits(connection, &subject, limits).await?;
    }
    Ok(())
}

/// The models of a stored `model_max_budget`.
fn declared_models(declared: &serde_json::Value) -> Vec<String> {
    declared
        .as_object()
        .map(|models| models.keys().cloned().collect())
        .unwrap_or_default()
}

/// Applies a change to a key that is not revoked; `None` when there is none.
pub async fn update(
    connection: &mut PgConnection,
    token_hash: &str,
    change: KeyChange,
) -> Result<Option<KeyRow>, CreateKeyError> {
    let updated: Option<serde_json::Value> = sqlx::query_scalar(
        "UPDATE virtual_keys SET key_alias = COALESCE($2, key_alias), \
           models = COALESCE($3, models), metadata = COALESCE($4, metadata), \
           blocked = COALESCE($5, blocked), \
           expires_at = COALESCE(now() + make_interval(secs => $6), expires_at), \
           rpm_limit = COALESCE($7, rpm_limit), tpm_limit = COALESCE($8, tpm_limit), \
           max_parallel_requests = COALESCE($9, max_parallel_requests), \
           model_rpm_limit = COALESCE($10, model_rpm_limit), \
           model_tpm_limit = COALESCE($11, model_tpm_limit), \
           model_max_budget = COALESCE($12, model_max_budget), \
           allowed_routes = COALESCE($13, allowed_routes) \
         WHERE token_hash = $1 AND revoked_at IS NULL \
         RETURNING (SELECT old.model_max_budget FROM virtual_keys AS old \
                    WHERE old.token_hash = $1)",
    )
    .bind(token_hash)
    .bind(change.key_alias.filter(|alias| !alias.is_empty()))
    .bind(change.models)
    .bind(change.metadata)
    .bind(change.blocked)
    .bind(change.duration_seconds.map(|seconds| seconds as f64))
    .bind(change.limits.rpm_limit)
    .bind(change.limits.tpm_limit)
    .bind(change.limits.max_parallel_requests)
    .bind(change.model_rpm_limit)
    .bind(change.model_tpm_limit)
    .bind(
        change
            .model_budgets
            .as_ref()
            .map(|budgets| &budgets.declared),
    )
    .bind(change.allowed_routes)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(previous_model_budgets) = updated else {
        return Ok(None);
    };
    if let Some(budget) = &change.budget {
        budgets::set_limits(
            &mut *connection,
            &BudgetSubject::key(token_hash).to_string(),
            budget,
        )
        .await?;
    }
    if let Some(model_budgets) = &change.model_budgets {
        let previous: serde_json::Value = previous_model_budgets;
        set_model_budgets(
            &mut *connection,
            token_hash,
            &declared_models(&previous),
            model_budgets,
        )
        .await?;
    }
    let row = find(&mut *connection, token_hash).await?;
    Ok(row)
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
    connection: &mut PgConnection,
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
    .fetch_all(connection)
    .await
}
