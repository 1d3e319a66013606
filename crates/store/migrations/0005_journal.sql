-- The journal (one writer of events and history): call ids handed out in blocks, the row id of
-- the call on every event, the node that owned a call and its heartbeat (a crash closes the
-- node's calls at its last known moment), the second agent of an internal call, and the
-- registrar's bindings, which survive a restart.
CREATE TABLE id_blocks (
    name TEXT PRIMARY KEY,
    next_id BIGINT NOT NULL
);
ALTER TABLE events ADD COLUMN call BIGINT;
CREATE INDEX events_call ON events(call);
ALTER TABLE calls ADD COLUMN node TEXT NOT NULL DEFAULT 'local';
ALTER TABLE calls ADD COLUMN peer_agent_id BIGINT;
CREATE INDEX calls_peer_agent_id ON calls(peer_agent_id);
CREATE INDEX calls_in_progress ON calls(in_progress);
CREATE TABLE node_heartbeats (
    node TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);
CREATE TABLE registrations (
    id {{ID}},
    username TEXT NOT NULL,
    contact TEXT NOT NULL,
    received TEXT NOT NULL,
    transport TEXT NOT NULL,
    call_id TEXT NOT NULL,
    cseq BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT,
    UNIQUE (username, contact)
);
