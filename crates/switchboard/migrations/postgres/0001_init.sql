-- switchboard store on PostgreSQL, schema version 1: the whole schema of
-- the SQLite migrations 0001-0004 (see ../0001_init.sql for the ideas).
-- The SQLite list and this one are separate: a change to the schema is a
-- new file in each.
--
-- `id_key` columns hold `store::id_order_key(id)`, a fixed-width text that
-- sorts like the id's numeric value, and are declared COLLATE "C" so that
-- they compare bytewise, as SQLite compares text (a locale's collation
-- would put 'B' after 'a'). BOOLEAN columns are real booleans here.

-- Threads switchboard owns or has answered in, with what the agent used.
CREATE TABLE threads (
    platform              TEXT    NOT NULL,
    thread_id             TEXT    NOT NULL,
    channel_id            TEXT    NOT NULL,
    created_at            BIGINT  NOT NULL,
    last_active_at        BIGINT  NOT NULL,
    session_id            TEXT,
    cwd                   TEXT,
    supports_load         BOOLEAN NOT NULL DEFAULT FALSE,
    context_lost_notified BOOLEAN NOT NULL DEFAULT FALSE,
    input_tokens          BIGINT  NOT NULL DEFAULT 0,
    output_tokens         BIGINT  NOT NULL DEFAULT 0,
    cost_micros           BIGINT  NOT NULL DEFAULT 0,
    cost_currency         TEXT,
    PRIMARY KEY (platform, thread_id)
);

-- Inbound message ids already processed: dedupe that survives restarts.
CREATE TABLE seen (
    platform   TEXT   NOT NULL,
    message_id TEXT   NOT NULL,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (platform, message_id)
);
CREATE INDEX seen_by_age ON seen (seen_at);

-- Accepted inbound messages, written before they are acted on.
CREATE TABLE journal (
    platform          TEXT    NOT NULL,
    message_id        TEXT    NOT NULL,
    id_key            TEXT    COLLATE "C" NOT NULL,
    thread_id         TEXT    NOT NULL,
    channel_id        TEXT    NOT NULL,
    author_id         TEXT    NOT NULL,
    author_name       TEXT    NOT NULL,
    is_bot            BOOLEAN NOT NULL,
    content           TEXT    NOT NULL,
    received_at       BIGINT  NOT NULL,
    state             TEXT    NOT NULL
        CHECK (state IN ('received', 'prompted', 'answered', 'failed', 'interrupted')),
    reply_message_ids TEXT,
    updated_at        BIGINT  NOT NULL,
    attempts          BIGINT  NOT NULL DEFAULT 0,
    failure_reason    TEXT,
    PRIMARY KEY (platform, message_id)
);
-- Unfinished entries in arrival order (start-up recovery, backlog figures).
CREATE INDEX journal_by_state_received ON journal (state, received_at);
-- Finished entries by age (pruning).
CREATE INDEX journal_by_state_updated ON journal (state, updated_at);

-- Catch-up cursors: the newest message id seen per channel or thread.
CREATE TABLE cursors (
    platform   TEXT   NOT NULL,
    channel_id TEXT   NOT NULL,
    message_id TEXT   NOT NULL,
    id_key     TEXT   COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (platform, channel_id)
);
