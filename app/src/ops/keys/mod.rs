//! Virtual keys: generate, read, list, change, block, revoke and regenerate. Admins manage
//! every key; a team admin manages its team's keys (within what the team has, and never a key
//! of a user who outranks it) and takes a key it changes into its own scope; a key reads
//! itself, a user its own keys.

pub mod model_budgets;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::db::key_lists::{self, KeyListFilter};
use crate::db::key_secrets;
use crate::db::keys::{self, CreateKeyError, KeyChange, KeyRow, KeySpec};
use crate::db::users::{self, UserRow};
use crate::db::{members, INVALID_VALUE_MESSAGE};
use crate::model::identity::metadata_object;
use crate::model::invalid::{Invalid, Problem};
use crate::model::route_groups::check_allowed_routes;
use crate::model::views::KeyDetails;
use crate::model::{parse_duration_seconds, KeyStatus};
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::limit_fields::LimitFields;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::team_scope::{check_within_team, AskedOfTeam};
use crate::ops::{rfc3339, Actor, Catalog, OpsError};
use model_budgets::model_budgets;

/// `/key/generate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewKey {
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub team_id: Option<String>,
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub limits: LimitFields,
    /// How long until the key expires (`30d`); none: never.
    pub duration: Option<String>,
    pub key_alias: Option<String>,
    pub metadata: Option<Value>,
    /// A caller-chosen secret (`sk-…`).
    pub key: Option<String>,
    pub project_id: Option<String>,
    pub model_max_budget: Option<Value>,
    pub allowed_routes: Option<Vec<String>>,
}

/// `/key/update`: the fields given change. A budget field given replaces the key's budget (the
/// others kept as they were).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyUpdate {
    /// The key: its secret or its token.
    pub key: String,
    pub key_alias: Option<String>,
    pub models: Option<Vec<String>>,
    pub metadata: Option<Value>,
    pub blocked: Option<bool>,
    /// The key expires this long from now.
    pub duration: Option<String>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    #[serde(flatten)]
    pub limits: LimitFields,
    pub model_max_budget: Option<Value>,
    pub allowed_routes: Option<Vec<String>>,
    /// Anything else given: refused when it names a field that cannot change.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `/key/list`'s filters and page (from 1).
#[derive(Debug, Clone, Default)]
pub struct KeyListQuery {
    pub team_id: Option<String>,
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    pub page: Option<i64>,
    pub size: Option<i64>,
}

/// One page of keys, newest first.
pub struct KeyPage {
    pub keys: Vec<KeyDetails>,
    pub total: i64,
    pub page: i64,
    pub size: i64,
}

/// A key with its secret, shown once.
pub struct IssuedKey {
    pub secret: String,
    pub details: KeyDetails,
}

/// Keys revoked: as the caller named them, and their tokens.
pub struct RevokedKeys {
    pub named: Vec<String>,
    pub tokens: Vec<String>,
}

/// Largest page of `/key/list`.
pub const MAX_PAGE_SIZE: i64 = 100;

pub fn view(row: &KeyRow) -> KeyDetails {
    let status = row.status(OffsetDateTime::now_utc());
    KeyDetails {
        token: row.token_hash.clone(),
        key_name: row.key_name.clone(),
        key_alias: row.key_alias.clone(),
        models: row.models.clone(),
        budget: budget_view(&row.budget),
        expires: row.expires_at.map(rfc3339),
        metadata: row.metadata.clone(),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        status: status.label().to_string(),
        blocked: row.blocked || status != KeyStatus::Active,
        rpm_limit: row.rpm_limit,
        tpm_limit: row.tpm_limit,
        max_parallel_requests: row.max_parallel_requests,
        model_rpm_limit: row.model_rpm_limit.clone(),
        model_tpm_limit: row.model_tpm_limit.clone(),
        user_id: row.user_id.clone(),
        team_id: row.team_id.clone(),
        project_id: row.project_id.clone(),
        model_max_budget: row.model_max_budget.clone(),
        allowed_routes: row.allowed_routes.clone(),
    }
}

fn refused(error: CreateKeyError) -> OpsError {
    let conflict = |message: &str, param| OpsError::Conflict {
        message: message.to_string(),
        param,
    };
    match error {
        CreateKeyError::BadCustomKey | CreateKeyError::Duplicate => {
            conflict(&error.to_string(), None)
        }
        CreateKeyError::UnknownTeam => conflict("`team_id` names no live team.", Some("team_id")),
        CreateKeyError::UnknownUser => conflict("`user_id` names no user.", Some("user_id")),
        CreateKeyError::UnknownProject => {
            conflict("`project_id` names no project.", Some("project_id"))
        }
        CreateKeyError::ProjectOutsideTeam => conflict(
            "`project_id` names a project of another team than the key's `team_id`.",
            Some("project_id"),
        ),
        CreateKeyError::Database(ref database) if crate::db::is_invalid_value(database) => {
            conflict(INVALID_VALUE_MESSAGE, None)
        }
        CreateKeyError::Database(database) => OpsError::Database(database),
        CreateKeyError::Random(error) => OpsError::Internal(error.to_string()),
    }
}

