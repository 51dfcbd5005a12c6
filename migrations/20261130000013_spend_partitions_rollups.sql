-- The spend log becomes partitioned by month (UTC) of `started_at`, so old months are pruned by
-- dropping a table rather than deleting millions of rows, and daily rollups keep what the
-- dashboards and reports read. Rows of a month without a partition land in the default
-- partition until one is made for them (`spend_logs_ensure_partitions` moves them over).

ALTER TABLE spend_logs RENAME TO spend_logs_unpartitioned;

CREATE TABLE spend_logs (LIKE spend_logs_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (started_at);
-- Request ids are made by the gateway (UUID v4) and a retried batch repeats a row's own
-- `started_at`, so this key still makes every insert idempotent.
ALTER TABLE spend_logs ADD PRIMARY KEY (request_id, started_at);
CREATE TABLE spend_logs_default PARTITION OF spend_logs DEFAULT;

-- Makes a partition for every month from `first_month` to `last_month` (any day of each) that
-- has none, moving that month's rows out of the default partition first. Returns how many it
-- made. Safe to call from many instances at once.
CREATE FUNCTION spend_logs_ensure_partitions(first_month date, last_month date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month date := date_trunc('month', first_month)::date;
    lower_bound timestamptz;
    upper_bound timestamptz;
    partition_name text;
    made integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('spend_logs_ensure_partitions'));
    WHILE month <= last_month LOOP
        partition_name := 'spend_logs_' || to_char(month, 'YYYY_MM');
        IF to_regclass(partition_name) IS NULL THEN
            lower_bound := month::timestamp AT TIME ZONE 'UTC';
            upper_bound := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
            EXECUTE format(
                'CREATE TABLE %I (LIKE spend_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                partition_name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM spend_logs_default '
                'WHERE started_at >= %L AND started_at < %L RETURNING *) '
                'INSERT INTO %I SELECT * FROM moved',
                lower_bound, upper_bound, partition_name);
            EXECUTE format(
                'ALTER TABLE spend_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                partition_name, lower_bound, upper_bound);
            made := made + 1;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;

-- The time before which raw rows were pruned (rollups of older days have no raw rows left to be
-- checked against).
CREATE TABLE spend_logs_pruned (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pruned_before timestamptz NOT NULL
);

-- Drops every monthly partition that ends at or before `cutoff` and deletes the older rows
-- left in the partition holding `cutoff` and in the default partition. Returns the partitions
-- dropped. Rollups are kept.
CREATE FUNCTION spend_logs_prune(cutoff timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    partition_name text;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('spend_logs_ensure_partitions'));
    FOR partition_name IN
        SELECT child.relname
        FROM pg_inherits
        JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid
        JOIN pg_class AS parent ON parent.oid = pg_inherits.inhparent
        WHERE parent.relname = 'spend_logs' AND child.relname ~ '^spend_logs_[0-9]{4}_[0-9]{2}$'
    LOOP
        IF (to_date(substr(partition_name, 12), 'YYYY_MM') + interval '1 month')::timestamp
                AT TIME ZONE 'UTC' <= cutoff THEN
            EXECUTE format('DROP TABLE %I', partition_name);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM spend_logs WHERE started_at < cutoff;
    INSERT INTO spend_logs_pruned (pruned_before) VALUES (cutoff)
    ON CONFLICT (singleton) DO UPDATE
        SET pruned_before = greatest(spend_logs_pruned.pruned_before, EXCLUDED.pruned_before);
    RETURN dropped;
END $$;

SELECT spend_logs_ensure_partitions(
    least(
        coalesce((SELECT min(started_at) FROM spend_logs_unpartitioned), now()),
        now()
    )::date,
    (now() + interval '2 months')::date
);

INSERT INTO spend_logs SELECT * FROM spend_logs_unpartitioned;
DROP TABLE spend_logs_unpartitioned;
ALTER INDEX spend_logs_pkey1 RENAME TO spend_logs_pkey;

CREATE INDEX spend_logs_time ON spend_logs (started_at DESC, request_id DESC);
CREATE INDEX spend_logs_key_time ON spend_logs (token_hash, started_at DESC);
CREATE INDEX spend_logs_team_time ON spend_logs (team_id, started_at DESC)
    WHERE team_id IS NOT NULL;
CREATE INDEX spend_logs_user_time ON spend_logs (user_id, started_at DESC)
    WHERE user_id IS NOT NULL;
CREATE INDEX spend_logs_end_user_time ON spend_logs (end_user, started_at DESC)
    WHERE end_user IS NOT NULL;
CREATE INDEX spend_logs_project_time ON spend_logs (project_id, started_at DESC)
    WHERE project_id IS NOT NULL;
CREATE INDEX spend_logs_model_time ON spend_logs (model_group, started_at DESC);
CREATE INDEX spend_logs_tags ON spend_logs USING gin (request_tags)
    WHERE request_tags IS NOT NULL;

-- Per UTC day × key × team × project × user × model group × provider: what the raw rows of
-- that day add up to, advanced in the same statement that inserts them. '' stands for "none"
-- so the key can be a primary key.
CREATE TABLE spend_daily (
    day                date NOT NULL,
    token_hash         text NOT NULL,
    team_id            text NOT NULL,
    project_id         text NOT NULL,
    user_id            text NOT NULL,
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
    PRIMARY KEY (day, token_hash, team_id, project_id, user_id, model_group, provider)
);
CREATE INDEX spend_daily_team ON spend_daily (team_id, day) WHERE team_id <> '';
CREATE INDEX spend_daily_project ON spend_daily (project_id, day) WHERE project_id <> '';
CREATE INDEX spend_daily_user ON spend_daily (user_id, day) WHERE user_id <> '';
CREATE INDEX spend_daily_key ON spend_daily (token_hash, day);
CREATE INDEX spend_daily_model ON spend_daily (model_group, day);

-- The same per request tag (a row with three tags counts in three rows here).
CREATE TABLE spend_daily_tags (
    day                date NOT NULL,
    tag                text NOT NULL,
    token_hash         text NOT NULL,
    team_id            text NOT NULL,
    project_id         text NOT NULL,
    user_id            text NOT NULL,
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
    PRIMARY KEY (day, tag, token_hash, team_id, project_id, user_id, model_group, provider)
);
CREATE INDEX spend_daily_tags_tag ON spend_daily_tags (tag, day);

-- Request latency per day × model group × provider as a histogram: bucket b holds latencies
-- with floor(4 · log2(1 + ms)) = b, so a percentile read from it is within 19 %.
CREATE TABLE latency_daily (
    day         date NOT NULL,
    model_group text NOT NULL,
    provider    text NOT NULL,
    bucket      smallint NOT NULL CHECK (bucket >= 0),
    requests    bigint NOT NULL,
    PRIMARY KEY (day, model_group, provider, bucket)
);

-- Rebuilds every rollup from the raw rows (the backfill below, and bulk loads such as the
-- benchmark's generator). The batch writer keeps them current incrementally.
CREATE FUNCTION spend_rollups_rebuild() RETURNS void LANGUAGE sql AS $$
TRUNCATE spend_daily, spend_daily_tags, latency_daily;
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
$$;

SELECT spend_rollups_rebuild();

-- Prompt and response of a request, redacted, when `store_prompts_in_spend_logs` is on; kept
-- for their own (shorter) retention.
CREATE TABLE spend_payloads (
    request_id text PRIMARY KEY,
    started_at timestamptz NOT NULL,
    request    jsonb,
    response   jsonb
);
CREATE INDEX spend_payloads_time ON spend_payloads (started_at);
