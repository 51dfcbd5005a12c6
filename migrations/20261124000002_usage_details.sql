-- Token details behind a request's cost: prompt-cache reads and writes (part of prompt_tokens)
-- and reasoning (part of completion_tokens).
ALTER TABLE spend_logs
    ADD COLUMN cached_tokens      BIGINT NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
    ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    ADD COLUMN reasoning_tokens   BIGINT NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0);
