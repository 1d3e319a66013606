-- The daily recording archive (REC-01): one ZIP of a day's recordings, its upload to S3, and
-- which recordings it holds (recordings.archived_at).
CREATE TABLE recording_archives (
    -- The local day, YYYYMMDD (also the file's name without `.zip`).
    day TEXT PRIMARY KEY,
    -- packing | ready | failed
    state TEXT NOT NULL,
    bytes BIGINT NOT NULL DEFAULT 0,
    recordings BIGINT NOT NULL DEFAULT 0,
    -- Why packing failed.
    error TEXT,
    built_at BIGINT NOT NULL,
    -- off | pending | uploaded | failed (failed: retried after s3_next_at)
    s3_state TEXT NOT NULL DEFAULT 'off',
    s3_key TEXT,
    s3_error TEXT,
    s3_attempts BIGINT NOT NULL DEFAULT 0,
    s3_next_at BIGINT
);
-- When the recording went into its day's archive; only archived files are ever purged.
ALTER TABLE recordings ADD COLUMN archived_at BIGINT;
CREATE INDEX recordings_unarchived ON recordings(archived_at, started_at);
