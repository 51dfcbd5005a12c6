//! The reconciliation check: the daily rollups must equal what the raw spend rows of the same
//! days add up to (every figure, every group; the per-team-and-model rollup, the tag rollup
//! and the latency histogram too), and each all-time budget counter of a key, team, project or
//! user must equal its rollups.

use sqlx::PgPool;
use time::Date;

use crate::model::reports::{Drift, Reconciliation};

/// Drifts reported at most (the totals always cover everything).
const MAX_DRIFTS: i64 = 200;

/// Compares rollups with raw rows from the first day the raw log still holds whole (older raw
/// rows were pruned on purpose), then counters with rollups.
pub async fn reconcile(pool: &PgPool) -> Result<Reconciliation, sqlx::Error> {
    // The first whole day after the prune cutoff (the cutoff's own day if it is midnight).
    let from_day: Option<Date> = sqlx::query_scalar(
        "SELECT CASE WHEN pruned_before = date_trunc('day', pruned_before AT TIME ZONE 'UTC') \
                       AT TIME ZONE 'UTC' \
                     THEN (pruned_before AT TIME ZONE 'UTC')::date \
                     ELSE (pruned_before AT TIME ZONE 'UTC')::date + 1 END \
         FROM spend_logs_pruned",
    )
    .fetch_optional(pool)
    .await?;
    // Never pruned: everything (no spend row predates 1970).
    let from = from_day.unwrap_or(time::macros::date!(1970 - 01 - 01));
    let mut result = Reconciliation {
        from_day: from_day.map(|day| day.to_string()),
        ..Reconciliation::default()
    };

    let (raw_rows, raw_cost, rollup_requests, rollup_cost, groups): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM spend_logs \
                     WHERE started_at >= $1::date::timestamp AT TIME ZONE 'UTC'), \
               (SELECT coalesce(sum(cost_micros), 0)::bigint FROM spend_logs \
                     WHERE started_at >= $1::date::timestamp AT TIME ZONE 'UTC'), \
               coalesce(sum(requests), 0)::bigint, coalesce(sum(cost_micros), 0)::bigint, \
               count(*) \
             FROM spend_daily WHERE day >= $1",
        )
        .bind(from)
        .fetch_one(pool)
        .await?;
    result.raw_rows = raw_rows;
    result.raw_cost_micros = raw_cost;
    result.rollup_requests = rollup_requests;
    result.rollup_cost_micros = rollup_cost;
    result.rollup_groups_checked = groups;

    for query in [ROLLUP_DRIFTS, TAG_DRIFTS, GROUP_DRIFTS, LATENCY_DRIFTS] {
        let drifts = sqlx::query_as(query)
            .bind(from)
            .bind(MAX_DRIFTS)
            .fetch_all(pool)
            .await?;
        push_drifts(&mut result, drifts);
    }

    // All-time counters of keys, teams, projects and users against every rollup day (rollups
    // are never pruned). Windowed counters restart each window and are not compared.
    let (checked, skipped): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE period IS NULL), count(*) FILTER (WHERE period IS NOT NULL) \
         FROM budget_counters WHERE subject ~ '^(key|team|project|user):[^:]+$'",
    )
    .fetch_one(pool)
    .await?;
    result.counters_checked = checked;
    result.counters_skipped = skipped;
    let counter_drifts: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "WITH sums AS ( \
           SELECT 'key:' || token_hash AS subject, sum(cost_micros)::bigint AS spend \
             FROM spend_daily GROUP BY 1 \
           UNION ALL SELECT 'team:' || team_id, sum(cost_micros)::bigint \
             FROM spend_daily WHERE team_id <> '' GROUP BY 1 \
           UNION ALL SELECT 'project:' || project_id, sum(cost_micros)::bigint \
             FROM spend_daily WHERE project_id <> '' GROUP BY 1 \
           UNION ALL SELECT 'user:' || user_id, sum(cost_micros)::bigint \
             FROM spend_daily WHERE user_id <> '' GROUP BY 1 \
         ) \
         SELECT 'counter ' || b.subject, 'spend_micros', coalesce(s.spend, 0), b.spend_micros \
         FROM budget_counters AS b LEFT JOIN sums AS s USING (subject) \
         WHERE b.period IS NULL AND b.subject ~ '^(key|team|project|user):[^:]+$' \
           AND coalesce(s.spend, 0) <> b.spend_micros \
         ORDER BY 1 LIMIT $1",
    )
    .bind(MAX_DRIFTS)
    .fetch_all(pool)
    .await?;
    push_drifts(&mut result, counter_drifts);
    Ok(result)
}

