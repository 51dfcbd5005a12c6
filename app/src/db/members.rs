//! Team membership: which users belong to a team, with which role (`admin` manages the team's
//! keys and members, `user` uses it), and each member's own budget within the team
//! (`member:<team_id>:<user_id>`).

use sqlx::{PgConnection, PgExecutor, PgPool};
use time::OffsetDateTime;

use crate::db::budgets::{self, BudgetLimits};
use crate::db::holds;
use crate::model::subject::BudgetSubject;

/// A member's role within one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Admin,
    User,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Admin => "admin",
            MemberRole::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<MemberRole> {
        match text {
            "admin" => Some(MemberRole::Admin),
            "user" => Some(MemberRole::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MemberRow {
    pub team_id: String,
    pub user_id: String,
    pub user_email: Option<String>,
    pub role: String,
    pub added_by: String,
    pub added_at: OffsetDateTime,
    pub max_budget_micros: Option<i64>,
    pub budget_duration: Option<String>,
    pub spend_micros: i64,
}

macro_rules! member_select {
    () => {
        "SELECT m.team_id, m.user_id, u.email AS user_email, m.role, m.added_by, m.added_at, \
         b.max_micros AS max_budget_micros, b.duration AS budget_duration, \
         COALESCE(b.spend_micros, 0) AS spend_micros \
         FROM team_members AS m JOIN console_users AS u USING (user_id) \
         LEFT JOIN budget_counters AS b \
           ON b.subject = 'member:' || m.team_id || ':' || m.user_id "
    };
}

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("no live team with that team_id exists")]
    UnknownTeam,
    #[error("no user with that user_id exists")]
    UnknownUser,
    #[error("that user is already a member of the team")]
    Duplicate,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// A team's members by user id, from the pool or in the caller's transaction.
pub async fn list(
    executor: impl PgExecutor<'_>,
    team_id: &str,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let query = concat!(member_select!(), "WHERE m.team_id = $1 ORDER BY m.user_id");
    sqlx::query_as(query)
        .bind(team_id)
        .fetch_all(executor)
        .await
}

/// The members of every live team, by team and user.
pub async fn list_all(pool: &PgPool) -> Result<Vec<MemberRow>, sqlx::Error> {
    let query = concat!(
        member_select!(),
        "JOIN teams AS t ON t.team_id = m.team_id WHERE t.deleted_at IS NULL \
         ORDER BY m.team_id, m.user_id"
    );
    sqlx::query_as(query).fetch_all(pool).await
}

/// A membership, from the pool or in the caller's transaction.
pub async fn find(
    executor: impl PgExecutor<'_>,
    team_id: &str,
    user_id: &str,
) -> Result<Option<MemberRow>, sqlx::Error> {
    let query = concat!(member_select!(), "WHERE m.team_id = $1 AND m.user_id = $2");
    sqlx::query_as(query)
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(executor)
        .await
}

/// Adds a user to a live team with a role and, when given, a budget within the team.
pub async fn add(
    connection: &mut PgConnection,
    team_id: &str,
    user_id: &str,
    role: MemberRole,
    budget: Option<&BudgetLimits>,
    added_by: &str,
) -> Result<MemberRow, MemberError> {
    if !holds::live_team(&mut *connection, team_id).await? {
        return Err(MemberError::UnknownTeam);
    }
    if !holds::user(&mut *connection, user_id).await? {
        return Err(MemberError::UnknownUser);
    }
    let inserted = sqlx::query(
        "INSERT INTO team_members (team_id, user_id, role, added_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(added_by)
    .execute(&mut *connection)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(MemberError::Duplicate);
    }
    with_budget(connection, team_id, user_id, budget)
        .await?
        .ok_or(MemberError::Database(sqlx::Error::RowNotFound))
}

/// Changes a member's role or budget within the team; `None` when it is not a member.
pub async fn update(
    connection: &mut PgConnection,
    team_id: &str,
    user_id: &str,
    role: Option<MemberRole>,
    budget: Option<&BudgetLimits>,
) -> Result<Option<MemberRow>, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE team_members SET role = COALESCE($3, role) WHERE team_id = $1 AND user_id = $2",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(role.map(MemberRole::as_str))
    .execute(&mut *connection)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    with_budget(connection, team_id, user_id, budget).await
}

/// Sets a member's budget within the team when one is given, and reads the member back.
async fn with_budget(
    connection: &mut PgConnection,
    team_id: &str,
    user_id: &str,
    budget: Option<&BudgetLimits>,
) -> Result<Option<MemberRow>, sqlx::Error> {
    if let Some(budget) = budget {
        let subject = BudgetSubject::member(team_id, user_id).to_string();
        budgets::set_limits(&mut *connection, &subject, budget).await?;
    }
    find(connection, team_id, user_id).await
}

/// Removes a member: its keys in the team are revoked with it and its budget within the team
/// dropped, in one transaction. Returns the keys revoked, or `None` when it was not a member.
pub async fn remove(
    connection: &mut PgConnection,
    team_id: &str,
    user_id: &str,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let removed = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *connection)
        .await?;
    if removed.rows_affected() == 0 {
        return Ok(None);
    }
    let revoked: Vec<String> = sqlx::query_scalar(
        "UPDATE virtual_keys SET revoked_at = now() \
         WHERE team_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING token_hash",
    )
    .bind(team_id)
    .bind(user_id)
    .fetch_all(&mut *connection)
    .await?;
    budgets::forget(
        &mut *connection,
        &[BudgetSubject::member(team_id, user_id).to_string()],
    )
    .await?;
    Ok(Some(revoked))
}
