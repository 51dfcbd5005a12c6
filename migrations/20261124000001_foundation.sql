-- Foundation schema: console users, virtual keys (hashed), and the spend log.

CREATE TABLE console_users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'team_admin', 'finance', 'viewer')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A virtual key is identified by the SHA-256 of its secret (LiteLLM's `token`); the secret itself
-- is never stored.
CREATE TABLE virtual_keys (
    token_hash        TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
    key_name          TEXT NOT NULL,
    key_alias         TEXT,
    models            TEXT[] NOT NULL DEFAULT '{}',
    max_budget_micros BIGINT CHECK (max_budget_micros >= 0),
    spend_micros      BIGINT NOT NULL DEFAULT 0,
    metadata          JSONB NOT NULL DEFAULT '{}'::jsonb,
    expires_at        TIMESTAMPTZ,
    revoked_at        TIMESTAMPTZ,
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX virtual_keys_active_alias
    ON virtual_keys (key_alias) WHERE revoked_at IS NULL AND key_alias IS NOT NULL;

-- Every instance listens on `gatehouse_policy`; a change to a key's policy (not its spend,
-- which moves with every batch) tells them to reload that key.
CREATE FUNCTION notify_virtual_key_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'key:' || COALESCE(NEW.token_hash, OLD.token_hash));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER virtual_keys_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF key_alias, models, max_budget_micros, metadata, expires_at, revoked_at
    ON virtual_keys
    FOR EACH ROW EXECUTE FUNCTION notify_virtual_key_change();

-- One row per request that reached an upstream. `request_id` is unique so that a batch retried
-- after an ambiguous failure is never counted twice.
CREATE TABLE spend_logs (
    request_id        TEXT PRIMARY KEY,
    token_hash        TEXT NOT NULL,
    call_type         TEXT NOT NULL,
    model_group       TEXT NOT NULL,
    upstream_model    TEXT NOT NULL,
    provider          TEXT NOT NULL,
    api_base          TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens BIGINT NOT NULL CHECK (completion_tokens >= 0),
    cost_micros       BIGINT NOT NULL CHECK (cost_micros >= 0),
    latency_ms        INTEGER NOT NULL,
    http_status       SMALLINT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('success', 'failure')),
    is_stream         BOOLEAN NOT NULL,
    usage_estimated   BOOLEAN NOT NULL,
    end_user          TEXT,
    started_at        TIMESTAMPTZ NOT NULL,
    ended_at          TIMESTAMPTZ NOT NULL
);

CREATE INDEX spend_logs_key_time ON spend_logs (token_hash, started_at);
CREATE INDEX spend_logs_time ON spend_logs (started_at);
