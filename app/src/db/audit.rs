//! The audit log: append-only records of management changes and refused attempts at them.

use sqlx::PgPool;
use time::OffsetDateTime;

/// One entry to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// `master_key`, `key:<token hash>`, `user:<user_id>` or `anonymous`.
    pub actor: String,
    /// `key.generate`, `team.update`, `POST /key/update` for a refused attempt, …
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub allowed: bool,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub source_ip: Option<String>,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub source_ip: Option<String>,
}

/// Records an entry: on the pool, or within the transaction of the change it records.
pub async fn record<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    entry: &AuditEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, target_type, target_id, outcome, before, after, \
         source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(if entry.allowed { "allowed" } else { "denied" })
    .bind(&entry.before)
    .bind(&entry.after)
    .bind(&entry.source_ip)
    .execute(executor)
    .await?;
    Ok(())
}

/// Filters for reading the log; every one optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Entries before this id (keyset paging, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Entries matching the filter, newest first.
pub async fn list(pool: &PgPool, filter: &AuditFilter) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, target_type, target_id, outcome, before, after, source_ip \
         FROM audit_log \
         WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
           AND ($3::text IS NULL OR target_type = $3) AND ($4::text IS NULL OR target_id = $4) \
           AND ($5::bigint IS NULL OR id < $5) \
         ORDER BY id DESC LIMIT $6",
    )
    .bind(&filter.actor)
    .bind(&filter.action)
    .bind(&filter.target_type)
    .bind(&filter.target_id)
    .bind(filter.before_id)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}
