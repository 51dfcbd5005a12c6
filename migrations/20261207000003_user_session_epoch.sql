-- Bumped whenever a user's password changes: console sessions remember the epoch they were
-- opened in, and one from an older epoch counts as logged out, so a password reset ends every
-- session of that user at once.
ALTER TABLE console_users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
