-- switchboard store, schema version 1.
--
-- Portable SQL on purpose: it runs on SQLite today and is meant to run on
-- PostgreSQL unchanged. Only standard types (TEXT, BIGINT, BOOLEAN); times are
-- BIGINT unix milliseconds computed in Rust; ids are TEXT because platforms
-- differ (Discord snowflakes, Slack ts). `id_key` columns hold
-- `store::id_order_key(id)`, a fixed-width text that sorts like the id's
-- numeric value (on PostgreSQL declare them COLLATE "C").

-- Threads switchboard owns or has answered in.
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
    id_key            TEXT    NOT NULL,
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
    id_key     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (platform, channel_id)
);
