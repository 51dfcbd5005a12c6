//! The budget ledger: one row per budget subject (`key:…`, `team:…`, …) with its limit and the
//! spend of its window, and the leases instances hold against it. An instance admits requests
//! from a lease it holds, so Postgres only sees a lease being taken, returned or drawn on.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// A budget's limits and the spend of its current window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BudgetRow {
    pub subject: String,
    pub max_micros: Option<i64>,
    pub soft_micros: Option<i64>,
    pub duration: Option<String>,
    pub resets_at: Option<OffsetDateTime>,
    pub spend_micros: i64,
    pub leased_micros: i64,
}

/// The limits a caller sets on a budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetLimits {
    pub max_micros: Option<i64>,
    pub soft_micros: Option<i64>,
    /// LiteLLM's `budget_duration` text and the same in seconds.
    pub duration: Option<(String, i64)>,
}

pub async fn find(pool: &PgPool, subject: &str) -> Result<Option<BudgetRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT subject, max_micros, soft_micros, duration, resets_at, spend_micros, \
         leased_micros FROM budget_counters WHERE subject = $1",
    )
    .bind(subject)
    .fetch_optional(pool)
    .await
}

/// A budget with a limit, and who it belongs to, for the console.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OwnedBudget {
    #[sqlx(flatten)]
    pub budget: BudgetRow,
    /// The key's alias or name, the team's alias, the user's email, the project's or the
    /// organization's alias; `None` when not found (end users and tags go by their subject).
    pub owner: Option<String>,
}

/// Budgets with a hard or soft limit whose owner still exists (keys not revoked, teams not
/// deleted), the most used first.
pub async fn list_limited(pool: &PgPool, limit: i64) -> Result<Vec<OwnedBudget>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.subject, b.max_micros, b.soft_micros, b.duration, b.resets_at, \
           b.spend_micros, b.leased_micros, \
           COALESCE(k.key_alias, k.key_name, t.team_alias, u.email, p.project_alias, \
             o.organization_alias) AS owner \
         FROM budget_counters AS b \
         LEFT JOIN virtual_keys AS k ON b.subject = 'key:' || k.token_hash \
         LEFT JOIN teams AS t ON b.subject = 'team:' || t.team_id \
         LEFT JOIN console_users AS u ON b.subject = 'user:' || u.user_id \
         LEFT JOIN projects AS p ON b.subject = 'project:' || p.project_id \
         LEFT JOIN organizations AS o ON b.subject = 'org:' || o.organization_id \
         WHERE (b.max_micros IS NOT NULL OR b.soft_micros IS NOT NULL) \
           AND k.revoked_at IS NULL AND t.deleted_at IS NULL \
         ORDER BY b.spend_micros::float8 / NULLIF(b.max_micros, 0) DESC NULLS LAST, b.subject \
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Drops the budgets of deleted subjects (their spend rows stay), in the caller's transaction.
pub async fn forget(connection: &mut PgConnection, subjects: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM budget_counters WHERE subject = ANY($1)")
        .bind(subjects)
        .execute(connection)
        .await?;
    Ok(())
}

/// Sets a budget's limits (creating its row); a new duration starts a window now. Runs in the
/// caller's transaction so the budget changes with the entity it belongs to.
pub async fn set_limits(
    connection: &mut sqlx::PgConnection,
    subject: &str,
    limits: &BudgetLimits,
) -> Result<BudgetRow, sqlx::Error> {
    let (duration, seconds) = match &limits.duration {
        Some((text, seconds)) => (Some(text.as_str()), Some(*seconds)),
        None => (None, None),
    };
    sqlx::query_as(
        "INSERT INTO budget_counters AS b (subject, max_micros, soft_micros, duration, period, \
           resets_at) \
         VALUES ($1, $2, $3, $4, make_interval(secs => $5), now() + make_interval(secs => $5)) \
         ON CONFLICT (subject) DO UPDATE SET max_micros = EXCLUDED.max_micros, \
           soft_micros = EXCLUDED.soft_micros, duration = EXCLUDED.duration, \
           period = EXCLUDED.period, \
           resets_at = CASE WHEN b.period IS NOT DISTINCT FROM EXCLUDED.period THEN b.resets_at \
                            ELSE EXCLUDED.resets_at END \
         RETURNING subject, max_micros, soft_micros, duration, resets_at, spend_micros, \
           leased_micros",
    )
    .bind(subject)
    .bind(limits.max_micros)
    .bind(limits.soft_micros)
    .bind(duration)
    .bind(seconds.map(|seconds| seconds as f64))
    .fetch_one(connection)
    .await
}

