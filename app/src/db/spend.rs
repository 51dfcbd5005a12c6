//! The spend log: batched inserts that also advance the daily rollups and the spend of every
//! budget each row counts against (turning what the instance had leased into spend), reads,
//! and the upkeep of its monthly partitions.

use std::sync::Arc;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::filters::push_equal;
use crate::model::DailySpend;

/// One request's metering record. Money in micro-dollars.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SpendRow {
    pub request_id: String,
    pub token_hash: String,
    pub call_type: String,
    pub model_group: String,
    pub upstream_model: String,
    pub provider: String,
    pub api_base: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Prompt tokens read from the provider's cache (part of `prompt_tokens`).
    pub cached_tokens: i64,
    /// Prompt tokens written to the provider's cache (part of `prompt_tokens`).
    pub cache_write_tokens: i64,
    /// Completion tokens spent on reasoning (part of `completion_tokens`).
    pub reasoning_tokens: i64,
    pub cost_micros: i64,
    pub latency_ms: i32,
    pub http_status: i16,
    pub status: String,
    pub is_stream: bool,
    pub usage_estimated: bool,
    pub end_user: Option<String>,
    pub started_at: OffsetDateTime,
    pub ended_at: OffsetDateTime,
    /// The deployment that served (or last failed) the request.
    pub model_id: String,
    /// Every upstream attempt, in order: `[{model_group, deployment_id, api_base, outcome,
    /// status, latency_ms}]`; `None` when the first attempt served the request (see
    /// [`SpendRow::attempt_list`]).
    pub attempts: Option<serde_json::Value>,
    /// The team the key belonged to when the request ran.
    pub team_id: Option<String>,
    /// The user the key belonged to when the request ran.
    pub user_id: Option<String>,
    /// The project the key belonged to when the request ran.
    pub project_id: Option<String>,
    /// The request's tags (its own and its key's).
    pub request_tags: Option<Vec<String>>,
    /// LiteLLM's session id for the request (`metadata.session_id`).
    pub session_id: Option<String>,
    /// What the request's LiteLLM metadata asked the row to keep: `{trace_id,
    /// generation_name, spend_logs_metadata}`.
    pub metadata: Option<serde_json::Value>,
    /// The budgets the cost counts against (key, team, …), each with the part the writing
    /// instance's lease paid.
    #[sqlx(skip)]
    pub charges: Vec<Charge>,
    /// The redacted prompt and response, when payload logging is on.
    #[sqlx(skip)]
    pub payload: Option<Box<Payload>>,
}

/// A request's redacted prompt and response (`store_prompts_in_spend_logs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    pub request: Option<serde_json::Value>,
    pub response: Option<serde_json::Value>,
}

/// A budget a row's cost counts against, and what this instance's lease on it paid (0 for a
/// budget without a limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub subject: Arc<str>,
    pub drawn_micros: i64,
}

impl SpendRow {
    /// Every upstream attempt, in order. A request its first attempt served stores none: that
    /// attempt is the row's own deployment, status and latency.
    pub fn attempt_list(&self) -> serde_json::Value {
        match &self.attempts {
            Some(list) => list.clone(),
            None => serde_json::json!([{
                "model_group": self.model_group,
                "deployment_id": self.model_id,
                "api_base": self.api_base,
                "outcome": "success",
                "status": self.http_status,
                "latency_ms": self.latency_ms,
            }]),
        }
    }
}

/// A budget's spend after a batch landed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BudgetSpend {
    pub subject: String,
    pub spend_micros: i64,
}

/// What an upsert into a daily rollup (aliased `d`) adds a batch's counters to.
macro_rules! add_to_rollup {
    () => {
        "DO UPDATE SET requests = d.requests + EXCLUDED.requests, \
         failed_requests = d.failed_requests + EXCLUDED.failed_requests, \
         prompt_tokens = d.prompt_tokens + EXCLUDED.prompt_tokens, \
         completion_tokens = d.completion_tokens + EXCLUDED.completion_tokens, \
         cached_tokens = d.cached_tokens + EXCLUDED.cached_tokens, \
         cache_write_tokens = d.cache_write_tokens + EXCLUDED.cache_write_tokens, \
         reasoning_tokens = d.reasoning_tokens + EXCLUDED.reasoning_tokens, \
         cost_micros = d.cost_micros + EXCLUDED.cost_micros, \
         latency_ms_sum = d.latency_ms_sum + EXCLUDED.latency_ms_sum "
    };
}

