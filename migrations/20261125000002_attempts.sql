-- Every upstream attempt a request made (deployment, outcome, status, latency), in order, and
-- the deployment that served it (LiteLLM's model_id).
ALTER TABLE spend_logs
    ADD COLUMN model_id TEXT NOT NULL DEFAULT '',
    ADD COLUMN attempts JSONB NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(attempts) = 'array');
