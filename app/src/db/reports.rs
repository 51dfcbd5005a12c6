//! Spend reports read from the daily rollups (never the raw log): spend per period × group
//! under filters, a per-model-and-key breakdown for LiteLLM's report shapes, latency
//! percentiles, readable names for groups, and the budgets of what was reported.

use std::collections::HashMap;

use sqlx::{PgPool, Postgres, QueryBuilder};
use time::Date;

use crate::db::filters::push_equal;
use crate::model::reports::{BudgetLine, Dimension, Granularity, ReportFilters, ReportRow};
use crate::model::subject::BudgetSubject;

/// One report's question over whole UTC days `start..=end`.
#[derive(Debug, Clone, Copy)]
pub struct ReportSpec<'a> {
    pub start: Date,
    pub end: Date,
    pub group_by: Option<Dimension>,
    /// `None`: the whole range is one period (labelled with its first day).
    pub granularity: Option<Granularity>,
    pub filters: &'a ReportFilters,
}

impl ReportSpec<'_> {
    /// The tag rollup is read when tags are grouped or filtered by; the main one otherwise.
    fn uses_tags(&self) -> bool {
        self.group_by == Some(Dimension::Tag) || self.filters.tag.is_some()
    }

    fn joins_teams(&self) -> bool {
        self.group_by == Some(Dimension::Organization)
    }

    /// Whether the question needs keys or users (only the finest rollups have them).
    fn needs_keys(&self, by_key: bool) -> bool {
        by_key
            || matches!(self.group_by, Some(Dimension::Key | Dimension::User))
            || self.filters.token_hash.is_some()
            || self.filters.user_id.is_some()
    }

    /// Reads the narrowest rollup that can answer: per tag, per key, or per team × project ×
    /// model × provider (a row per key fewer).
    fn push_from_where(&self, query: &mut QueryBuilder<'_, Postgres>, by_key: bool) {
        query.push(if self.uses_tags() {
            " FROM spend_daily_tags AS d"
        } else if self.needs_keys(by_key) {
            " FROM spend_daily AS d"
        } else {
            " FROM spend_daily_groups AS d"
        });
        if self.joins_teams() {
            query.push(" LEFT JOIN teams AS t ON t.team_id = d.team_id");
        }
        query.push(" WHERE d.day >= ");
        query.push_bind(self.start);
        query.push(" AND d.day <= ");
        query.push_bind(self.end);
        let filters = self.filters;
        let columns = [
            ("d.team_id", &filters.team_id),
            ("d.project_id", &filters.project_id),
            ("d.token_hash", &filters.token_hash),
            ("d.user_id", &filters.user_id),
            ("d.model_group", &filters.model),
            ("d.provider", &filters.provider),
            ("d.tag", &filters.tag),
        ];
        push_equal(query, columns);
        if let Some(organization) = &filters.organization_id {
            query.push(" AND d.team_id IN (SELECT team_id FROM teams WHERE organization_id = ");
            query.push_bind(organization.clone());
            query.push(")");
        }
    }
}

fn group_column(dimension: Option<Dimension>) -> &'static str {
    match dimension {
        None => "''",
        Some(Dimension::Organization) => "coalesce(t.organization_id, '')",
        Some(Dimension::Team) => "d.team_id",
        Some(Dimension::Project) => "d.project_id",
        Some(Dimension::Key) => "d.token_hash",
        Some(Dimension::User) => "d.user_id",
        Some(Dimension::Model) => "d.model_group",
        Some(Dimension::Provider) => "d.provider",
        Some(Dimension::Tag) => "d.tag",
    }
}

fn period_column(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Day => "to_char(d.day, 'YYYY-MM-DD')",
        Granularity::Week => "to_char(date_trunc('week', d.day), 'YYYY-MM-DD')",
        Granularity::Month => "to_char(date_trunc('month', d.day), 'YYYY-MM-DD')",
    }
}

const SUMS: &str = "sum(d.requests)::bigint AS requests, \
    sum(d.failed_requests)::bigint AS failed_requests, \
    sum(d.prompt_tokens)::bigint AS prompt_tokens, \
    sum(d.completion_tokens)::bigint AS completion_tokens, \
    sum(d.cached_tokens)::bigint AS cached_tokens, \
    sum(d.cost_micros)::bigint AS cost_micros, \
    sum(d.latency_ms_sum)::bigint AS latency_ms_sum";

/// Spend per period × group, periods oldest first and groups by spend within a period. Labels
/// are the group ids; [`label_rows`] names them.
pub async fn report(pool: &PgPool, spec: &ReportSpec<'_>) -> Result<Vec<ReportRow>, sqlx::Error> {
    let mut query = QueryBuilder::new("SELECT ");
    match spec.granularity {
        Some(granularity) => {
            query.push(period_column(granularity));
        }
        None => {
            query.push("to_char(");
            query.push_bind(spec.start);
            query.push("::date, 'YYYY-MM-DD')");
        }
    }
    query.push(" AS period, ");
    query.push(group_column(spec.group_by));
    query.push(" AS group_key, ");
    query.push(SUMS);
    spec.push_from_where(&mut query, false);
    query.push(" GROUP BY 1, 2 ORDER BY 1, cost_micros DESC, 2");
    query.build_query_as().fetch_all(pool).await
}