/// Inserts a batch in one statement and adds the cost of the rows actually inserted to the
/// budgets they count against, moving what `instance`'s leases paid from leased to spent.
/// Idempotent: rows whose request id already exists are skipped and not counted again.
pub async fn insert_batch(
    pool: &PgPool,
    rows: &[SpendRow],
    instance: Uuid,
) -> Result<Vec<BudgetSpend>, sqlx::Error> {
    let mut request_ids = Vec::with_capacity(rows.len());
    let mut token_hashes = Vec::with_capacity(rows.len());
    let mut call_types = Vec::with_capacity(rows.len());
    let mut model_groups = Vec::with_capacity(rows.len());
    let mut upstream_models = Vec::with_capacity(rows.len());
    let mut providers = Vec::with_capacity(rows.len());
    let mut api_bases = Vec::with_capacity(rows.len());
    let mut prompt_tokens = Vec::with_capacity(rows.len());
    let mut completion_tokens = Vec::with_capacity(rows.len());
    let mut cached_tokens = Vec::with_capacity(rows.len());
    let mut cache_write_tokens = Vec::with_capacity(rows.len());
    let mut reasoning_tokens = Vec::with_capacity(rows.len());
    let mut costs = Vec::with_capacity(rows.len());
    let mut latencies = Vec::with_capacity(rows.len());
    let mut http_statuses = Vec::with_capacity(rows.len());
    let mut statuses = Vec::with_capacity(rows.len());
    let mut streams = Vec::with_capacity(rows.len());
    let mut estimated = Vec::with_capacity(rows.len());
    let mut end_users = Vec::with_capacity(rows.len());
    let mut started = Vec::with_capacity(rows.len());
    let mut ended = Vec::with_capacity(rows.len());
    let mut model_ids = Vec::with_capacity(rows.len());
    let mut attempts = Vec::with_capacity(rows.len());
    let mut team_ids = Vec::with_capacity(rows.len());
    let mut user_ids = Vec::with_capacity(rows.len());
    let mut project_ids = Vec::with_capacity(rows.len());
    let mut tags = Vec::with_capacity(rows.len());
    let mut session_ids = Vec::with_capacity(rows.len());
    let mut metadatas = Vec::with_capacity(rows.len());
    let mut payload_requests = Vec::new();
    let mut payload_bodies = Vec::new();
    let mut payload_responses = Vec::new();
    let mut charge_requests = Vec::with_capacity(rows.len() * 2);
    let mut charge_subjects = Vec::with_capacity(rows.len() * 2);
    let mut charge_drawn = Vec::with_capacity(rows.len() * 2);
    for row in rows {
        team_ids.push(row.team_id.as_deref());
        user_ids.push(row.user_id.as_deref());
        project_ids.push(row.project_id.as_deref());
        tags.push(
            row.request_tags
                .as_ref()
                .map(|tags| serde_json::json!(tags)),
        );
        session_ids.push(row.session_id.as_deref());
        metadatas.push(row.metadata.as_ref());
        if let Some(payload) = &row.payload {
            payload_requests.push(row.request_id.as_str());
            payload_bodies.push(payload.request.as_ref());
            payload_responses.push(payload.response.as_ref());
        }
        for charge in &row.charges {
            charge_requests.push(row.request_id.as_str());
            charge_subjects.push(charge.subject.as_ref());
            charge_drawn.push(charge.drawn_micros);
        }
        request_ids.push(row.request_id.as_str());
        token_hashes.push(row.token_hash.as_str());
        call_types.push(row.call_type.as_str());
        model_groups.push(row.model_group.as_str());
        upstream_models.push(row.upstream_model.as_str());
        providers.push(row.provider.as_str());
        api_bases.push(row.api_base.as_str());
        prompt_tokens.push(row.prompt_tokens);
        completion_tokens.push(row.completion_tokens);
        cached_tokens.push(row.cached_tokens);
        cache_write_tokens.push(row.cache_write_tokens);
        reasoning_tokens.push(row.reasoning_tokens);
        costs.push(row.cost_micros);
        latencies.push(row.latency_ms);
        http_statuses.push(row.http_status);
        statuses.push(row.status.as_str());
        streams.push(row.is_stream);
        estimated.push(row.usage_estimated);
        end_users.push(row.end_user.as_deref());
        started.push(row.started_at);
        ended.push(row.ended_at);
        model_ids.push(row.model_id.as_str());
        attempts.push(row.attempts.as_ref());
    }
    sqlx::query_as(concat!(
        "WITH inserted AS ( \
           INSERT INTO spend_logs (request_id, token_hash, call_type, model_group, upstream_model, \
             provider, api_base, prompt_tokens, completion_tokens, cost_micros, latency_ms, \
             http_status, status, is_stream, usage_estimated, end_user, started_at, ended_at, \
             cached_tokens, cache_write_tokens, reasoning_tokens, model_id, attempts, team_id, \
             user_id, project_id, request_tags, session_id, metadata) \
           SELECT u.request_id, u.token_hash, u.call_type, u.model_group, u.upstream_model, \
             u.provider, u.api_base, u.prompt_tokens, u.completion_tokens, u.cost_micros, \
             u.latency_ms, u.http_status, u.status, u.is_stream, u.usage_estimated, u.end_user, \
             u.started_at, u.ended_at, u.cached_tokens, u.cache_write_tokens, \
             u.reasoning_tokens, u.model_id, u.attempts, u.team_id, u.user_id, u.project_id, \
             CASE WHEN u.tags IS NULL THEN NULL \
                  ELSE ARRAY(SELECT jsonb_array_elements_text(u.tags)) END, \
             u.session_id, u.metadata \
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::int[], \
             $12::smallint[], $13::text[], $14::bool[], $15::bool[], $16::text[], \
             $17::timestamptz[], $18::timestamptz[], $19::bigint[], $20::bigint[], \
             $21::bigint[], $22::text[], $23::jsonb[], $24::text[], $29::text[], $30::text[], \
             $31::jsonb[], $35::text[], $36::jsonb[]) \
             AS u(request_id, token_hash, call_type, model_group, upstream_model, provider, \
               api_base, prompt_tokens, completion_tokens, cost_micros, latency_ms, \
               http_status, status, is_stream, usage_estimated, end_user, started_at, ended_at, \
               cached_tokens, cache_write_tokens, reasoning_tokens, model_id, attempts, team_id, \
               user_id, project_id, tags, session_id, metadata) \
           ON CONFLICT (request_id, started_at) DO NOTHING \
           RETURNING request_id, cost_micros, token_hash, team_id, project_id, user_id, \
             model_group, provider, status, prompt_tokens, completion_tokens, cached_tokens, \
             cache_write_tokens, reasoning_tokens, latency_ms, request_tags, started_at, \
             (started_at AT TIME ZONE 'UTC')::date AS day \
         ), daily AS ( \
           INSERT INTO spend_daily AS d (day, token_hash, team_id, project_id, user_id, \
             model_group, provider, requests, failed_requests, prompt_tokens, \
             completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, \
             cost_micros, latency_ms_sum) \
           SELECT day, token_hash, coalesce(team_id, ''), coalesce(project_id, ''), \
             coalesce(user_id, ''), model_group, provider, count(*), \
             count(*) FILTER (WHERE status = 'failure'), sum(prompt_tokens)::bigint, \
             sum(completion_tokens)::bigint, sum(cached_tokens)::bigint, \
             sum(cache_write_tokens)::bigint, sum(reasoning_tokens)::bigint, \
             sum(cost_micros)::bigint, sum(latency_ms)::bigint \
           FROM inserted GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 \
           ON CONFLICT (day, token_hash, team_id, project_id, user_id, model_group, provider) ",
        add_to_rollup!(),
        "), daily_groups AS ( \
           INSERT INTO spend_daily_groups AS d (day, team_id, project_id, model_group, \
             provider, requests, failed_requests, prompt_tokens, completion_tokens, \
             cached_tokens, cache_write_tokens, reasoning_tokens, cost_micros, latency_ms_sum) \
           SELECT day, coalesce(team_id, ''), coalesce(project_id, ''), model_group, provider, \
             count(*), count(*) FILTER (WHERE status = 'failure'), sum(prompt_tokens)::bigint, \
             sum(completion_tokens)::bigint, sum(cached_tokens)::bigint, \
             sum(cache_write_tokens)::bigint, sum(reasoning_tokens)::bigint, \
             sum(cost_micros)::bigint, sum(latency_ms)::bigint \
           FROM inserted GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 \
           ON CONFLICT (day, team_id, project_id, model_group, provider) ",
        add_to_rollup!(),
        "), daily_tags AS ( \
           INSERT INTO spend_daily_tags AS d (day, tag, token_hash, team_id, project_id, \
             user_id, model_group, provider, requests, failed_requests, prompt_tokens, \
             completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, \
             cost_micros, latency_ms_sum) \
           SELECT day, tag, token_hash, coalesce(team_id, ''), coalesce(project_id, ''), \
             coalesce(user_id, ''), model_group, provider, count(*), \
             count(*) FILTER (WHERE status = 'failure'), sum(prompt_tokens)::bigint, \
             sum(completion_tokens)::bigint, sum(cached_tokens)::bigint, \
             sum(cache_write_tokens)::bigint, sum(reasoning_tokens)::bigint, \
             sum(cost_micros)::bigint, sum(latency_ms)::bigint \
           FROM inserted, unnest(request_tags) AS tag \
           GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8 \
           ON CONFLICT (day, tag, token_hash, team_id, project_id, user_id, model_group, \
             provider) ",
        add_to_rollup!(),
        "), latency AS ( \
           INSERT INTO latency_daily AS l (day, model_group, provider, bucket, requests) \
           SELECT day, model_group, provider, floor(4 * log(2, 1 + greatest(latency_ms, 0)::numeric))::smallint, count(*) \
           FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
           ON CONFLICT (day, model_group, provider, bucket) \
           DO UPDATE SET requests = l.requests + EXCLUDED.requests \
         ), payloads AS ( \
           INSERT INTO spend_payloads (request_id, started_at, request, response) \
           SELECT p.request_id, i.started_at, p.request, p.response \
           FROM UNNEST($32::text[], $33::jsonb[], $34::jsonb[]) \
             AS p(request_id, request, response) \
           JOIN inserted AS i USING (request_id) \
           ON CONFLICT (request_id) DO NOTHING \
         ), charges AS ( \
           SELECT c.subject, sum(i.cost_micros)::bigint AS spend, sum(c.drawn)::bigint AS drawn \
           FROM UNNEST($25::text[], $26::text[], $27::bigint[]) AS c(request_id, subject, drawn) \
           JOIN inserted AS i USING (request_id) GROUP BY c.subject \
         ), drawn AS ( \
           UPDATE budget_leases AS l SET micros = l.micros - c.drawn \
           FROM charges AS c \
           WHERE l.subject = c.subject AND l.instance_id = $28 AND c.drawn > 0 \
             AND l.micros >= c.drawn \
           RETURNING l.subject, c.drawn \
         ) \
         INSERT INTO budget_counters AS b (subject, spend_micros) \
         SELECT subject, spend FROM charges \
         ON CONFLICT (subject) DO UPDATE SET spend_micros = b.spend_micros + EXCLUDED.spend_micros, \
           leased_micros = b.leased_micros \
             - COALESCE((SELECT d.drawn FROM drawn AS d WHERE d.subject = EXCLUDED.subject), 0) \
         RETURNING b.subject, b.spend_micros"
    ),
    )
    .bind(&request_ids)
    .bind(&token_hashes)
    .bind(&call_types)
    .bind(&model_groups)
    .bind(&upstream_models)
    .bind(&providers)
    .bind(&api_bases)
    .bind(&prompt_tokens)
    .bind(&completion_tokens)
    .bind(&costs)
    .bind(&latencies)
    .bind(&http_statuses)
    .bind(&statuses)
    .bind(&streams)
    .bind(&estimated)
    .bind(&end_users)
    .bind(&started)
    .bind(&ended)
    .bind(&cached_tokens)
    .bind(&cache_write_tokens)
    .bind(&reasoning_tokens)
    .bind(&model_ids)
    .bind(&attempts)
    .bind(&team_ids)
    .bind(&charge_requests)
    .bind(&charge_subjects)
    .bind(&charge_drawn)
    .bind(instance)
    .bind(&user_ids)
    .bind(&project_ids)
    .bind(&tags)
    .bind(&payload_requests)
    .bind(&payload_bodies)
    .bind(&payload_responses)
    .bind(&session_ids)
    .bind(&metadatas)
    .fetch_all(pool)
    .await
}