/// A duration field (`30s`, `1h`, `30d`) in seconds.
fn seconds(text: Option<&str>, field: &'static str) -> Result<Option<i64>, Invalid> {
    text.map(parse_duration_seconds)
        .transpose()
        .map_err(|message| Invalid::field(field, Problem::Value(message.to_string())))
}

/// Refuses a `metadata.request_class` that names no request class: every request of the key
/// would fail.
fn check_request_class(catalog: &dyn Catalog, metadata: &Value) -> Result<(), Invalid> {
    let field = "metadata.request_class";
    match metadata.get("request_class") {
        None => Ok(()),
        Some(Value::String(name)) if catalog.is_request_class(name) => Ok(()),
        Some(Value::String(name)) => Err(Invalid::field(
            field,
            Problem::Value(format!("`{name}` is not a request class.")),
        )),
        Some(_) => Err(Invalid::field(field, Problem::NotString)),
    }
}

fn allowed_routes(value: Option<Vec<String>>) -> Result<Option<Vec<String>>, Invalid> {
    if let Some(entries) = &value {
        check_allowed_routes(entries)?;
    }
    Ok(value)
}

pub async fn generate(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    input: NewKey,
) -> Result<IssuedKey, OpsError> {
    let budget = input.budget.limits()?;
    let limits = input.limits.rate_limits()?;
    if !actor.is_admin() {
        let team_id = input.team_id.as_deref().ok_or_else(|| {
            OpsError::Forbidden(
                "Only an admin creates keys outside a team; pass the `team_id` you administer."
                    .into(),
            )
        })?;
        actor.require_manages_team(team_id, "create keys in this team")?;
        let asked = AskedOfTeam {
            models: Some(&input.models),
            max_budget_micros: budget.max_micros,
            limits: &limits,
        };
        check_within_team(pool, catalog, team_id, &asked).await?;
        if let Some(user_id) = &input.user_id {
            if members::find(pool, team_id, user_id).await?.is_none() {
                return Err(OpsError::Forbidden(format!(
                    "A team admin creates keys only for members of the team; `{user_id}` is not one."
                )));
            }
            let user = users::find(pool, user_id).await?;
            actor.require_outranks(user.as_ref().and_then(UserRow::role), user_id)?;
        }
    }
    let metadata = metadata_object(input.metadata)?.unwrap_or_else(|| json!({}));
    check_request_class(catalog, &metadata)?;
    let spec = KeySpec {
        secret: input.key,
        key_alias: input.key_alias,
        models: input.models,
        budget,
        duration_seconds: seconds(input.duration.as_deref(), "duration")?,
        metadata,
        team_id: input.team_id,
        user_id: input.user_id,
        limits,
        model_rpm_limit: input.limits.model_rpm_limit()?.unwrap_or_else(|| json!({})),
        model_tpm_limit: input.limits.model_tpm_limit()?.unwrap_or_else(|| json!({})),
        project_id: input.project_id,
        model_budgets: model_budgets(input.model_max_budget)?.unwrap_or_default(),
        allowed_routes: allowed_routes(input.allowed_routes)?.unwrap_or_default(),
        created_by: actor.name.clone(),
        role_ceiling: actor.minted_role_ceiling(),
    };
    let mut transaction = pool.begin().await?;
    let issued = create_in(&mut transaction, actor, spec).await?;
    transaction.commit().await?;
    Ok(issued)
}

/// Creates a key in the caller's transaction with its audit entry (a new user's key, say).
pub async fn create_in(
    connection: &mut PgConnection,
    actor: &Actor,
    spec: KeySpec,
) -> Result<IssuedKey, OpsError> {
    let (secret, row) = keys::create(&mut *connection, spec)
        .await
        .map_err(refused)?;
    let details = view(&row);
    record(
        connection,
        actor,
        Change {
            action: "key.generate",
            target_type: "key",
            target_id: &row.token_hash,
            before: None,
            after: snapshot(&details),
        },
    )
    .await?;
    Ok(IssuedKey { secret, details })
}

/// The token of a key named by a secret (current or rotated out) or by its token.
pub async fn resolve(pool: &PgPool, given: &str) -> Result<String, OpsError> {
    let hash = crate::secrets::token_hash_of(given);
    Ok(key_secrets::resolve_token(pool, &hash)
        .await?
        .unwrap_or(hash))
}

