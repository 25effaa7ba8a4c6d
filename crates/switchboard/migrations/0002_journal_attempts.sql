-- How many times switchboard has started answering a journaled message
-- after a restart; bounds retries of a message that keeps being interrupted.
ALTER TABLE journal ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
