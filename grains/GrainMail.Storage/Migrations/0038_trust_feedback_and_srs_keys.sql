-- Inbound trust (issue 14), third round.
-- reputation_feedback: the users' verdict on each MX message whose counts their Junk moves corrected
-- (message: the blob hash). One row per message, so the same verdict given twice, or by two
-- recipients of the same copy, corrects the sender's reputation once; a changed verdict moves it back.
CREATE TABLE reputation_feedback (
    message bytea PRIMARY KEY,
    spam boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- srs_key: forwarded mail whose SRS0 address would pass 64 octets of local part (RFC 5321 4.5.3.1.1)
-- leaves with a short opaque key instead; a bounce to it finds the original sender here.
-- Expired keys are refused like expired SRS timestamps and swept.
CREATE TABLE srs_key (
    key text PRIMARY KEY,
    original text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX srs_key_created ON srs_key (created_at);
