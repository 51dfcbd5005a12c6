-- LiteLLM's request metadata on each spend row: the session id (`metadata.session_id`,
-- `litellm_session_id`) as its own column, as LiteLLM_SpendLogs keeps it, and the trace id,
-- generation name and custom `spend_logs_metadata` in `metadata`.
ALTER TABLE spend_logs ADD COLUMN session_id TEXT;
ALTER TABLE spend_logs ADD COLUMN metadata JSONB;
