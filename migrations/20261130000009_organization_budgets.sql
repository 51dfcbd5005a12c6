-- Organizations own teams; an organization's budget (`org:<organization_id>` in
-- budget_counters) binds every key of every team in it. A key carries its team's organization,
-- so moving a team to another organization reloads the team's keys on every instance.

CREATE FUNCTION notify_team_keys_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'key:' || token_hash)
        FROM virtual_keys
        WHERE team_id = NEW.team_id AND revoked_at IS NULL;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER teams_organization_changed
    AFTER UPDATE OF organization_id ON teams
    FOR EACH ROW
    WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION notify_team_keys_change();

CREATE INDEX teams_organization ON teams (organization_id) WHERE organization_id IS NOT NULL;