/// Filters for reading the spend log (LiteLLM `/spend/logs` parameters and the console's
/// Logs page). Every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct SpendFilter {
    pub token_hash: Option<String>,
    pub request_id: Option<String>,
    pub team_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub end_user: Option<String>,
    pub model: Option<String>,
    /// `success` or `failure`.
    pub status: Option<String>,
    pub tag: Option<String>,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    /// Only rows older than this one (keyset pagination, newest first).
    pub before: Option<(OffsetDateTime, String)>,
    pub limit: i64,
}

const ROW_COLUMNS: &str = "SELECT request_id, token_hash, call_type, model_group, upstream_model, \
    provider, api_base, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, \
    reasoning_tokens, cost_micros, latency_ms, http_status, status, is_stream, usage_estimated, \
    end_user, started_at, ended_at, model_id, attempts, team_id, user_id, project_id, \
    request_tags, session_id, metadata FROM spend_logs WHERE true";

/// Spend rows matching the filter, newest first (`started_at`, then `request_id`, both
/// descending: the order keyset pagination continues from).
pub async fn list(pool: &PgPool, filter: &SpendFilter) -> Result<Vec<SpendRow>, sqlx::Error> {
    let mut query = sqlx::QueryBuilder::new(ROW_COLUMNS);
    let columns = [
        ("token_hash", &filter.token_hash),
        ("request_id", &filter.request_id),
        ("team_id", &filter.team_id),
        ("user_id", &filter.user_id),
        ("project_id", &filter.project_id),
        ("end_user", &filter.end_user),
        ("model_group", &filter.model),
        ("status", &filter.status),
    ];
    push_equal(&mut query, columns);
    if let Some(tag) = &filter.tag {
        query.push(" AND request_tags @> ARRAY[");
        query.push_bind(tag.clone());
        query.push("]::text[]");
    }
    if let Some(start) = filter.start {
        query.push(" AND started_at >= ");
        query.push_bind(start);
    }
    if let Some(end) = filter.end {
        query.push(" AND started_at < ");
        query.push_bind(end);
    }
    if let Some((at, request_id)) = &filter.before {
        query.push(" AND (started_at, request_id) < (");
        query.push_bind(*at);
        query.push(", ");
        query.push_bind(request_id.clone());
        query.push(")");
    }
    query.push(" ORDER BY started_at DESC, request_id DESC LIMIT ");
    query.push_bind(filter.limit);
    query.build_query_as().fetch_all(pool).await
}

