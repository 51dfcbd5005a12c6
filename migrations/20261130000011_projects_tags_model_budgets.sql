-- Governance, last part: projects (a cost-attribution unit a key belongs to, with a budget
-- `project:<project_id>`), tags (named request labels with a budget `tag:<name>`), per-model
-- budgets on keys (`key:<token hash>:model:<model>`) and the routes a key may call.

CREATE TABLE projects (
    project_id    TEXT PRIMARY KEY CHECK (length(project_id) BETWEEN 1 AND 200),
    project_alias TEXT,
    description   TEXT,
    team_id       TEXT REFERENCES teams ON DELETE RESTRICT,
    models        TEXT[] NOT NULL DEFAULT '{}',
    metadata      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX projects_team ON projects (team_id) WHERE team_id IS NOT NULL;

ALTER TABLE virtual_keys
    ADD COLUMN project_id TEXT REFERENCES projects ON DELETE RESTRICT,
    -- `{model: {"budget_limit": dollars, "time_period": "1d" | null}}`, as the key was given it;
    -- the budgets themselves are rows of budget_counters.
    ADD COLUMN model_max_budget JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Paths, `prefix*` patterns or LiteLLM route groups; empty: every route.
    ADD COLUMN allowed_routes TEXT[] NOT NULL DEFAULT '{}';

CREATE INDEX virtual_keys_project ON virtual_keys (project_id) WHERE project_id IS NOT NULL;

DROP TRIGGER virtual_keys_policy_changed ON virtual_keys;
CREATE TRIGGER virtual_keys_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF key_alias, models, metadata, expires_at, revoked_at,
        team_id, blocked, rpm_limit, tpm_limit, max_parallel_requests, model_rpm_limit,
        model_tpm_limit, user_id, project_id, model_max_budget, allowed_routes
    ON virtual_keys
    FOR EACH ROW EXECUTE FUNCTION notify_virtual_key_change();

-- A project's models bound its keys: every instance reloads the project's keys when they change.
CREATE FUNCTION notify_project_keys_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'key:' || token_hash)
        FROM virtual_keys
        WHERE project_id = NEW.project_id AND revoked_at IS NULL;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER projects_models_changed
    AFTER UPDATE OF models ON projects
    FOR EACH ROW
    WHEN (OLD.models IS DISTINCT FROM NEW.models)
    EXECUTE FUNCTION notify_project_keys_change();

-- Tags a request may carry (`metadata.tags`, `tags`, `x-litellm-tags`, its key's tags). A tag
-- made here has a budget that every request carrying it counts against, whichever key sends it.
CREATE TABLE tags (
    name        TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT,
    metadata    JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION notify_tag_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'tag:' || COALESCE(NEW.name, OLD.name));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tags_policy_changed
    AFTER INSERT OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION notify_tag_change();

-- Spend rows name the key's project and the request's tags when the request ran.
ALTER TABLE spend_logs
    ADD COLUMN project_id TEXT,
    ADD COLUMN request_tags TEXT[];

CREATE INDEX spend_logs_project_time ON spend_logs (project_id, started_at)
    WHERE project_id IS NOT NULL;
CREATE INDEX spend_logs_tags ON spend_logs USING gin (request_tags)
    WHERE request_tags IS NOT NULL;