/// A key's details: for roles that read everything, the key itself, its user and the admins of
/// its team. Whether another key exists is not told to a caller who may not read it.
pub async fn info(pool: &PgPool, actor: &Actor, given: &str) -> Result<KeyDetails, OpsError> {
    let token_hash = resolve(pool, given).await?;
    let row = keys::find(pool, &token_hash)
        .await?
        .filter(|row| row.revoked_at.is_none());
    let may_not_read = || OpsError::Forbidden("Your role may not read this key.".into());
    match row {
        Some(row) if actor.sees_key(&row) => Ok(view(&row)),
        Some(_) => Err(may_not_read()),
        None if actor.reads_everything() => Err(OpsError::NotFound("Key not found.".into())),
        None => Err(may_not_read()),
    }
}

/// Keys that are not revoked, newest first: all of them for roles that read everything, else
/// those of the teams the caller administers and its own.
pub async fn list(pool: &PgPool, actor: &Actor, query: KeyListQuery) -> Result<KeyPage, OpsError> {
    let admin_teams: Vec<String> = actor.admin_of.iter().cloned().collect();
    let visibility = actor
        .key_visibility(&admin_teams)
        .ok_or_else(|| OpsError::Forbidden("A key without a user may not list keys.".into()))?;
    let page = query.page.unwrap_or(1);
    let size = query.size.unwrap_or(10);
    if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(OpsError::conflict(
            format!("`page` starts at 1 and `size` is 1 to {MAX_PAGE_SIZE}."),
            "size",
        ));
    }
    let filter = KeyListFilter {
        team_id: query.team_id.as_deref(),
        key_alias: query.key_alias.as_deref(),
        user_id: query.user_id.as_deref(),
        visibility,
    };
    let (rows, total) = key_lists::list_page(pool, filter, page, size).await?;
    Ok(KeyPage {
        keys: rows.iter().map(view).collect(),
        total,
        page,
        size,
    })
}

/// The live key named by `given`, locked for the change and read in its transaction; refused
/// unless the caller may change it.
async fn managed_key(
    connection: &mut PgConnection,
    pool: &PgPool,
    actor: &Actor,
    given: &str,
    what: &str,
) -> Result<KeyRow, OpsError> {
    let token_hash = resolve(pool, given).await?;
    keys::lock(&mut *connection, &token_hash).await?;
    let current = keys::find(&mut *connection, &token_hash)
        .await?
        .filter(|row| row.revoked_at.is_none())
        .ok_or_else(|| OpsError::NotFound("Key not found.".into()))?;
    actor.require_manages_key(&current, what)?;
    Ok(current)
}

/// A team admin who changes or regenerates a key takes it into its own scope: its role ceiling
/// is lowered to the admin's (and so it acts within its team only), so its secret or settings
/// never carry what the key's user may do in other teams.
async fn take_into_scope(
    connection: &mut PgConnection,
    actor: &Actor,
    key: &KeyRow,
) -> Result<(), OpsError> {
    if let Some(ceiling) = actor.minted_role_ceiling() {
        keys::cap_role_ceiling(connection, &key.token_hash, ceiling).await?;
    }
    Ok(())
}

pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    catalog: &dyn Catalog,
    input: KeyUpdate,
) -> Result<KeyDetails, OpsError> {
    if let Some(field) = ["team_id", "project_id"].into_iter().find(|field| {
        input
            .other
            .get(*field)
            .is_some_and(|value| !value.is_null())
    }) {
        return Err(OpsError::conflict(
            format!("A key's `{field}` cannot change; create a key there instead."),
            field,
        ));
    }
    let mut transaction = pool.begin().await?;
    let current = managed_key(&mut transaction, pool, actor, &input.key, "change this key").await?;
    take_into_scope(&mut transaction, actor, &current).await?;
    let metadata = metadata_object(input.metadata)?;
    if let Some(metadata) = &metadata {
        check_request_class(catalog, metadata)?;
    }
    let limits = input.limits.rate_limits()?;
    if let (false, Some(team_id)) = (actor.is_admin(), current.team_id.as_deref()) {
        let asked = AskedOfTeam {
            models: input.models.as_deref(),
            max_budget_micros: BudgetFields {
                max_budget: input.budget.max_budget,
                ..BudgetFields::default()
            }
            .limits()?
            .max_micros,
            limits: &limits,
        };
        check_within_team(pool, catalog, team_id, &asked).await?;
    }
    let budget = input.budget.update_of(&current.budget)?;
    let change = KeyChange {
        key_alias: input.key_alias,
        models: input.models,
        metadata,
        blocked: input.blocked,
        duration_seconds: seconds(input.duration.as_deref(), "duration")?,
        budget,
        limits,
        model_rpm_limit: input.limits.model_rpm_limit()?,
        model_tpm_limit: input.limits.model_tpm_limit()?,
        model_budgets: model_budgets(input.model_max_budget)?,
        allowed_routes: allowed_routes(input.allowed_routes)?,
    };
    let row = keys::update(&mut transaction, &current.token_hash, change)
        .await
        .map_err(refused)?
        .ok_or_else(|| OpsError::NotFound("Key not found.".into()))?;
    let details = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "key.update",
            target_type: "key",
            target_id: &row.token_hash,
            before: snapshot(&view(&current)),
            after: snapshot(&details),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(details)
}

