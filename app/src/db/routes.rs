//! The stored route policy: one document of overrides of config.yaml's routing, changed on
//! the Routes page under a row lock so two admins' edits never overwrite each other.

use sqlx::types::Json;
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::route_policy::RouteOverrides;

#[derive(Debug, Clone)]
pub struct StoredRoutePolicy {
    pub overrides: RouteOverrides,
    pub updated_by: String,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutePolicyError {
    #[error("the stored route policy is not readable: {0}")]
    Unreadable(serde_json::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct Row {
    overrides: Json<serde_json::Value>,
    updated_by: String,
    updated_at: OffsetDateTime,
}

impl Row {
    fn policy(self) -> Result<StoredRoutePolicy, RoutePolicyError> {
        Ok(StoredRoutePolicy {
            overrides: serde_json::from_value(self.overrides.0)
                .map_err(RoutePolicyError::Unreadable)?,
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        })
    }
}

/// The stored policy; `None` when the console never changed the routing (or reset it).
pub async fn load(pool: &PgPool) -> Result<Option<StoredRoutePolicy>, RoutePolicyError> {
    let row: Option<Row> =
        sqlx::query_as("SELECT overrides, updated_by, updated_at FROM route_policy")
            .fetch_optional(pool)
            .await?;
    row.map(Row::policy).transpose()
}

/// Changes the stored overrides: `edit` gets the current ones and returns the new ones, or why
/// not (then nothing is stored). Concurrent edits run one after the other.
pub async fn update<E>(
    pool: &PgPool,
    by: &str,
    edit: impl FnOnce(RouteOverrides) -> Result<RouteOverrides, E>,
) -> Result<Result<RouteOverrides, E>, RoutePolicyError> {
    let mut transaction = pool.begin().await?;
    sqlx::query("INSERT INTO route_policy (updated_by) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(by)
        .execute(&mut *transaction)
        .await?;
    let row: Row =
        sqlx::query_as("SELECT overrides, updated_by, updated_at FROM route_policy FOR UPDATE")
            .fetch_one(&mut *transaction)
            .await?;
    let edited = match edit(row.policy()?.overrides) {
        Ok(edited) => edited,
        Err(refused) => return Ok(Err(refused)),
    };
    let document = serde_json::to_value(&edited).map_err(RoutePolicyError::Unreadable)?;
    sqlx::query("UPDATE route_policy SET overrides = $1, updated_by = $2, updated_at = now()")
        .bind(Json(document))
        .bind(by)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(Ok(edited))
}

/// Drops every console change: config.yaml's routing applies again. Whether there were any.
pub async fn reset(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM route_policy")
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() > 0)
}
