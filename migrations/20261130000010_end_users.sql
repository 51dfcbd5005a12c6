-- End users (LiteLLM's customers): the `user` field of a request names one. A known end user can
-- be blocked, and has its own budget (`end_user:<user_id>` in budget_counters) that every request
-- naming it counts against, whichever key sends it.
CREATE TABLE end_users (
    user_id    TEXT PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 200),
    alias      TEXT,
    blocked    BOOLEAN NOT NULL DEFAULT false,
    metadata   JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION notify_end_user_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'end_user:' || COALESCE(NEW.user_id, OLD.user_id));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER end_users_policy_changed
    AFTER INSERT OR DELETE OR UPDATE OF blocked ON end_users
    FOR EACH ROW EXECUTE FUNCTION notify_end_user_change();

-- Spend of one end user over time.
CREATE INDEX spend_logs_end_user_time ON spend_logs (end_user, started_at)
    WHERE end_user IS NOT NULL;
