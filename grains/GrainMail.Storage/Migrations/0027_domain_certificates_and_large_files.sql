-- Per-domain TLS certificates (seed 4.2.19) and large attachments by link (seed 4.1.3), issue 18.

-- One certificate per hosted domain, picked by SNI on every TLS listener. The chain is public and
-- kept as uploaded (PEM, leaf first); the private key is sealed under the master key (AES-GCM,
-- bound to the domain), so a database operator cannot impersonate the domain.
CREATE TABLE domain_certificate (
    domain      text PRIMARY KEY,
    chain_pem   text        NOT NULL,
    sealed_key  bytea       NOT NULL,
    names       text[]      NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    sha256      text        NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);

-- A large file uploaded in resumable pieces. Its bytes are chunks sealed under the owner's domain
-- data key (the blob store's keys), not a content-addressed blob: the hash is not known until the
-- last byte, and a link is for one upload, not for whoever else holds the same bytes.
CREATE TABLE large_file (
    id           uuid        PRIMARY KEY,
    account      text        NOT NULL,
    domain       text        NOT NULL,
    key_id       int         NOT NULL,
    sealed_name  bytea       NOT NULL,
    content_type text        NOT NULL,
    length       bigint      NOT NULL,
    received     bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    -- SHA-256 of the download token (the token itself is sealed, so the owner can be shown it again).
    link_hash    bytea       NOT NULL UNIQUE,
    sealed_link  bytea       NOT NULL,
    expires_at   timestamptz
);
CREATE INDEX large_file_account ON large_file (account);

-- Pieces in upload order; start is the byte offset of the piece in the file, which binds it (with
-- the file id) as associated data of its AES-GCM seal.
CREATE TABLE large_file_chunk (
    file_id uuid   NOT NULL REFERENCES large_file (id) ON DELETE CASCADE,
    start   bigint NOT NULL,
    length  int    NOT NULL,
    data    bytea  NOT NULL,
    PRIMARY KEY (file_id, start)
);
ALTER TABLE large_file_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

-- How long a domain's links live (days; absent: 30).
CREATE TABLE large_file_policy (
    domain    text PRIMARY KEY,
    link_days int  NOT NULL CHECK (link_days BETWEEN 1 AND 3650)
);
