-- IVRs (IVR-01…11): schedule-based and button (DTMF) routing. The schedule entries and the
-- buttons are JSON (their shape is store::ivrs::IvrEntry and a map of key to target).
CREATE TABLE ivrs (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    default_kind TEXT,
    default_id BIGINT,
    schedule_on BIGINT NOT NULL DEFAULT 0,
    entries TEXT NOT NULL DEFAULT '[]',
    -- YYYY-MM-DD, comma-separated (IVR-07).
    designated_days TEXT NOT NULL DEFAULT '',
    -- Japanese public holidays count as designated days.
    jp_holidays BIGINT NOT NULL DEFAULT 0,
    buttons_on BIGINT NOT NULL DEFAULT 0,
    menu_voice_id BIGINT,
    buttons TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);