/// A keyset position in the log (newest first): `<unix nanoseconds>.<request id>`.
pub fn cursor_of(at: OffsetDateTime, request_id: &str) -> String {
    format!("{}.{request_id}", at.unix_timestamp_nanos())
}

/// Reads a position [`cursor_of`] made; `None` for anything else.
pub fn parse_cursor(text: &str) -> Option<(OffsetDateTime, String)> {
    let (nanos, request_id) = text.split_once('.')?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?;
    (!request_id.is_empty()).then(|| (at, request_id.to_string()))
}

/// The stored (redacted) payload of a request, if payload logging kept one.
pub async fn payload(pool: &PgPool, request_id: &str) -> Result<Option<Payload>, sqlx::Error> {
    let row: Option<(Option<serde_json::Value>, Option<serde_json::Value>)> =
        sqlx::query_as("SELECT request, response FROM spend_payloads WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(request, response)| Payload { request, response }))
}

/// Makes the log's monthly partitions from `first` to `last` (any day of each month) that do
/// not exist yet; returns how many it made.
pub async fn ensure_partitions(
    pool: &PgPool,
    first: time::Date,
    last: time::Date,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT spend_logs_ensure_partitions($1, $2)")
        .bind(first)
        .bind(last)
        .fetch_one(pool)
        .await
}

/// Deletes raw rows that started before `cutoff` (whole months by dropping their partition);
/// rollups are kept. Returns the partitions dropped.
pub async fn prune(pool: &PgPool, cutoff: OffsetDateTime) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT spend_logs_prune($1)")
        .bind(cutoff)
        .fetch_one(pool)
        .await
}

