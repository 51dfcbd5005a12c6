-- Named budgets (LiteLLM's budget table, `/budget/*`): limits that end users and organizations
-- link to by `budget_id`. Each linked entity keeps its own spend against them (its own row in
-- budget_counters); changing a named budget changes every linked entity's limits in the same
-- transaction. A named budget with links cannot be deleted.
CREATE TABLE budget_templates (
    budget_id        TEXT PRIMARY KEY CHECK (length(budget_id) BETWEEN 1 AND 200),
    max_micros       BIGINT CHECK (max_micros >= 0),
    soft_micros      BIGINT CHECK (soft_micros >= 0),
    duration         TEXT,
    duration_seconds BIGINT CHECK (duration_seconds > 0),
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((duration IS NULL) = (duration_seconds IS NULL))
);

ALTER TABLE end_users
    ADD COLUMN budget_id TEXT REFERENCES budget_templates ON DELETE RESTRICT;
ALTER TABLE organizations
    ADD COLUMN budget_id TEXT REFERENCES budget_templates ON DELETE RESTRICT;

CREATE INDEX end_users_budget ON end_users (budget_id) WHERE budget_id IS NOT NULL;
CREATE INDEX organizations_budget ON organizations (budget_id) WHERE budget_id IS NOT NULL;
