-- Tsunagu schema, version 1. Portable SQL: {{ID}} becomes the backend's auto-increment key.
-- Booleans are BIGINT 0/1 and times BIGINT UTC epoch milliseconds on both backends.

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    builtin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE role_permissions (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE numbers (
    id {{ID}},
    number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    prefix TEXT UNIQUE,
    route_kind TEXT,
    route_id BIGINT,
    max_channels BIGINT NOT NULL DEFAULT 0,
    incoming_popup_url TEXT NOT NULL DEFAULT '',
    answer_popup_url TEXT NOT NULL DEFAULT '',
    display TEXT NOT NULL DEFAULT 'number_name',
    incoming_message TEXT NOT NULL DEFAULT '',
    outgoing_message TEXT NOT NULL DEFAULT '',
    caller_area_routing BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE agents (
    id {{ID}},
    login_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    nickname TEXT NOT NULL,
    extension TEXT UNIQUE,
    caller_number_id BIGINT REFERENCES numbers(id),
    password_hash TEXT NOT NULL,
    password_updated_at BIGINT NOT NULL,
    pin TEXT,
    locked BIGINT NOT NULL DEFAULT 0,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    role_id TEXT NOT NULL REFERENCES roles(id),
    language TEXT NOT NULL DEFAULT 'ja',
    crm_auto_search BIGINT NOT NULL DEFAULT 0,
    incoming_popup BIGINT NOT NULL DEFAULT 0,
    answer_popup BIGINT NOT NULL DEFAULT 0,
    popup_mode TEXT NOT NULL DEFAULT 'same_tab',
    free_desk TEXT NOT NULL DEFAULT 'keep_others',
    history_order TEXT NOT NULL DEFAULT 'desc',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE agent_numbers (
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    number_id BIGINT NOT NULL REFERENCES numbers(id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, number_id)
);

CREATE TABLE agent_statuses (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    icon TEXT NOT NULL DEFAULT '',
    color_fg TEXT NOT NULL DEFAULT '#ffffff',
    color_bg TEXT NOT NULL DEFAULT '#ff0000',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE queue_groups (
    id {{ID}},
    name TEXT NOT NULL,
    extension TEXT UNIQUE,
    strategy TEXT NOT NULL DEFAULT 'ring_all',
    max_answering BIGINT NOT NULL DEFAULT 99,
    max_waiting BIGINT NOT NULL DEFAULT 99,
    overflow_kind TEXT,
    overflow_id BIGINT,
    timeout_secs BIGINT,
    timeout_kind TEXT,
    timeout_id BIGINT,
    ring_time BIGINT NOT NULL DEFAULT 20,
    queue_start_delay BIGINT NOT NULL DEFAULT 0,
    no_answer_pause BIGINT NOT NULL DEFAULT 0,
    no_answer_pause_time BIGINT NOT NULL DEFAULT 0,
    acw_status_id BIGINT REFERENCES agent_statuses(id),
    acw_time BIGINT NOT NULL DEFAULT 0,
    display_name TEXT NOT NULL DEFAULT '',
    color_fg TEXT NOT NULL DEFAULT '#ffffff',
    color_bg TEXT NOT NULL DEFAULT '#777777',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES queue_groups(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    skill_level BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, agent_id)
);

CREATE TABLE terminals (
    id {{ID}},
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sip_password TEXT NOT NULL,
    agent_id BIGINT REFERENCES agents(id),
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE trunks (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    allowed_sources TEXT NOT NULL DEFAULT '',
    outbound_host TEXT,
    username TEXT,
    password TEXT,
    register BIGINT NOT NULL DEFAULT 0,
    caller_id_header TEXT NOT NULL DEFAULT 'from',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_agent ON sessions(agent_id);

CREATE TABLE change_log (
    id {{ID}},
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX change_log_entity ON change_log(entity, entity_id);

CREATE TABLE events (
    id {{ID}},
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    call_id TEXT,
    agent_id BIGINT,
    group_id BIGINT,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_at ON events(at);
CREATE INDEX events_kind_at ON events(kind, at);
