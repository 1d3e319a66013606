-- Call recordings (REC-*, HIST-04): one stereo WAV per recorded call, under the data
-- directory's `recordings` folder. The journal writes these rows; the archive and retention
-- jobs only read them and mark files purged.
CREATE TABLE recordings (
    call_id BIGINT PRIMARY KEY,
    -- Relative to <data_dir>/recordings, e.g. "2026-12-02/1234.wav".
    file TEXT NOT NULL,
    -- When the agent or the far party answered (epoch ms), not our own answer for a greeting.
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    bytes BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    -- recording | complete | incomplete (a write failed or the disk was full)
    state TEXT NOT NULL,
    -- Time the agent paused the recording for (silence in the file).
    paused_ms BIGINT NOT NULL DEFAULT 0,
    -- The retention job deleted the file at this time (after it was archived).
    purged_at BIGINT
);
CREATE INDEX recordings_started_at ON recordings(started_at);
