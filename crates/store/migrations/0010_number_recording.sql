-- Per-number override of full-call recording (REC-*): inherit the system setting, or force it
-- on or off for calls to and from this number.
ALTER TABLE numbers ADD COLUMN recording TEXT NOT NULL DEFAULT 'inherit';
