-- The audit trail (issue 16): every admin and integration action and every security event, append
-- only. Each row carries a SHA-256 over its own content and the previous row's hash, so a row changed
-- or deleted directly in the database breaks the chain at that point. When old rows are pruned, the
-- last pruned row's hash is kept in audit_chain_head so that the first remaining row still verifies.
CREATE TABLE audit_log (
    id bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    actor_role text NOT NULL,
    client_ip text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    -- The domain the target belongs to (NULL: node-wide): what an auditor's scope filters on.
    domain text,
    result text NOT NULL,
    detail text,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_domain ON audit_log (domain, id);

-- One row: where the chain starts after pruning (the hash of the last row removed, and its id), and
-- its tip (the last id and hash appended). Appends lock this row, which gives the chain one order
-- across every process; the tip means that deleting the newest rows leaves a visible gap (the next
-- append continues from the tip, not from whatever row is last now), and verification compares it
-- with the last row.
CREATE TABLE audit_chain_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_through bigint NOT NULL,
    head_hash bytea NOT NULL,
    last_id bigint NOT NULL,
    last_hash bytea NOT NULL
);
INSERT INTO audit_chain_head (pruned_through, head_hash, last_id, last_hash)
VALUES (0, decode(repeat('00', 32), 'hex'), 0, decode(repeat('00', 32), 'hex'));

-- Every login attempt on every channel (issue 16): written by the login guard, read by the user's and
-- the admin's login history and by the daily reports. acting_for is the mailbox of a delegated login.
CREATE TABLE login_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    account text NOT NULL,
    acting_for text,
    channel text NOT NULL,
    client_ip text NOT NULL,
    client_name text,
    result text NOT NULL,
    reason text,
    country text,
    region text,
    city text
);
CREATE INDEX login_log_account ON login_log (account, id DESC);
CREATE INDEX login_log_at ON login_log (at);