/// A rollup line for LiteLLM's report shapes: one group's spend, per day, model group and
/// provider, and key as [`Lines`] asks (a part not asked for is `None` or empty).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BreakdownRow {
    pub day: Option<Date>,
    pub group_key: String,
    pub model_group: String,
    pub provider: String,
    pub token_hash: String,
    pub requests: i64,
    pub failed_requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
}

/// What a breakdown's lines are cut by, beside the group.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    pub by_day: bool,
    pub by_model: bool,
    pub by_key: bool,
}

/// Spend per group and whatever `lines` asks for, newest day first.
pub async fn breakdown(
    pool: &PgPool,
    spec: &ReportSpec<'_>,
    lines: Lines,
) -> Result<Vec<BreakdownRow>, sqlx::Error> {
    select_lines(pool, spec, lines, true).await
}

/// Every rollup row in the spec's range and filters, cut by day, group, model, provider and
/// key, neither summed nor ordered: for callers that sum the lines into buckets of their own
/// anyway (the daily activity), so the database does not group and sort them first. Lines
/// may repeat a cut (a key that changed project within a day).
pub async fn rollup_lines(
    pool: &PgPool,
    spec: &ReportSpec<'_>,
) -> Result<Vec<BreakdownRow>, sqlx::Error> {
    let every_line = Lines {
        by_day: true,
        by_model: true,
        by_key: true,
    };
    select_lines(pool, spec, every_line, false).await
}

async fn select_lines(
    pool: &PgPool,
    spec: &ReportSpec<'_>,
    lines: Lines,
    summed: bool,
) -> Result<Vec<BreakdownRow>, sqlx::Error> {
    let mut query = QueryBuilder::new("SELECT ");
    query.push(if lines.by_day { "d.day" } else { "NULL::date" });
    query.push(" AS day, ");
    query.push(group_column(spec.group_by));
    query.push(if lines.by_model {
        " AS group_key, d.model_group, d.provider, "
    } else {
        " AS group_key, '' AS model_group, '' AS provider, "
    });
    query.push(if lines.by_key {
        "d.token_hash, "
    } else {
        "'' AS token_hash, "
    });
    let figures = [
        "requests",
        "failed_requests",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "cost_micros",
    ];
    for (index, figure) in figures.into_iter().enumerate() {
        if index > 0 {
            query.push(", ");
        }
        query.push(if summed { "sum(d." } else { "(d." });
        query.push(figure);
        query.push(")::bigint AS ");
        query.push(figure);
    }
    spec.push_from_where(&mut query, lines.by_key);
    if summed {
        query.push(" GROUP BY 1, 2, 3, 4, 5 ORDER BY 1 DESC, 2, 3, 4, 5");
    }
    query.build_query_as().fetch_all(pool).await
}

/// Readable names of a dimension's group ids (aliases); ids without one are absent.
pub async fn labels(
    pool: &PgPool,
    dimension: Dimension,
    ids: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let sql = match dimension {
        Dimension::Organization => {
            "SELECT organization_id, organization_alias FROM organizations \
             WHERE organization_id = ANY($1)"
        }
        Dimension::Team => {
            "SELECT team_id, team_alias FROM teams \
             WHERE team_id = ANY($1) AND team_alias IS NOT NULL"
        }
        Dimension::Project => {
            "SELECT project_id, project_alias FROM projects \
             WHERE project_id = ANY($1) AND project_alias IS NOT NULL"
        }
        Dimension::Key => {
            "SELECT token_hash, coalesce(key_alias, key_name) FROM virtual_keys \
             WHERE token_hash = ANY($1)"
        }
        Dimension::User => {
            "SELECT user_id, coalesce(user_alias, email, user_id) FROM console_users \
             WHERE user_id = ANY($1)"
        }
        Dimension::Model | Dimension::Provider | Dimension::Tag => return Ok(HashMap::new()),
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql).bind(ids).fetch_all(pool).await?;
    Ok(rows.into_iter().collect())
}

/// What LiteLLM's activity reports say about a key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyMetadata {
    pub token_hash: String,
    pub key_alias: Option<String>,
    pub team_id: Option<String>,
    pub user_id: Option<String>,
}

/// The alias, team and user of each key among `hashes` that still exists.
pub async fn key_metadata(
    pool: &PgPool,
    hashes: &[String],
) -> Result<HashMap<String, KeyMetadata>, sqlx::Error> {
    let rows: Vec<KeyMetadata> = sqlx::query_as(
        "SELECT token_hash, key_alias, team_id, user_id FROM virtual_keys \
         WHERE token_hash = ANY($1)",
    )
    .bind(hashes)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.token_hash.clone(), row))
        .collect())
}

/// The token hash of the live key called `alias`, if there is one.
pub async fn token_hash_by_alias(
    pool: &PgPool,
    alias: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT token_hash FROM virtual_keys WHERE key_alias = $1 AND revoked_at IS NULL",
    )
    .bind(alias)
    .fetch_optional(pool)
    .await
}

