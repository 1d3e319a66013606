-- Version 4: voice files (VOICE-*) and the group announcements that use them (GROUP-24…27).
-- Portable SQL: {{ID}} becomes the backend's auto-increment key. The audio itself is kept on
-- disk (`<data-dir>/voice/<id>.wav`); the row holds what describes it.

CREATE TABLE voice_files (
    id {{ID}},
    name TEXT NOT NULL,
    voicemail BIGINT NOT NULL DEFAULT 0,
    notify_email BIGINT NOT NULL DEFAULT 0,
    email TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL DEFAULT '',
    size_bytes BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

-- One statement per column: SQLite adds a single column per ALTER TABLE.
ALTER TABLE queue_groups ADD COLUMN greeting_voice_id BIGINT;
ALTER TABLE queue_groups ADD COLUMN queue_voice_id BIGINT;
ALTER TABLE queue_groups ADD COLUMN hold_voice_id BIGINT;
ALTER TABLE queue_groups ADD COLUMN answer_voice_id BIGINT;
