-- The route policy edited on the console's Routes page: overrides of config.yaml's routing
-- (strategy, retries, cooldowns, fallback chains per group, request classes), one document for
-- the whole gateway. Every instance applies it when it changes, without a restart. Each change
-- takes a new version from the sequence, so a form saved from an older version is refused
-- rather than undoing the change made in between.
CREATE SEQUENCE route_policy_versions;

CREATE TABLE route_policy (
    singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    overrides  JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(overrides) = 'object'),
    version    BIGINT NOT NULL DEFAULT nextval('route_policy_versions'),
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
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
