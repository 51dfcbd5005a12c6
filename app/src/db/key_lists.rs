//! Reading keys in bulk: `/key/list`'s page for a caller, live keys by alias, every live key
//! (for the gateway's cache) and how many are pinned to a request class.

use sqlx::{PgConnection, PgPool};

use crate::db::keys::{key_select, KeyRow};

/// Which keys of `/key/list` a caller may see: all, or those of some teams and its own.
#[derive(Debug, Clone, Copy)]
pub enum KeyVisibility<'a> {
    All,
    TeamsOrOwn {
        teams: &'a [String],
        user_id: &'a str,
    },
}

/// `/key/list`'s filters.
#[derive(Debug, Clone, Copy)]
pub struct KeyListFilter<'a> {
    pub team_id: Option<&'a str>,
    pub key_alias: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub visibility: KeyVisibility<'a>,
}

/// Keys that are not revoked, newest first, a page at a time (`/key/list`); with the total.
pub async fn list_page(
    pool: &PgPool,
    filter: KeyListFilter<'_>,
    page: i64,
    size: i64,
) -> Result<(Vec<KeyRow>, i64), sqlx::Error> {
    let (teams, owner) = match filter.visibility {
        KeyVisibility::All => (None, None),
        KeyVisibility::TeamsOrOwn { teams, user_id } => (Some(teams), Some(user_id)),
    };
    let query = concat!(
        key_select!(),
        " WHERE k.revoked_at IS NULL AND ($1::text IS NULL OR k.team_id = $1) \
           AND ($2::text IS NULL OR k.key_alias = $2) AND ($3::text IS NULL OR k.user_id = $3) \
           AND ($4::text[] IS NULL OR k.team_id = ANY($4) OR k.user_id = $5) \
         ORDER BY k.created_at DESC, k.token_hash LIMIT $6 OFFSET $7"
    );
    let rows = sqlx::query_as(query)
        .bind(filter.team_id)
        .bind(filter.key_alias)
        .bind(filter.user_id)
        .bind(teams)
        .bind(owner)
        .bind(size)
        .bind((page - 1).max(0).saturating_mul(size))
        .fetch_all(pool)
        .await?;
    let total = sqlx::query_scalar(
        "SELECT count(*) FROM virtual_keys AS k WHERE k.revoked_at IS NULL \
           AND ($1::text IS NULL OR k.team_id = $1) AND ($2::text IS NULL OR k.key_alias = $2) \
           AND ($3::text IS NULL OR k.user_id = $3) \
           AND ($4::text[] IS NULL OR k.team_id = ANY($4) OR k.user_id = $5)",
    )
    .bind(filter.team_id)
    .bind(filter.key_alias)
    .bind(filter.user_id)
    .bind(teams)
    .bind(owner)
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// Live keys with one of these aliases.
pub async fn find_live_by_aliases(
    connection: &mut PgConnection,
    aliases: &[String],
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let query = concat!(
        key_select!(),
        " WHERE k.revoked_at IS NULL AND k.key_alias = ANY($1)"
    );
    sqlx::query_as(query)
        .bind(aliases)
        .fetch_all(connection)
        .await
}

/// Every key that is not revoked (expired keys included: expiry is checked per request).
pub async fn list_unrevoked(pool: &PgPool) -> Result<Vec<KeyRow>, sqlx::Error> {
    let query = concat!(key_select!(), " WHERE k.revoked_at IS NULL");
    sqlx::query_as(query).fetch_all(pool).await
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
