-- Version 21: external forwarding (外線転送, FWD-01…04). A forwarding sends a call out through
-- the trunk to `destination`, showing `caller_number_id`'s number, or the number the caller
-- dialled when `use_called_number` is on.
CREATE TABLE forwardings (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    caller_number_id BIGINT,
    -- Dialled on our phones, the extension forwards like the routing does (optional).
    extension TEXT UNIQUE,
    use_called_number BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);
-- History of a forwarded call: the second leg's parties (the caller ID shown, the number
-- called), beside the first leg's remote_party and number.
ALTER TABLE calls ADD COLUMN forwarded_to TEXT;
ALTER TABLE calls ADD COLUMN forwarded_from TEXT;
