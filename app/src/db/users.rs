//! Console user accounts.

use sqlx::PgPool;
use uuid::Uuid;

use crate::model::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub role: String,
}

impl UserRow {
    /// The stored role; an unknown value grants nothing.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
}

pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(pool)
        .await
}

pub async fn find_by_email(pool: &PgPool, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, password_hash, role FROM console_users WHERE email = $1")
        .bind(email)
        .fetch_optional(pool)
        .await
}

pub async fn find_by_id(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, password_hash, role FROM console_users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Creates a user unless one with that email exists; returns the new row, or `None`.
pub async fn insert_if_absent(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO console_users (id, email, password_hash, role) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING RETURNING id, email, password_hash, role",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_optional(pool)
    .await
}

/// Creates the first admin, only while there are no users at all (first-run setup). Serialised
/// with an advisory lock so two concurrent setups cannot both succeed.
pub async fn insert_first_admin(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(724_001)")
        .execute(&mut *tx)
        .await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(None);
    }
    let row = sqlx::query_as(
        "INSERT INTO console_users (id, email, password_hash, role) VALUES ($1, $2, $3, 'admin') \
         RETURNING id, email, password_hash, role",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(password_hash)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}
