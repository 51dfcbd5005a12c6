-- Governance, first part: organizations and teams that keys belong to, and the budget ledger
-- that holds every budget (key, team, and later project, organization, user, member, end user,
-- tag) as one kind of row, so one statement reserves against any of them.

CREATE TABLE organizations (
    organization_id    TEXT PRIMARY KEY,
    organization_alias TEXT NOT NULL,
    models             TEXT[] NOT NULL DEFAULT '{}',
    metadata           JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_by         TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A deleted team keeps its row (its spend stays attributable) with `deleted_at` set; its keys
-- are revoked in the same transaction.
CREATE TABLE teams (
    team_id         TEXT PRIMARY KEY,
    team_alias      TEXT,
    organization_id TEXT REFERENCES organizations ON DELETE RESTRICT,
    models          TEXT[] NOT NULL DEFAULT '{}',
    blocked         BOOLEAN NOT NULL DEFAULT false,
    metadata        JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);

CREATE UNIQUE INDEX teams_live_alias ON teams (team_alias)
    WHERE deleted_at IS NULL AND team_alias IS NOT NULL;

ALTER TABLE virtual_keys
    ADD COLUMN team_id TEXT REFERENCES teams ON DELETE RESTRICT,
    ADD COLUMN blocked BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX virtual_keys_team ON virtual_keys (team_id) WHERE team_id IS NOT NULL;

-- Every budget, named by its subject: `key:<token hash>`, `team:<team id>`, … . `spend_micros`
-- is the spend of the current window (all time when `duration` is NULL). `leased_micros` is
-- what instances hold in leases (`budget_leases`) to admit requests from memory: an instance
-- leases before it admits, so spend + leased never passes max_micros and concurrent requests,
-- on any number of instances, cannot overspend.
CREATE TABLE budget_counters (
    subject         TEXT PRIMARY KEY
        CHECK (subject ~ '^(key|team|project|org|user|member|end_user|tag):.+$'),
    max_micros      BIGINT CHECK (max_micros >= 0),
    soft_micros     BIGINT CHECK (soft_micros >= 0),
    -- LiteLLM's `budget_duration` text (`30s`, `1h`, `1d`, `7d`, `1mo`) and the same as an
    -- interval; spend returns to 0 at `resets_at`, which then moves on by `period`.
    duration        TEXT,
    period          INTERVAL CHECK (period > interval '0'),
    resets_at       TIMESTAMPTZ,
    spend_micros    BIGINT NOT NULL DEFAULT 0 CHECK (spend_micros >= 0),
    leased_micros   BIGINT NOT NULL DEFAULT 0 CHECK (leased_micros >= 0),
    CHECK ((duration IS NULL) = (period IS NULL) AND (period IS NULL) = (resets_at IS NULL))
);

CREATE INDEX budget_counters_resets ON budget_counters (resets_at) WHERE resets_at IS NOT NULL;

-- The part of a budget one instance holds. A lease whose instance stopped renewing it is
-- returned to its budget by any other instance.
CREATE TABLE budget_leases (
    subject     TEXT NOT NULL REFERENCES budget_counters ON DELETE CASCADE,
    instance_id UUID NOT NULL,
    micros      BIGINT NOT NULL CHECK (micros >= 0),
    renewed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, instance_id)
);

CREATE INDEX budget_leases_instance ON budget_leases (instance_id);

INSERT INTO budget_counters (subject, max_micros, spend_micros)
SELECT 'key:' || token_hash, max_budget_micros, spend_micros FROM virtual_keys;

-- Spend rows name the team the key belonged to when the request ran.
ALTER TABLE spend_logs ADD COLUMN team_id TEXT;
CREATE INDEX spend_logs_team_time ON spend_logs (team_id, started_at) WHERE team_id IS NOT NULL;

-- A budget's limits changed: instances drop what they know of it. (Spend moves with every
-- batch and is not announced.)
CREATE FUNCTION notify_budget_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'budget:' || COALESCE(NEW.subject, OLD.subject));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER budget_counters_limits_changed
    AFTER INSERT OR DELETE OR UPDATE OF max_micros, soft_micros, duration
    ON budget_counters
    FOR EACH ROW EXECUTE FUNCTION notify_budget_change();

CREATE FUNCTION notify_team_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'team:' || COALESCE(NEW.team_id, OLD.team_id));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER teams_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF models, blocked, deleted_at
    ON teams
    FOR EACH ROW EXECUTE FUNCTION notify_team_change();

DROP TRIGGER virtual_keys_policy_changed ON virtual_keys;
ALTER TABLE virtual_keys DROP COLUMN max_budget_micros, DROP COLUMN spend_micros;
CREATE TRIGGER virtual_keys_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF key_alias, models, metadata, expires_at, revoked_at,
        team_id, blocked
    ON virtual_keys
    FOR EACH ROW EXECUTE FUNCTION notify_virtual_key_change();
