-- A key's secrets, apart from the key: a key keeps its identity (`token_hash`, the hash of the
-- secret it was created with: its budget, spend rows and LiteLLM `token`) while its secret is
-- rotated. During a rotation's grace period the old secret works until `valid_until`.
CREATE TABLE key_secrets (
    secret_hash TEXT PRIMARY KEY CHECK (length(secret_hash) = 64),
    token_hash  TEXT NOT NULL REFERENCES virtual_keys ON DELETE CASCADE,
    key_name    TEXT NOT NULL,
    valid_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX key_secrets_key ON key_secrets (token_hash);

INSERT INTO key_secrets (secret_hash, token_hash, key_name)
SELECT token_hash, token_hash, key_name FROM virtual_keys;

CREATE FUNCTION notify_key_secret_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_policy', 'key:' || COALESCE(NEW.token_hash, OLD.token_hash));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER key_secrets_changed
    AFTER INSERT OR UPDATE OR DELETE ON key_secrets
    FOR EACH ROW EXECUTE FUNCTION notify_key_secret_change();
