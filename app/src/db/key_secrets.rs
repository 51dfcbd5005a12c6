//! The secrets that open a key: each stored only as its SHA-256, with how long it still works
//! (a rotated-out secret keeps working for its grace period).

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::secrets;

/// Stores a secret of a key.
pub(crate) async fn add_secret(
    connection: &mut PgConnection,
    secret_hash: &str,
    token_hash: &str,
    secret: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO key_secrets (secret_hash, token_hash, key_name) VALUES ($1, $2, $3)")
        .bind(secret_hash)
        .bind(token_hash)
        .bind(secrets::display_name(secret))
        .execute(connection)
        .await?;
    Ok(())
}

/// A secret that opens a key, and until when (`None`: until the key's secret is rotated).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecretRow {
    pub secret_hash: String,
    pub token_hash: String,
    pub valid_until: Option<OffsetDateTime>,
}

/// The secret with this hash, if it still opens a key that is not revoked.
pub async fn find_secret(
    pool: &PgPool,
    secret_hash: &str,
) -> Result<Option<SecretRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.secret_hash, s.token_hash, s.valid_until FROM key_secrets AS s \
         JOIN virtual_keys AS k USING (token_hash) \
         WHERE s.secret_hash = $1 AND k.revoked_at IS NULL \
           AND (s.valid_until IS NULL OR s.valid_until > now())",
    )
    .bind(secret_hash)
    .fetch_optional(pool)
    .await
}

/// Every secret that still opens a key (of `token_hash` only, when given).
pub async fn live_secrets(
    pool: &PgPool,
    token_hash: Option<&str>,
) -> Result<Vec<SecretRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.secret_hash, s.token_hash, s.valid_until FROM key_secrets AS s \
         JOIN virtual_keys AS k USING (token_hash) \
         WHERE k.revoked_at IS NULL AND (s.valid_until IS NULL OR s.valid_until > now()) \
           AND ($1::text IS NULL OR s.token_hash = $1)",
    )
    .bind(token_hash)
    .fetch_all(pool)
    .await
}

/// The key a caller names by its `token` or by the hash of any of its secrets, current or
/// rotated out.
pub async fn resolve_token(pool: &PgPool, hash: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT token_hash FROM virtual_keys WHERE token_hash = $1 \
         UNION SELECT token_hash FROM key_secrets WHERE secret_hash = $1 LIMIT 1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}
