-- A narrower daily rollup for the dashboards and reports that do not look at keys or users:
-- per UTC day × team × project × model group × provider. It has a row per key fewer than
-- `spend_daily` (200 keys: 5× fewer rows in the benchmark's data, more with more keys), so
-- spend per team, project, organization, model or provider over months reads few rows.
-- Advanced in the same statement as `spend_daily`.
CREATE TABLE spend_daily_groups (
    day                date NOT NULL,
    team_id            text NOT NULL,
    project_id         text NOT NULL,
    model_group        text NOT NULL,
    provider           text NOT NULL,
    requests           bigint NOT NULL,
    failed_requests    bigint NOT NULL,
    prompt_tokens      bigint NOT NULL,
    completion_tokens  bigint NOT NULL,
    cached_tokens      bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    reasoning_tokens   bigint NOT NULL,
    cost_micros        bigint NOT NULL,
    latency_ms_sum     bigint NOT NULL,
    PRIMARY KEY (day, team_id, project_id, model_group, provider)
);

CREATE OR REPLACE FUNCTION spend_rollups_rebuild() RETURNS void LANGUAGE sql AS $$
TRUNCATE spend_daily, spend_daily_tags, latency_daily, spend_daily_groups;
INSERT INTO spend_daily
SELECT (started_at AT TIME ZONE 'UTC')::date, token_hash, coalesce(team_id, ''),
    coalesce(project_id, ''), coalesce(user_id, ''), model_group, provider, count(*),
    count(*) FILTER (WHERE status = 'failure'), sum(prompt_tokens), sum(completion_tokens),
    sum(cached_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_micros),
    sum(latency_ms)
FROM spend_logs GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO spend_daily_tags
SELECT (started_at AT TIME ZONE 'UTC')::date, tag, token_hash, coalesce(team_id, ''),
    coalesce(project_id, ''), coalesce(user_id, ''), model_group, provider, count(*),
    count(*) FILTER (WHERE status = 'failure'), sum(prompt_tokens), sum(completion_tokens),
    sum(cached_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_micros),
    sum(latency_ms)
FROM spend_logs, unnest(request_tags) AS tag GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO latency_daily
SELECT (started_at AT TIME ZONE 'UTC')::date, model_group, provider,
    floor(4 * log(2, 1 + greatest(latency_ms, 0)))::smallint, count(*)
FROM spend_logs GROUP BY 1, 2, 3, 4;

INSERT INTO spend_daily_groups
SELECT day, team_id, project_id, model_group, provider, sum(requests), sum(failed_requests),
    sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(cache_write_tokens),
    sum(reasoning_tokens), sum(cost_micros), sum(latency_ms_sum)
FROM spend_daily GROUP BY 1, 2, 3, 4, 5;
$$;

INSERT INTO spend_daily_groups
SELECT day, team_id, project_id, model_group, provider, sum(requests), sum(failed_requests),
    sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(cache_write_tokens),
    sum(reasoning_tokens), sum(cost_micros), sum(latency_ms_sum)
FROM spend_daily GROUP BY 1, 2, 3, 4, 5;
