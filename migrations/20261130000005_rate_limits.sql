-- Rate limits of keys and teams (LiteLLM's fields): requests and tokens per minute, requests in
-- flight, and per-model requests and tokens per minute of a key.
ALTER TABLE virtual_keys
    ADD COLUMN rpm_limit BIGINT CHECK (rpm_limit >= 0),
    ADD COLUMN tpm_limit BIGINT CHECK (tpm_limit >= 0),
    ADD COLUMN max_parallel_requests BIGINT CHECK (max_parallel_requests >= 0),
    ADD COLUMN model_rpm_limit JSONB NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(model_rpm_limit) = 'object'),
    ADD COLUMN model_tpm_limit JSONB NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(model_tpm_limit) = 'object');

ALTER TABLE teams
    ADD COLUMN rpm_limit BIGINT CHECK (rpm_limit >= 0),
    ADD COLUMN tpm_limit BIGINT CHECK (tpm_limit >= 0),
    ADD COLUMN max_parallel_requests BIGINT CHECK (max_parallel_requests >= 0);

DROP TRIGGER virtual_keys_policy_changed ON virtual_keys;
CREATE TRIGGER virtual_keys_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF key_alias, models, metadata, expires_at, revoked_at,
        team_id, blocked, rpm_limit, tpm_limit, max_parallel_requests, model_rpm_limit,
        model_tpm_limit
    ON virtual_keys
    FOR EACH ROW EXECUTE FUNCTION notify_virtual_key_change();

DROP TRIGGER teams_policy_changed ON teams;
CREATE TRIGGER teams_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF models, blocked, deleted_at, rpm_limit, tpm_limit,
        max_parallel_requests
    ON teams
    FOR EACH ROW EXECUTE FUNCTION notify_team_change();
