-- Version 3: incoming-call blocks (BLOCK-*), outbound restrictions (RESTRICT-*) and the call
-- history projection (HIST-*). Portable SQL: {{ID}} becomes the backend's auto-increment key.

CREATE TABLE incoming_blocks (
    id {{ID}},
    number TEXT NOT NULL UNIQUE,
    remarks TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

-- caller_number '' means "every caller number" (RESTRICT-03): NULLs would be distinct in the
-- UNIQUE constraint on both backends, so the empty string stands for "all".
CREATE TABLE outbound_restrictions (
    id {{ID}},
    number TEXT NOT NULL,
    caller_number TEXT NOT NULL DEFAULT '',
    remarks TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT,
    UNIQUE (number, caller_number)
);

-- One row per call, maintained from the same transactions that append the call.* events.
CREATE TABLE calls (
    id {{ID}},
    call_uuid TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    remote_party TEXT NOT NULL,
    number_id BIGINT,
    number TEXT,
    agent_id BIGINT,
    group_id BIGINT,
    duration_secs BIGINT NOT NULL DEFAULT 0,
    hangup_cause TEXT,
    in_progress BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX calls_started_at ON calls(started_at);
CREATE INDEX calls_agent_id ON calls(agent_id);
