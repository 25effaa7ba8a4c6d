-- Threads have owners (issue 14, ADR 22). A message journaled by one
-- instance for a thread another instance owns waits for that owner, which
-- takes it (clearing the column) in one statement. NULL: nobody else's
-- to take (journaled by its owner, or taken already).
ALTER TABLE journal ADD COLUMN waiting_for TEXT;
CREATE INDEX journal_waiting_for ON journal (platform, waiting_for)
    WHERE waiting_for IS NOT NULL;

-- A click or a command heard by an instance that does not own its thread,
-- left for the owner (which takes and deletes it; ADR 22). `input` is the
-- broker's JSON for it; rows nobody took are pruned.
CREATE TABLE forwarded_inputs (
    id BIGSERIAL PRIMARY KEY,
    instance TEXT NOT NULL,
    platform TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    input TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX forwarded_inputs_by_owner ON forwarded_inputs (instance, platform, id);
