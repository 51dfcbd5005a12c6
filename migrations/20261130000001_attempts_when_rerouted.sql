-- A request its first attempt served stores no attempts list (NULL): that attempt is the row's
-- own deployment, status and latency. Only requests that were retried, fell back or failed keep
-- the list, so the common row stays narrow and cheap to write.
ALTER TABLE spend_logs
    ALTER COLUMN attempts DROP NOT NULL,
    ALTER COLUMN attempts DROP DEFAULT;