/// What a group without an id is called.
pub fn unassigned_label(dimension: Option<Dimension>) -> &'static str {
    match dimension {
        None => "All",
        Some(Dimension::Organization) => "No organization",
        Some(Dimension::Team) => "No team",
        Some(Dimension::Project) => "No project",
        Some(Dimension::User) => "No user",
        Some(_) => "None",
    }
}

/// Fills each row's label with its group's alias, the id when it has none, or the
/// dimension's name for "none".
pub async fn label_rows(
    pool: &PgPool,
    dimension: Option<Dimension>,
    rows: &mut [ReportRow],
) -> Result<(), sqlx::Error> {
    let names = match dimension {
        Some(dimension) => {
            let mut ids: Vec<String> = rows.iter().map(|row| row.group_key.clone()).collect();
            ids.sort_unstable();
            ids.dedup();
            labels(pool, dimension, &ids).await?
        }
        None => HashMap::new(),
    };
    for row in rows {
        row.label = if row.group_key.is_empty() {
            unassigned_label(dimension).to_string()
        } else {
            names
                .get(&row.group_key)
                .cloned()
                .unwrap_or_else(|| row.group_key.clone())
        };
    }
    Ok(())
}

/// The budget subject of a dimension's group, for dimensions that have budgets.
pub fn budget_subject(dimension: Dimension, id: &str) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    let subject = match dimension {
        Dimension::Organization => BudgetSubject::organization(id),
        Dimension::Team => BudgetSubject::team(id),
        Dimension::Project => BudgetSubject::project(id),
        Dimension::Key => BudgetSubject::key(id),
        Dimension::User => BudgetSubject::user(id),
        Dimension::Tag => BudgetSubject::tag(id),
        Dimension::Model | Dimension::Provider => return None,
    };
    Some(subject.to_string())
}

/// The hard-limited budgets among `subjects`, with the spend of their current window.
pub async fn budgets(pool: &PgPool, subjects: &[String]) -> Result<Vec<BudgetLine>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT subject, max_micros, spend_micros, duration FROM budget_counters \
         WHERE subject = ANY($1) AND max_micros IS NOT NULL ORDER BY subject",
    )
    .bind(subjects)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(subject, max_micros, spend_micros, duration)| BudgetLine {
            label: subject.clone(),
            subject,
            max_micros,
            spend_micros,
            duration,
        })
        .collect())
}

/// Requests per latency bucket over `start..=end` (see `latency_daily`), bucket ascending.
pub async fn latency_histogram(
    pool: &PgPool,
    start: Date,
    end: Date,
) -> Result<Vec<(i16, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT bucket, sum(requests)::bigint FROM latency_daily \
         WHERE day >= $1 AND day <= $2 GROUP BY bucket ORDER BY bucket",
    )
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await
}

/// The `percent`-th percentile of a latency histogram, as its bucket's upper bound in ms.
pub fn percentile_ms(histogram: &[(i16, i64)], percent: f64) -> Option<i64> {
    let total: i64 = histogram.iter().map(|(_, count)| count).sum();
    if total == 0 {
        return None;
    }
    let rank = ((percent / 100.0) * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for &(bucket, count) in histogram {
        seen += count;
        if seen >= rank {
            return Some(bucket_upper_ms(bucket));
        }
    }
    histogram.last().map(|&(bucket, _)| bucket_upper_ms(bucket))
}

/// The largest latency (ms) bucket `b` holds: floor(4 · log2(1 + ms)) = b.
fn bucket_upper_ms(bucket: i16) -> i64 {
    (2f64.powf(f64::from(bucket + 1) / 4.0) - 1.0).ceil() as i64 - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_of(ms: i64) -> i16 {
        (4.0 * ((1 + ms) as f64).log2()).floor() as i16
    }

    #[test]
    fn bucket_bounds_hold_their_latencies() {
        for ms in [0, 1, 2, 5, 17, 100, 999, 1_000, 12_345, 600_000] {
            let bucket = bucket_of(ms);
            assert!(ms <= bucket_upper_ms(bucket), "{ms} ms in bucket {bucket}");
            assert!(bucket_upper_ms(bucket) <= ((ms + 1) as f64 * 1.19) as i64 + 1);
        }
    }

    #[test]
    fn percentiles_read_the_histogram() {
        let histogram = vec![
            (bucket_of(10), 50),
            (bucket_of(100), 45),
            (bucket_of(1_000), 5),
        ];
        let p50 = percentile_ms(&histogram, 50.0).unwrap();
        assert!((10..=12).contains(&p50), "{p50}");
        let p95 = percentile_ms(&histogram, 95.0).unwrap();
        assert!((100..=119).contains(&p95), "{p95}");
        let p99 = percentile_ms(&histogram, 99.0).unwrap();
        assert!((1_000..=1_190).contains(&p99), "{p99}");
        assert_eq!(percentile_ms(&[], 50.0), None);
    }
}
