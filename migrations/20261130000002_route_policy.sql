-- The route policy edited on the console's Routes page: overrides of config.yaml's routing
-- (strategy, retries, cooldowns, fallback chains per group, request classes), one document for
-- the whole gateway. Every instance applies it when it changes, without a restart.
CREATE TABLE route_policy (
    singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    overrides  JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(overrides) = 'object'),
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION notify_route_policy_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'routes');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER route_policy_changed
    AFTER INSERT OR UPDATE OR DELETE ON route_policy
    FOR EACH STATEMENT EXECUTE FUNCTION notify_route_policy_change();
