-- Deployments added from the console or LiteLLM's `/model/new`: served beside config.yaml's
-- model_list. Secret params (api_key, AWS keys, service-account JSON) are never in
-- `litellm_params`: they are sealed together (AES-256-GCM, versioned, bound to the row's id) in
-- `sealed_secrets`.
CREATE TABLE deployments (
    id             UUID PRIMARY KEY,
    model_name     TEXT NOT NULL CHECK (length(btrim(model_name)) > 0),
    litellm_params JSONB NOT NULL CHECK (jsonb_typeof(litellm_params) = 'object'),
    model_info     JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(model_info) = 'object'),
    sealed_secrets BYTEA,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every instance rebuilds its model groups when the stored deployments change.
CREATE FUNCTION notify_deployments_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'deployments');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER deployments_changed
    AFTER INSERT OR UPDATE OR DELETE ON deployments
    FOR EACH STATEMENT EXECUTE FUNCTION notify_deployments_change();