/// Deletes stored payloads of requests that started before `cutoff`, at most `batch` of them;
/// returns how many it deleted.
pub async fn prune_payloads(
    pool: &PgPool,
    cutoff: OffsetDateTime,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM spend_payloads WHERE request_id IN ( \
           SELECT request_id FROM spend_payloads WHERE started_at < $1 LIMIT $2)",
    )
    .bind(cutoff)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Spend and request count per UTC day for the `days` days ending with `last_day`, oldest
/// first; days without requests are present with zeros.
pub async fn daily_totals(
    pool: &PgPool,
    last_day: time::Date,
    days: i32,
) -> Result<Vec<DailySpend>, sqlx::Error> {
    sqlx::query_as(
        "SELECT to_char(g.day, 'YYYY-MM-DD') AS day, \
           coalesce(sum(d.cost_micros), 0)::bigint AS spend_micros, \
           coalesce(sum(d.requests), 0)::bigint AS requests \
         FROM generate_series($1::date - ($2::int - 1), $1::date, interval '1 day') AS g(day) \
         LEFT JOIN spend_daily AS d ON d.day = g.day::date \
         GROUP BY g.day \
         ORDER BY g.day",
    )
    .bind(last_day)
    .bind(days)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_547_200_123_456_789).unwrap();
        let cursor = cursor_of(at, "0b1c-req");
        assert_eq!(parse_cursor(&cursor), Some((at, "0b1c-req".to_string())));
        for bad in ["", "abc", "12.", "x.req", "99999999999999999999999999.req"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
