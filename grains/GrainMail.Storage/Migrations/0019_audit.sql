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

-- Domain-wide search and deletion (issue 17, 4.2.18): the headers an administrator searches by,
-- one row per stored message blob (a message for three mailboxes of a domain is one blob there),
-- written in the submit transaction that stores the blob and gone with it. Mailbox contents stay
-- encrypted; these four header values are what the search needs in clear.
CREATE TABLE message_index (
    blob_domain   text NOT NULL,
    blob_hash     bytea NOT NULL,
    received_at   timestamptz NOT NULL,
    envelope_from text,
    header_from   text,
    subject       bytea,         -- sealed under the master key (Blobs/KeyRing.SealText): no subject in clear
    message_id    text,
    PRIMARY KEY (blob_domain, blob_hash),
    FOREIGN KEY (blob_domain, blob_hash) REFERENCES blob (domain, hash) ON DELETE CASCADE
);
CREATE INDEX message_index_received ON message_index (blob_domain, received_at);
CREATE INDEX message_index_message_id ON message_index (blob_domain, message_id);
-- From a hit to the mailboxes that hold it.
CREATE INDEX mailbox_message_blob ON mailbox_message (blob_domain, blob_hash);

-- Reports (issue 17, 4.2.11, 4.2.15): counters per domain and UTC day, moved in the transaction
-- that commits the messages (Delivery/MessageSubmitter) and by a trigger on login_log, so a report
-- never scans a mailbox. A domain's day is split over a few shards so that concurrent commits for
-- one busy domain do not queue behind one row; readers sum the shards.
--   received           copies delivered to mailboxes of the domain (one per mailbox)
--   received_internal  of those, sent by an address of the same domain
--   sent               messages submitted by accounts of the domain (authenticated)
--   sent_external      of those, with at least one recipient outside every hosted domain
CREATE TABLE report_domain_day (
    domain text NOT NULL,
    day date NOT NULL,
    shard smallint NOT NULL,
    received bigint NOT NULL DEFAULT 0,
    received_internal bigint NOT NULL DEFAULT 0,
    sent bigint NOT NULL DEFAULT 0,
    sent_external bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (domain, day, shard)
);

-- Per account and day: what it received and sent (the top senders of a domain's day come from here).
CREATE TABLE report_account_day (
    account text NOT NULL,
    day date NOT NULL,
    domain text NOT NULL,
    received bigint NOT NULL DEFAULT 0,
    sent bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account, day)
);
CREATE INDEX report_account_day_domain ON report_account_day (domain, day, sent DESC);

-- Logins per domain and day by channel, result and location ('' when unknown).
CREATE TABLE report_login_day (
    domain text NOT NULL,
    day date NOT NULL,
    channel text NOT NULL,
    result text NOT NULL,
    country text NOT NULL,
    city text NOT NULL,
    logins bigint NOT NULL,
    PRIMARY KEY (domain, day, channel, result, country, city)
);

CREATE FUNCTION grainmail_report_login() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_login_day (domain, day, channel, result, country, city, logins)
    VALUES (lower(split_part(NEW.account, '@', 2)), (NEW.at AT TIME ZONE 'UTC')::date, NEW.channel, NEW.result,
            coalesce(NEW.country, ''), coalesce(NEW.city, ''), 1)
    ON CONFLICT (domain, day, channel, result, country, city) DO UPDATE SET logins = report_login_day.logins + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER login_log_report AFTER INSERT ON login_log FOR EACH ROW EXECUTE FUNCTION grainmail_report_login();
