-- When a budget's soft limit last raised an alert: once per budget window (once ever for a
-- budget without a duration), whichever instance saw the spend cross it first.
ALTER TABLE budget_counters ADD COLUMN soft_alerted_at TIMESTAMPTZ;