/// What a lease request found: the budget left before it, and what was granted (`None`: less
/// than the minimum was left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseOutcome {
    pub max_micros: i64,
    pub spend_micros: i64,
    pub available: i64,
    pub granted: Option<i64>,
}

/// What an instance asks of a budget: `want` if it can have it (and `1/share` of what is left
/// when that is more, so it rarely comes back while the budget is roomy), at least `need`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRequest {
    pub need: i64,
    pub want: i64,
    pub share: i64,
}

/// Times a ledger statement is tried when Postgres picks it as a deadlock victim.
const DEADLOCK_ATTEMPTS: usize = 4;

/// Runs a ledger statement, again when Postgres aborted it to break a deadlock: a lease locks a
/// budget's counter and then its lease row, while a release or a spend batch (which draw on the
/// lease first) lock them the other way round. The aborted statement changed nothing.
async fn deadlock_retried<T, F, Fut>(mut statement: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match statement().await {
            Err(sqlx::Error::Database(error))
                if attempt < DEADLOCK_ATTEMPTS && error.code().as_deref() == Some("40P01") =>
            {
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Leases part of a budget to an instance, near the edge only what it asks for. `None` when the
/// subject has no limit.
pub async fn lease(
    pool: &PgPool,
    subject: &str,
    instance: Uuid,
    request: LeaseRequest,
) -> Result<Option<LeaseOutcome>, sqlx::Error> {
    deadlock_retried(|| lease_once(pool, subject, instance, request)).await
}

async fn lease_once(
    pool: &PgPool,
    subject: &str,
    instance: Uuid,
    request: LeaseRequest,
) -> Result<Option<LeaseOutcome>, sqlx::Error> {
    sqlx::query_as(
        "WITH budget AS ( \
           SELECT subject, max_micros, spend_micros, \
             max_micros - spend_micros - leased_micros AS available \
           FROM budget_counters WHERE subject = $1 AND max_micros IS NOT NULL FOR UPDATE \
         ), granted AS ( \
           UPDATE budget_counters AS b SET leased_micros = b.leased_micros + g.amount \
           FROM (SELECT subject, LEAST(available, GREATEST($4, available / $5)) AS amount \
                 FROM budget WHERE available >= $3) AS g \
           WHERE b.subject = g.subject \
           RETURNING g.amount \
         ), held AS ( \
           INSERT INTO budget_leases (subject, instance_id, micros) \
           SELECT $1, $2, amount FROM granted \
           ON CONFLICT (subject, instance_id) DO UPDATE \
             SET micros = budget_leases.micros + EXCLUDED.micros, renewed_at = now() \
         ) \
         SELECT max_micros, spend_micros, available, (SELECT amount FROM granted) AS granted \
         FROM budget",
    )
    .bind(subject)
    .bind(instance)
    .bind(request.need)
    .bind(request.want)
    .bind(request.share.max(1))
    .fetch_optional(pool)
    .await
}

/// Gives back `micros` of an instance's lease.
pub async fn release(
    pool: &PgPool,
    subject: &str,
    instance: Uuid,
    micros: i64,
) -> Result<(), sqlx::Error> {
    deadlock_retried(|| release_once(pool, subject, instance, micros)).await
}

async fn release_once(
    pool: &PgPool,
    subject: &str,
    instance: Uuid,
    micros: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH returned AS ( \
           UPDATE budget_leases SET micros = micros - $3, renewed_at = now() \
           WHERE subject = $1 AND instance_id = $2 AND micros >= $3 RETURNING subject \
         ) \
         UPDATE budget_counters SET leased_micros = leased_micros - $3 \
         WHERE subject IN (SELECT subject FROM returned)",
    )
    .bind(subject)
    .bind(instance)
    .bind(micros)
    .execute(pool)
    .await?;
    Ok(())
}

/// A statement that deletes leases (`$deleted`, returning each one's subject and micros) and
/// gives what they held back to their budgets.
macro_rules! give_back {
    ($deleted:literal) => {
        concat!(
            "WITH returned AS (",
            $deleted,
            "), per_subject AS ( \
               SELECT subject, sum(micros)::bigint AS micros FROM returned GROUP BY subject \
             ) \
             UPDATE budget_counters AS b SET leased_micros = b.leased_micros - s.micros \
             FROM per_subject AS s WHERE b.subject = s.subject"
        )
    };
}

/// Gives back every lease of an instance (it is stopping).
pub async fn release_all(pool: &PgPool, instance: Uuid) -> Result<(), sqlx::Error> {
    let release =
        give_back!("DELETE FROM budget_leases WHERE instance_id = $1 RETURNING subject, micros");
    sqlx::query(release).bind(instance).execute(pool).await?;
    Ok(())
}

/// Marks an instance's leases as still held; returns the subjects it holds a lease on.
pub async fn renew(pool: &PgPool, instance: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE budget_leases SET renewed_at = now() WHERE instance_id = $1 RETURNING subject",
    )
    .bind(instance)
    .fetch_all(pool)
    .await
}

/// Returns the leases of instances that stopped renewing them for `stale_seconds` (they
/// stopped without giving them back).
pub async fn reclaim_stale(pool: &PgPool, stale_seconds: f64) -> Result<u64, sqlx::Error> {
    let reclaim = give_back!(
        "DELETE FROM budget_leases \
         WHERE renewed_at < now() - make_interval(secs => $1) RETURNING subject, micros"
    );
    let reclaimed = sqlx::query(reclaim)
        .bind(stale_seconds)
        .execute(pool)
        .await?;
    Ok(reclaimed.rows_affected())
}

/// Starts a new window for every budget whose window ended: spend back to 0.
pub async fn reset_due(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE budget_counters SET spend_micros = 0, \
           resets_at = resets_at + period * (floor(extract(epoch FROM now() - resets_at) \
             / extract(epoch FROM period)) + 1) \
         WHERE resets_at <= now() RETURNING subject",
    )
    .fetch_all(pool)
    .await
}

/// A budget whose spend crossed its soft limit and has not raised an alert in this window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SoftCrossing {
    pub subject: String,
    pub spend_micros: i64,
    pub soft_micros: i64,
    pub max_micros: Option<i64>,
}

/// Marks, among `subjects`, the budgets past their soft limit that have not alerted in their
/// current window (ever, without a duration), and returns them: each crossing is returned to
/// exactly one caller, whatever the number of instances.
pub async fn claim_soft_crossings(
    pool: &PgPool,
    subjects: &[&str],
) -> Result<Vec<SoftCrossing>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE budget_counters SET soft_alerted_at = now() \
         WHERE subject = ANY($1) AND soft_micros IS NOT NULL AND spend_micros >= soft_micros \
           AND (soft_alerted_at IS NULL \
                OR (resets_at IS NOT NULL AND soft_alerted_at < resets_at - period)) \
         RETURNING subject, spend_micros, soft_micros, max_micros",
    )
    .bind(subjects)
    .fetch_all(pool)
    .await
}
