-- JMAP blob uploads (RFC 8620 6.1) in PostgreSQL rather than in one gateway's memory, so an upload
-- made through one gateway is usable through another and after a restart. Pieces are sealed like
-- large files (AES-256-GCM under the owner's domain data key, bound to upload id and offset).
CREATE TABLE jmap_upload (
    id           uuid        PRIMARY KEY,
    account      text        NOT NULL,
    domain       text        NOT NULL,
    key_id       int         NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    completed_at timestamptz,
    -- After this the blob id is unknown and the sweeper deletes the row (RFC 8620 6.1: at least an hour).
    expires_at   timestamptz NOT NULL
);
CREATE INDEX jmap_upload_account ON jmap_upload (account, expires_at);
CREATE INDEX jmap_upload_expires ON jmap_upload (expires_at);

CREATE TABLE jmap_upload_chunk (
    upload_id uuid   NOT NULL REFERENCES jmap_upload (id) ON DELETE CASCADE,
    start     bigint NOT NULL,
    length    int    NOT NULL,
    data      bytea  NOT NULL,
    PRIMARY KEY (upload_id, start)
);
ALTER TABLE jmap_upload_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

-- JMAP /changes from any gateway (RFC 8620 5.2): an expunge tombstone keeps the Email id of what it
-- removed (the first 12 bytes of the blob hash, i.e. EMAILID's digits), so a state older than a
-- gateway's own record still yields exact destroyed ids. Rows from before this have none: a state
-- that needs them is answered cannotCalculateChanges.
ALTER TABLE mailbox_expunged ADD COLUMN email_key bytea;
