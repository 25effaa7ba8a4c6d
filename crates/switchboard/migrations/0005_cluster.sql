-- Several instances of one bot (issue 14): who is running, who holds what,
-- and the Discord gateway session a standby resumes. Times are unix
-- milliseconds on the database's own clock, so instances with different
-- clocks agree on when a lease expires.
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    live_sessions BIGINT NOT NULL DEFAULT 0,
    max_sessions BIGINT NOT NULL DEFAULT 0
);

-- A lease: one holder until `expires_at`; `token` (the fencing token) grows
-- on every change of holder and every takeover after expiry, and is never
-- reused, so a write carrying an older token can be refused.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);

-- A gateway shard's session as its holder last saw it: what a standby
-- needs to RESUME it (Discord replays the events after `sequence`).
CREATE TABLE gateway_sessions (
    shard TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    resume_url TEXT,
    updated_at BIGINT NOT NULL
);
