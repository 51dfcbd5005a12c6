//! What a new row joins (a live team, a user) held (`FOR SHARE`) until the caller's transaction
//! ends, so it cannot be deleted before the row that names it is in.

use sqlx::PgConnection;

/// Holds the team; `false` when there is no live team `team_id`.
pub async fn live_team(connection: &mut PgConnection, team_id: &str) -> Result<bool, sqlx::Error> {
    held(
        connection,
        "SELECT 1 FROM teams WHERE team_id = $1 AND deleted_at IS NULL FOR SHARE",
        team_id,
    )
    .await
}

/// Holds the user; `false` when there is no user `user_id`.
pub async fn user(connection: &mut PgConnection, user_id: &str) -> Result<bool, sqlx::Error> {
    held(
        connection,
        "SELECT 1 FROM console_users WHERE user_id = $1 FOR SHARE",
        user_id,
    )
    .await
}

async fn held(
    connection: &mut PgConnection,
    query: &'static str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<i32> = sqlx::query_scalar(query)
        .bind(key)
        .fetch_optional(connection)
        .await?;
    Ok(row.is_some())
}