fn push_drifts(result: &mut Reconciliation, rows: Vec<(String, String, i64, i64)>) {
    result.drifts.extend(
        rows.into_iter()
            .map(|(what, field, expected, found)| Drift {
                what: format!("{what}: {field}"),
                expected,
                found,
            }),
    );
}

/// Per key rollup rows whose figures differ from the raw rows they sum.
const ROLLUP_DRIFTS: &str = "WITH raw AS ( \
           SELECT (started_at AT TIME ZONE 'UTC')::date AS day, token_hash, \
             coalesce(team_id, '') AS team_id, coalesce(project_id, '') AS project_id, \
             coalesce(user_id, '') AS user_id, model_group, provider, \
             count(*) AS requests, count(*) FILTER (WHERE status = 'failure') AS failed_requests, \
             sum(prompt_tokens)::bigint AS prompt_tokens, \
             sum(completion_tokens)::bigint AS completion_tokens, \
             sum(cached_tokens)::bigint AS cached_tokens, \
             sum(cache_write_tokens)::bigint AS cache_write_tokens, \
             sum(reasoning_tokens)::bigint AS reasoning_tokens, \
             sum(cost_micros)::bigint AS cost_micros, sum(latency_ms)::bigint AS latency_ms_sum \
           FROM spend_logs WHERE started_at >= $1::date::timestamp AT TIME ZONE 'UTC' \
           GROUP BY 1, 2, 3, 4, 5, 6, 7 \
         ), rollup AS (SELECT * FROM spend_daily WHERE day >= $1), \
         compared AS ( \
           SELECT day, token_hash, team_id, project_id, user_id, model_group, provider, \
             field, raw_value, rollup_value \
           FROM raw FULL JOIN rollup \
             USING (day, token_hash, team_id, project_id, user_id, model_group, provider) \
           CROSS JOIN LATERAL (VALUES \
             ('requests', coalesce(raw.requests, 0), coalesce(rollup.requests, 0)), \
             ('failed_requests', coalesce(raw.failed_requests, 0), \
               coalesce(rollup.failed_requests, 0)), \
             ('prompt_tokens', coalesce(raw.prompt_tokens, 0), coalesce(rollup.prompt_tokens, 0)), \
             ('completion_tokens', coalesce(raw.completion_tokens, 0), \
               coalesce(rollup.completion_tokens, 0)), \
             ('cached_tokens', coalesce(raw.cached_tokens, 0), coalesce(rollup.cached_tokens, 0)), \
             ('cache_write_tokens', coalesce(raw.cache_write_tokens, 0), \
               coalesce(rollup.cache_write_tokens, 0)), \
             ('reasoning_tokens', coalesce(raw.reasoning_tokens, 0), \
               coalesce(rollup.reasoning_tokens, 0)), \
             ('cost_micros', coalesce(raw.cost_micros, 0), coalesce(rollup.cost_micros, 0)), \
             ('latency_ms_sum', coalesce(raw.latency_ms_sum, 0), \
               coalesce(rollup.latency_ms_sum, 0)) \
           ) AS figures(field, raw_value, rollup_value) \
           WHERE raw_value <> rollup_value \
         ) \
         SELECT concat_ws(' ', 'rollup', day, 'key', token_hash, 'team', nullif(team_id, ''), \
             'project', nullif(project_id, ''), 'user', nullif(user_id, ''), 'model', \
             model_group, 'provider', provider), field, raw_value, rollup_value \
         FROM compared ORDER BY day, token_hash, model_group LIMIT $2";

