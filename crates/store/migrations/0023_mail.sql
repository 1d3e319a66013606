-- Version 23: the notification-mail outbox (VOICE-06). The SMTP settings are one JSON value in
-- `settings` (name `mail`), as the system and S3 settings are.
--
-- A mail is queued, then sent or failed. The sender claims a due mail by moving its
-- next_attempt_at forward (a lease), so that two servers on one database never send it twice
-- and a crash mid-send leaves it to be tried again once the lease has passed.
CREATE TABLE mail_outbox (
    id {{ID}},
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The attached file, read at send time (NULL: no attachment).
    attachment_path TEXT,
    attachment_name TEXT,
    attachment_type TEXT,
    -- What the mail is about, for the caller to find it again, e.g. ('voicemail', 17).
    ref_kind TEXT NOT NULL DEFAULT '',
    ref_id BIGINT,
    -- queued | sent | failed
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When a queued mail is (next) due; NULL once sent or failed.
    next_attempt_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
CREATE INDEX mail_outbox_ref ON mail_outbox(ref_kind, ref_id);
