-- Spend rows that a batch could not take as they were (a value the database refuses: a NUL
-- character, an index entry too large, a sum out of range). The writer splits the failing
-- batch until the row is alone, repairs it (NULs replaced, identity values cut to their
-- bounds, counts clamped) and lands the repaired row in spend_logs, recording it here as
-- 'repaired'; a row that still fails is kept here whole as 'set_aside'. Never silently
-- dropped: reconciliation and an operator read this table.
CREATE TABLE spend_row_faults (
    request_id  TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('repaired', 'set_aside')),
    error       TEXT NOT NULL,
    sqlstate    TEXT,
    row_data    JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, outcome)
);
