//! Users: console accounts and management-API users are one list (LiteLLM's `/user/*`). A user
//! has a role, may log in when it has an email and password, owns keys, and has its own budget
//! (`user:<user_id>`) and rate limits.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::budget_state::{budget_columns, BudgetState};
use crate::db::budgets::BudgetLimits;
use crate::db::error::DbError;
use crate::db::keys::RateLimits;
use crate::db::record::{inserted, keyed_record};
use crate::model::subject::BudgetSubject;
use crate::model::Role;

/// Columns selected for a user, in `UserRow` order, and the tables they come from (macros so
/// queries stay static strings).
macro_rules! user_columns {
    () => {
        concat!(
            "u.id, u.user_id, u.email, u.password_hash, u.role, u.user_alias, u.models, \
             u.metadata, u.rpm_limit, u.tpm_limit, u.max_parallel_requests, u.created_by, \
             u.created_at, u.session_epoch, ",
            budget_columns!()
        )
    };
}
macro_rules! user_tables {
    () => {
        " FROM console_users AS u LEFT JOIN budget_counters AS b ON b.subject = 'user:' || u.user_id"
    };
}
/// The select of a user row, to which a query adds its `WHERE`.
macro_rules! user_select {
    () => {
        concat!("SELECT ", user_columns!(), user_tables!())
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub user_id: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub role: String,
    pub user_alias: Option<String>,
    pub models: Vec<String>,
    pub metadata: serde_json::Value,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    #[sqlx(flatten)]
    pub budget: BudgetState,
    /// Changes with the password: sessions opened in an older epoch are over.
    pub session_epoch: i64,
}

impl UserRow {
    /// The stored role; an unknown value grants nothing.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    /// How the user is named to people: the email, else the user id.
    pub fn label(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.user_id)
    }
}

/// A user's fields as `/user/new` sets them and `/user/update` changes them; `None` is the
/// default on creation and unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub user_alias: Option<String>,
    pub models: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
    pub budget: Option<BudgetLimits>,
    /// Each limit given replaces the user's.
    pub limits: RateLimits,
}

keyed_record! {
    row: UserRow,
    select: concat!(user_select!(), " WHERE u.user_id = $1"),
    lock: "SELECT 1 FROM console_users WHERE user_id = $1 FOR UPDATE",
    budget: BudgetSubject::user,
    delete: "DELETE FROM console_users WHERE user_id = ANY($1) RETURNING user_id",
}

pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(pool)
        .await
}

pub async fn find_by_email(pool: &PgPool, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    let query = concat!(user_select!(), " WHERE u.email = $1");
    sqlx::query_as(query).bind(email).fetch_optional(pool).await
}

pub async fn find_by_id(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    let query = concat!(user_select!(), " WHERE u.id = $1");
    sqlx::query_as(query).bind(id).fetch_optional(pool).await
}

