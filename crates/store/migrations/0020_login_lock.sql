-- Version 20: login throttling and automatic unlock (AUTH-06, issue 10 item 3).
-- last_failed_login_at: when the latest consecutive failure happened (the growing delay is
-- measured from it). auto_locked_at: set when failures locked the account, NULL for a lock
-- set by an administrator (AUTH-07), which is never released automatically.

ALTER TABLE agents ADD COLUMN last_failed_login_at BIGINT;
ALTER TABLE agents ADD COLUMN auto_locked_at BIGINT;
