-- Seeds the spend log with synthetic requests for the reports benchmark (scripts/bench-reports.sh),
-- never CI: `psql -v rows=10000000 -v days=90 -f scripts/seed-spend.sql`. Rows spread evenly over
-- the last `days` days across 200 keys (each in one of 20 teams, one of 40 projects and one of
-- 50 users) using each of 8 model groups on 4 providers (1,600 rollup groups a day), a tag on a
-- third of them and 2 % failures; then the rollups are rebuilt from them as the migration does.
\set ON_ERROR_STOP on
\timing on

SELECT spend_logs_ensure_partitions((now() - make_interval(days => :days))::date,
                                    (now() + interval '2 months')::date);

-- Keys, teams and projects with names, so reports label their groups as in real use.
INSERT INTO teams (team_id, team_alias, created_by)
SELECT 'bench-team-' || t, 'Team ' || t, 'seed' FROM generate_series(0, 19) AS t
ON CONFLICT DO NOTHING;
INSERT INTO projects (project_id, project_alias, team_id, created_by)
SELECT 'bench-project-' || p, 'Project ' || p, 'bench-team-' || (p % 20), 'seed'
FROM generate_series(0, 39) AS p
ON CONFLICT DO NOTHING;

SELECT set_config('seed.rows', :'rows', false), set_config('seed.days', :'days', false);

DO $$
DECLARE
    chunk  bigint := 1000000;
    total  bigint := current_setting('seed.rows')::bigint;
    span   double precision := current_setting('seed.days')::double precision * 86400.0;
    first  bigint := 0;
BEGIN
    WHILE first < total LOOP
        INSERT INTO spend_logs (request_id, token_hash, call_type, model_group, upstream_model,
            provider, api_base, prompt_tokens, completion_tokens, cost_micros, latency_ms,
            http_status, status, is_stream, usage_estimated, end_user, started_at, ended_at,
            cached_tokens, cache_write_tokens, reasoning_tokens, model_id, attempts, team_id,
            user_id, project_id, request_tags)
        SELECT 'seed-' || g,
            'bench-key-' || (g % 200),
            'acompletion',
            'model-' || ((g / 200) % 8),
            'upstream-' || ((g / 200) % 8),
            (ARRAY['openai', 'anthropic', 'gemini', 'bedrock'])[1 + ((g / 200) % 8) % 4],
            'http://127.0.0.1:1/v1',
            100 + (g * 7919) % 4000,
            10 + (g * 104729) % 900,
            50 + (g * 15485863) % 20000,
            20 + ((g * 2654435761) % 3000)::int,
            CASE WHEN (g / 200) % 50 = 7 THEN 502 ELSE 200 END,
            CASE WHEN (g / 200) % 50 = 7 THEN 'failure' ELSE 'success' END,
            g % 3 = 0,
            false,
            NULL,
            now() - make_interval(secs => (g::double precision / total) * span),
            now() - make_interval(secs => (g::double precision / total) * span) + interval '400 ms',
            (g * 31) % 100,
            0,
            0,
            'deployment-' || ((g / 200) % 8),
            NULL,
            'bench-team-' || ((g % 200) % 20),
            'bench-user-' || ((g % 200) % 50),
            'bench-project-' || ((g % 200) % 40),
            CASE WHEN g % 3 = 0 THEN ARRAY['tag-' || (g % 12)] END
        FROM generate_series(first, least(first + chunk, total) - 1) AS g;
        first := first + chunk;
        RAISE NOTICE 'seeded % rows', least(first, total);
        COMMIT;
    END LOOP;
END $$;

SELECT spend_rollups_rebuild();
VACUUM ANALYZE spend_logs;
VACUUM ANALYZE spend_daily;
VACUUM ANALYZE spend_daily_tags;
VACUUM ANALYZE latency_daily;
SELECT count(*) AS raw_rows FROM spend_logs;
SELECT count(*) AS rollup_rows FROM spend_daily;
