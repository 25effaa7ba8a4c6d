-- Threads have owners (issue 14, ADR 22): a message journaled by one
-- instance for a thread another instance owns waits for that owner, which
-- takes it (clearing the column) in one statement. NULL: nobody else's
-- to take (journaled by its owner, or taken already).
ALTER TABLE journal ADD COLUMN waiting_for TEXT;
CREATE INDEX journal_waiting_for ON journal (platform, waiting_for)
    WHERE waiting_for IS NOT NULL;
