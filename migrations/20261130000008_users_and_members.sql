-- Users in LiteLLM's shape (console and management-API users are one list), team membership
-- with a role per team, and keys that belong to a user. A user's budget is `user:<user_id>` and
-- a member's budget within one team `member:<team_id>:<user_id>` in budget_counters; a user's
-- rate limits are the scope `user:<user_id>`.

ALTER TABLE console_users
    ADD COLUMN user_id TEXT,
    ADD COLUMN user_alias TEXT,
    ADD COLUMN models TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN rpm_limit BIGINT CHECK (rpm_limit >= 0),
    ADD COLUMN tpm_limit BIGINT CHECK (tpm_limit >= 0),
    ADD COLUMN max_parallel_requests BIGINT CHECK (max_parallel_requests >= 0),
    ADD COLUMN created_by TEXT NOT NULL DEFAULT 'setup',
    -- A user made through the management API may have neither: it then cannot log in to the
    -- console, only own keys.
    ALTER COLUMN email DROP NOT NULL,
    ALTER COLUMN password_hash DROP NOT NULL;

UPDATE console_users SET user_id = id::text;
ALTER TABLE console_users
    ALTER COLUMN user_id SET NOT NULL,
    ADD CONSTRAINT console_users_user_id_key UNIQUE (user_id),
    ADD CONSTRAINT console_users_user_id_text CHECK (length(user_id) BETWEEN 1 AND 200);

-- `admin` of a team manages its keys and members within the team's limits; `user` uses it.
CREATE TABLE team_members (
    team_id  TEXT NOT NULL REFERENCES teams,
    user_id  TEXT NOT NULL REFERENCES console_users (user_id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    added_by TEXT NOT NULL,
    added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);

CREATE INDEX team_members_user ON team_members (user_id);

-- A deleted user's keys are revoked in the same transaction; the reference is cleared so the
-- revoked rows can stay.
ALTER TABLE virtual_keys
    ADD COLUMN user_id TEXT REFERENCES console_users (user_id) ON DELETE SET NULL;

CREATE INDEX virtual_keys_user ON virtual_keys (user_id) WHERE user_id IS NOT NULL;

-- Spend rows name the user the key belonged to when the request ran.
ALTER TABLE spend_logs ADD COLUMN user_id TEXT;
CREATE INDEX spend_logs_user_time ON spend_logs (user_id, started_at) WHERE user_id IS NOT NULL;

DROP TRIGGER virtual_keys_policy_changed ON virtual_keys;
CREATE TRIGGER virtual_keys_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF key_alias, models, metadata, expires_at, revoked_at,
        team_id, blocked, rpm_limit, tpm_limit, max_parallel_requests, model_rpm_limit,
        model_tpm_limit, user_id
    ON virtual_keys
    FOR EACH ROW EXECUTE FUNCTION notify_virtual_key_change();

-- A user's models or limits changed: every instance reloads that user's keys, which carry them.
CREATE FUNCTION notify_user_keys_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'key:' || token_hash)
        FROM virtual_keys
        WHERE user_id = COALESCE(NEW.user_id, OLD.user_id) AND revoked_at IS NULL;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER console_users_policy_changed
    AFTER UPDATE OF models, rpm_limit, tpm_limit, max_parallel_requests
    ON console_users
    FOR EACH ROW EXECUTE FUNCTION notify_user_keys_change();
