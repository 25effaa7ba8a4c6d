-- What the agent reported using per thread (issue 13), summed over its
-- turns and sessions: tokens from each prompt's result, cost from
-- usage_update (in millionths of `cost_currency`, an integer so that the
-- same SQL runs on PostgreSQL).
ALTER TABLE threads ADD COLUMN input_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN output_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN cost_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN cost_currency TEXT;
