//! The stored route policy: one document of overrides of config.yaml's routing, changed on
//! the Routes page under a row lock, and only from the version the admin was looking at, so
//! two admins' edits never silently undo each other.

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::route_policy::RouteOverrides;

#[derive(Debug, Clone)]
pub struct StoredRoutePolicy {
    pub overrides: RouteOverrides,
    /// Changes with every save (never 0, which stands for "no stored policy").
    pub version: i64,
    pub updated_by: String,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutePolicyError {
    #[error("the stored route policy (version {version}) is not readable: {source}")]
    Unreadable {
        version: i64,
        source: serde_json::Error,
    },
    #[error("the route policy cannot be stored: {0}")]
    Unwritable(serde_json::Error),
    #[error("the routing was changed by {updated_by} since the page was loaded")]
    ChangedMeanwhile { updated_by: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct Row {
    overrides: Json<serde_json::Value>,
    version: i64,
    updated_by: String,
    updated_at: OffsetDateTime,
}

impl Row {
    fn policy(self) -> Result<StoredRoutePolicy, RoutePolicyError> {
        let overrides = serde_json::from_value(self.overrides.0).map_err(|source| {
            RoutePolicyError::Unreadable {
                version: self.version,
                source,
            }
        })?;
        Ok(StoredRoutePolicy {
            overrides,
            version: self.version,
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        })
    }
}

macro_rules! policy_columns {
    () => {
        "overrides, version, updated_by, updated_at"
    };
}

/// The stored policy; `None` when the console never changed the routing (or reset it).
pub async fn load(pool: &PgPool) -> Result<Option<StoredRoutePolicy>, RoutePolicyError> {
    let row: Option<Row> =
        sqlx::query_as(concat!("SELECT ", policy_columns!(), " FROM route_policy"))
            .fetch_optional(pool)
            .await?;
    row.map(Row::policy).transpose()
}

/// Changes the stored overrides in the caller's transaction, provided they are still those of
/// version `seen` (0: none stored): `edit` gets them and returns the new ones, or why not.
/// Answers the overrides before and after; the caller commits only when they differ (an edit
/// that changes nothing stores nothing). Concurrent edits run one after the other. An edit that
/// leaves no override drops the stored policy.
pub async fn update<E>(
    transaction: &mut PgConnection,
    by: &str,
    seen: i64,
    edit: impl FnOnce(RouteOverrides) -> Result<RouteOverrides, E>,
) -> Result<Result<(RouteOverrides, RouteOverrides), E>, RoutePolicyError> {
    let created =
        sqlx::query("INSERT INTO route_policy (updated_by) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(by)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
            == 1;
    let row: Row = sqlx::query_as(concat!(
        "SELECT ",
        policy_columns!(),
        " FROM route_policy FOR UPDATE"
    ))
    .fetch_one(&mut *transaction)
    .await?;
    let current_version = if created { 0 } else { row.version };
    if seen != current_version {
        return Err(RoutePolicyError::ChangedMeanwhile {
            updated_by: row.updated_by,
        });
    }
    let current = row.policy()?.overrides;
    let edited = match edit(current.clone()) {
        Ok(edited) => edited,
        Err(refused) => return Ok(Err(refused)),
    };
    if edited == current {
        // The caller drops the transaction, which undoes the row `created` inserted.
        return Ok(Ok((current, edited)));
    }
    if edited == RouteOverrides::default() {
        sqlx::query("DELETE FROM route_policy")
            .execute(&mut *transaction)
            .await?;
    } else {
        let document = serde_json::to_value(&edited).map_err(RoutePolicyError::Unwritable)?;
        sqlx::query(
            "UPDATE route_policy SET overrides = $1, updated_by = $2, \
             updated_at = clock_timestamp(), version = nextval('route_policy_versions')",
        )
        .bind(Json(document))
        .bind(by)
        .execute(&mut *transaction)
        .await?;
    }
    Ok(Ok((current, edited)))
}

/// Drops every console change, in the caller's transaction: config.yaml's routing applies
/// again. Whether there were any.
pub async fn reset(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM route_policy")
        .execute(connection)
        .await?;
    Ok(deleted.rows_affected() > 0)
}