/// Users by user id, a page at a time (`/user/list`: `page` from 1); with the total. A role
/// given lists only users holding it.
pub async fn list_page(
    pool: &PgPool,
    role: Option<Role>,
    page: i64,
    size: i64,
) -> Result<(Vec<UserRow>, i64), sqlx::Error> {
    let role = role.map(Role::as_str);
    let query = concat!(
        user_select!(),
        " WHERE ($1::text IS NULL OR u.role = $1) ORDER BY u.user_id LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query_as(query)
        .bind(role)
        .bind(size)
        .bind((page - 1).max(0).saturating_mul(size))
        .fetch_all(pool)
        .await?;
    let total = sqlx::query_scalar(
        "SELECT count(*) FROM console_users WHERE ($1::text IS NULL OR role = $1)",
    )
    .bind(role)
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// Creates a user, `user_id` or a new UUID, with its budget, in the caller's transaction; its
/// role is `role` unless the fields give another.
pub async fn create(
    connection: &mut PgConnection,
    user_id: Option<String>,
    role: Role,
    fields: UserFields,
    created_by: &str,
) -> Result<UserRow, DbError> {
    let id = Uuid::new_v4();
    let user_id = user_id.unwrap_or_else(|| id.to_string());
    let insert = sqlx::query(
        "INSERT INTO console_users (id, user_id, email, password_hash, role, user_alias, models, \
         metadata, rpm_limit, tpm_limit, max_parallel_requests, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(&user_id)
    .bind(fields.email)
    .bind(fields.password_hash)
    .bind(fields.role.unwrap_or(role).as_str())
    .bind(fields.user_alias)
    .bind(fields.models.unwrap_or_default())
    .bind(fields.metadata.unwrap_or_else(|| serde_json::json!({})))
    .bind(fields.limits.rpm_limit)
    .bind(fields.limits.tpm_limit)
    .bind(fields.limits.max_parallel_requests)
    .bind(created_by);
    inserted(write_with_budget(connection, &user_id, insert, None, fields.budget.as_ref()).await?)
}

/// Applies a change to a user; `None` when there is no such user.
pub async fn update(
    connection: &mut PgConnection,
    user_id: &str,
    change: UserFields,
) -> Result<Option<UserRow>, DbError> {
    let update = sqlx::query(
        "UPDATE console_users SET email = COALESCE($2, email), \
         password_hash = COALESCE($3, password_hash), role = COALESCE($4, role), \
         session_epoch = session_epoch + CASE WHEN $3::text IS NULL THEN 0 ELSE 1 END, \
         user_alias = COALESCE($5, user_alias), models = COALESCE($6, models), \
         metadata = COALESCE($7, metadata), rpm_limit = COALESCE($8, rpm_limit), \
         tpm_limit = COALESCE($9, tpm_limit), \
         max_parallel_requests = COALESCE($10, max_parallel_requests) \
         WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(change.email)
    .bind(change.password_hash)
    .bind(change.role.map(Role::as_str))
    .bind(change.user_alias)
    .bind(change.models)
    .bind(change.metadata)
    .bind(change.limits.rpm_limit)
    .bind(change.limits.tpm_limit)
    .bind(change.limits.max_parallel_requests);
    write_with_budget(connection, user_id, update, None, change.budget.as_ref()).await
}

/// What deleting users did: the users deleted and the keys revoked with them.
#[derive(Debug, Clone, Default)]
pub struct DeletedUsers {
    pub user_ids: Vec<String>,
    pub revoked_keys: Vec<String>,
}

/// Deletes users, revoking their keys and dropping their memberships and budget, in the
/// caller's transaction.
pub async fn delete(
    connection: &mut PgConnection,
    user_ids: &[String],
) -> Result<DeletedUsers, DbError> {
    let revoked_keys: Vec<String> = sqlx::query_scalar(
        "UPDATE virtual_keys SET revoked_at = now() \
         WHERE user_id = ANY($1) AND revoked_at IS NULL RETURNING token_hash",
    )
    .bind(user_ids)
    .fetch_all(&mut *connection)
    .await?;
    Ok(DeletedUsers {
        user_ids: delete_with_budgets(connection, user_ids).await?,
        revoked_keys,
    })
}

/// Creates a user unless one with that email exists; returns the new row, or `None`.
pub async fn insert_if_absent(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<Option<UserRow>, sqlx::Error> {
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO console_users (id, user_id, email, password_hash, role) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id)
    .bind(id.to_string())
    .bind(email)
    .bind(password_hash)
    .bind(role.as_str())
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    find_by_id(pool, id).await
}

/// Creates the first admin, only while there are no users at all (first-run setup). Serialised
/// with an advisory lock so two concurrent setups cannot both succeed.
pub async fn insert_first_admin(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(724001)")
        .execute(&mut *tx)
        .await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(None);
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO console_users (id, user_id, email, password_hash, role) \
         VALUES ($1, $2, $3, $4, 'admin')",
    )
    .bind(id)
    .bind(id.to_string())
    .bind(email)
    .bind(password_hash)
    .execute(&mut *tx)
    .await?;
    let query = concat!(user_select!(), " WHERE u.id = $1");
    let row = sqlx::query_as(query).bind(id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// A user's role in each team it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Membership {
    pub team_id: String,
    pub role: String,
}

/// The live teams a user belongs to, and its role in each.
pub async fn memberships(pool: &PgPool, user_id: &str) -> Result<Vec<Membership>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.team_id, m.role FROM team_members AS m JOIN teams AS t USING (team_id) \
         WHERE m.user_id = $1 AND t.deleted_at IS NULL ORDER BY m.team_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Every membership of every user: (user id, team id, role), for the console's Users page.
pub async fn all_memberships(pool: &PgPool) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.user_id, m.team_id, m.role FROM team_members AS m JOIN teams AS t USING (team_id) \
         WHERE t.deleted_at IS NULL ORDER BY m.user_id, m.team_id",
    )
    .fetch_all(pool)
    .await
}
