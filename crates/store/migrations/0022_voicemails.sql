-- Voicemail messages (VOICE-04…07, VM-*): one mono WAV per message under the data directory's
-- `voicemail` folder. The journal writes the rows; the API lists, plays and deletes them, and
-- the notifier marks the ones it has handed to the mailer.
CREATE TABLE voicemails (
    id {{ID}},
    call_id BIGINT NOT NULL,
    -- The voice file whose voicemail took the message (kept by name too: files get deleted).
    voice_file_id BIGINT,
    voice_file_name TEXT NOT NULL DEFAULT '',
    -- The caller's number (相手).
    caller TEXT NOT NULL DEFAULT '',
    -- When the call started (日付), and when the message ended, epoch ms.
    call_started_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    -- Relative to <data_dir>/voicemail, e.g. "2026-12-02/1234.wav".
    file TEXT NOT NULL,
    -- hangup | pound | silence | max_length
    stop_reason TEXT NOT NULL,
    -- Where the message is to be mailed ('' when the voice file does not notify), and when it
    -- was handed to the mailer.
    notify_email TEXT NOT NULL DEFAULT '',
    notified_at BIGINT
);
CREATE INDEX voicemails_call_started_at ON voicemails(call_started_at);
CREATE INDEX voicemails_call_id ON voicemails(call_id);