/// Per tag rollup rows whose figures differ from the raw rows they sum.
const TAG_DRIFTS: &str = "WITH raw AS ( \
           SELECT (started_at AT TIME ZONE 'UTC')::date AS day, tag, \
             count(*) AS requests, sum(cost_micros)::bigint AS cost_micros \
           FROM spend_logs, unnest(request_tags) AS tag \
           WHERE started_at >= $1::date::timestamp AT TIME ZONE 'UTC' GROUP BY 1, 2 \
         ), rollup AS ( \
           SELECT day, tag, sum(requests)::bigint AS requests, \
             sum(cost_micros)::bigint AS cost_micros \
           FROM spend_daily_tags WHERE day >= $1 GROUP BY 1, 2 \
         ) \
         SELECT concat_ws(' ', 'tag rollup', day, tag), field, raw_value, rollup_value \
         FROM raw FULL JOIN rollup USING (day, tag) \
         CROSS JOIN LATERAL (VALUES \
           ('requests', coalesce(raw.requests, 0), coalesce(rollup.requests, 0)), \
           ('cost_micros', coalesce(raw.cost_micros, 0), coalesce(rollup.cost_micros, 0)) \
         ) AS figures(field, raw_value, rollup_value) \
         WHERE raw_value <> rollup_value ORDER BY 1 LIMIT $2";

/// Per team × project × model × provider rollup rows whose figures differ from the raw rows.
const GROUP_DRIFTS: &str = "WITH raw AS ( \
           SELECT (started_at AT TIME ZONE 'UTC')::date AS day, coalesce(team_id, '') AS team_id, \
             coalesce(project_id, '') AS project_id, model_group, provider, \
             count(*) AS requests, sum(cost_micros)::bigint AS cost_micros, \
             sum(prompt_tokens + completion_tokens)::bigint AS tokens \
           FROM spend_logs WHERE started_at >= $1::date::timestamp AT TIME ZONE 'UTC' \
           GROUP BY 1, 2, 3, 4, 5 \
         ), rollup AS ( \
           SELECT day, team_id, project_id, model_group, provider, requests, cost_micros, \
             prompt_tokens + completion_tokens AS tokens \
           FROM spend_daily_groups WHERE day >= $1 \
         ) \
         SELECT concat_ws(' ', 'group rollup', day, 'team', nullif(team_id, ''), 'project', \
             nullif(project_id, ''), 'model', model_group, 'provider', provider), \
           field, raw_value, rollup_value \
         FROM raw FULL JOIN rollup USING (day, team_id, project_id, model_group, provider) \
         CROSS JOIN LATERAL (VALUES \
           ('requests', coalesce(raw.requests, 0), coalesce(rollup.requests, 0)), \
           ('cost_micros', coalesce(raw.cost_micros, 0), coalesce(rollup.cost_micros, 0)), \
           ('tokens', coalesce(raw.tokens, 0), coalesce(rollup.tokens, 0)) \
         ) AS figures(field, raw_value, rollup_value) \
         WHERE raw_value <> rollup_value ORDER BY 1 LIMIT $2";

/// Latency histogram rows whose counts differ from the raw rows.
const LATENCY_DRIFTS: &str = "WITH raw AS ( \
           SELECT (started_at AT TIME ZONE 'UTC')::date AS day, model_group, provider, \
             count(*) AS requests \
           FROM spend_logs WHERE started_at >= $1::date::timestamp AT TIME ZONE 'UTC' \
           GROUP BY 1, 2, 3 \
         ), rollup AS ( \
           SELECT day, model_group, provider, sum(requests)::bigint AS requests \
           FROM latency_daily WHERE day >= $1 GROUP BY 1, 2, 3 \
         ) \
         SELECT concat_ws(' ', 'latency histogram', day, model_group, provider), 'requests', \
           coalesce(raw.requests, 0), coalesce(rollup.requests, 0) \
         FROM raw FULL JOIN rollup USING (day, model_group, provider) \
         WHERE coalesce(raw.requests, 0) <> coalesce(rollup.requests, 0) ORDER BY 1 LIMIT $2";