/// Blocks a key (refused everywhere within a second, until unblocked) or unblocks it.
pub async fn set_blocked(
    pool: &PgPool,
    actor: &Actor,
    given: &str,
    blocked: bool,
) -> Result<KeyDetails, OpsError> {
    let mut transaction = pool.begin().await?;
    let current = managed_key(
        &mut transaction,
        pool,
        actor,
        given,
        "block or unblock this key",
    )
    .await?;
    let change = KeyChange {
        blocked: Some(blocked),
        ..KeyChange::default()
    };
    let row = keys::update(&mut transaction, &current.token_hash, change)
        .await
        .map_err(refused)?
        .ok_or_else(|| OpsError::NotFound("Key not found.".into()))?;
    record(
        &mut transaction,
        actor,
        Change {
            action: if blocked { "key.block" } else { "key.unblock" },
            target_type: "key",
            target_id: &row.token_hash,
            before: Some(json!({ "blocked": current.blocked })),
            after: Some(json!({ "blocked": blocked })),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(view(&row))
}

/// Revokes keys named by secret, token or alias: refused at once on the instance that revokes
/// them and within a second elsewhere.
pub async fn delete(
    pool: &PgPool,
    actor: &Actor,
    named: &[String],
    aliases: &[String],
) -> Result<RevokedKeys, OpsError> {
    if named.is_empty() && aliases.is_empty() {
        return Err(OpsError::conflict(
            "Pass `keys` or `key_aliases` to delete.",
            "keys",
        ));
    }
    let mut tokens = Vec::with_capacity(named.len());
    for given in named {
        tokens.push(resolve(pool, given).await?);
    }
    let mut transaction = pool.begin().await?;
    if !actor.is_admin() {
        for token in &tokens {
            if let Some(row) = keys::find(&mut *transaction, token).await? {
                actor.require_manages_key(&row, "delete this key")?;
            }
        }
        for row in key_lists::find_live_by_aliases(&mut transaction, aliases).await? {
            actor.require_manages_key(&row, "delete this key")?;
        }
    }
    let revoked = keys::revoke(&mut transaction, &tokens, aliases).await?;
    if revoked.is_empty() {
        return Err(OpsError::NotFound("None of those keys exist.".into()));
    }
    for key in &revoked {
        record(
            &mut transaction,
            actor,
            Change {
                action: "key.delete",
                target_type: "key",
                target_id: &key.token_hash,
                before: Some(json!({ "key_alias": key.key_alias })),
                after: Some(json!({ "revoked": true })),
            },
        )
        .await?;
    }
    transaction.commit().await?;
    let is_revoked = |token: &str| revoked.iter().any(|key| key.token_hash == token);
    let named = named
        .iter()
        .zip(&tokens)
        .filter(|(_, token)| is_revoked(token))
        .map(|(given, _)| given.clone())
        .chain(
            aliases
                .iter()
                .filter(|alias| {
                    revoked
                        .iter()
                        .any(|key| key.key_alias.as_ref() == Some(*alias))
                })
                .cloned(),
        )
        .collect();
    Ok(RevokedKeys {
        named,
        tokens: revoked.into_iter().map(|key| key.token_hash).collect(),
    })
}

/// Gives a key a new secret, shown once. Its budget, spend, limits and token stay; the old
/// secret works for `grace_period` (`1h`; none: it stops now), then stops everywhere.
pub async fn regenerate(
    pool: &PgPool,
    actor: &Actor,
    given: &str,
    new_key: Option<String>,
    grace_period: Option<&str>,
) -> Result<IssuedKey, OpsError> {
    let grace_seconds = seconds(grace_period, "grace_period")?.unwrap_or(0);
    let mut transaction = pool.begin().await?;
    let current = managed_key(&mut transaction, pool, actor, given, "regenerate this key").await?;
    take_into_scope(&mut transaction, actor, &current).await?;
    let (secret, row) = keys::rotate(
        &mut transaction,
        &current.token_hash,
        grace_seconds,
        new_key,
    )
    .await
    .map_err(refused)?
    .ok_or_else(|| OpsError::NotFound("Key not found.".into()))?;
    record(
        &mut transaction,
        actor,
        Change {
            action: "key.regenerate",
            target_type: "key",
            target_id: &row.token_hash,
            before: None,
            after: Some(json!({ "key_name": row.key_name, "grace_seconds": grace_seconds })),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(IssuedKey {
        secret,
        details: view(&row),
    })
}
