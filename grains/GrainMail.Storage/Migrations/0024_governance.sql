-- Mail governance (issue 17): outbound approval, monitoring copies, recall, retention.
-- Every table is written by the domain's governance grains on the silos only.

-- One row per domain that changed a governance setting; absent rows mean the defaults.
CREATE TABLE governance_setting (
    domain              text PRIMARY KEY,
    -- 4.2.7: monitoring copies stay off until the domain's owner turns them on.
    monitoring_enabled  boolean NOT NULL DEFAULT false,
    monitoring_reviewer text,
    recall_days         int     NOT NULL DEFAULT 15 CHECK (recall_days BETWEEN 0 AND 365),
    -- Retention: days per folder name ('*' = every other folder); 0 keeps forever.
    retention_folders   text[]  NOT NULL DEFAULT '{}',
    retention_days      int[]   NOT NULL DEFAULT '{}',
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- 4.2.14: whose mail, to whom and what is held for a reviewer.
CREATE TABLE approval_rule (
    id              bigserial PRIMARY KEY,
    domain          text    NOT NULL,
    name            text    NOT NULL,
    senders         text[]  NOT NULL DEFAULT '{}',
    departments     bigint[] NOT NULL DEFAULT '{}',
    outside_domain  boolean NOT NULL DEFAULT false,
    to_domains      text[]  NOT NULL DEFAULT '{}',
    has_attachments boolean NOT NULL DEFAULT false,
    size_over       bigint,
    keywords        text[]  NOT NULL DEFAULT '{}',
    patterns        text[]  NOT NULL DEFAULT '{}',
    reviewer        text    NOT NULL,
    expire_seconds  int     NOT NULL CHECK (expire_seconds > 0),
    expiry_reason   text    NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approval_rule_domain ON approval_rule (domain);

-- A held message: its envelope as accepted, and one blob reference (under the sender's domain)
-- taken in the submit transaction; approval moves it into the delivery queues in one
-- transaction that deletes this row, rejection and expiry release the reference.
CREATE TABLE approval_held (
    id            uuid PRIMARY KEY,
    domain        text    NOT NULL,
    rule_id       bigint  NOT NULL,
    rule_name     text    NOT NULL,
    reviewer      text    NOT NULL,
    account       text    NOT NULL,
    sender        text,
    mailboxes     text[]  NOT NULL,
    external      text[]  NOT NULL,
    lists         text[]  NOT NULL,
    dsn           text,
    rcpt_dsn_keys text[]  NOT NULL,
    rcpt_dsn_vals text[]  NOT NULL,
    require_tls   boolean NOT NULL,
    blob_domain   text    NOT NULL,
    blob_hash     bytea   NOT NULL,
    size          bigint  NOT NULL,
    subject       text    NOT NULL,
    expiry_reason text    NOT NULL,
    held_at       timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    -- the reviewer's notice went out (the reminder sends those a crash left unsent)
    notified      boolean NOT NULL DEFAULT false
);
CREATE INDEX approval_held_due ON approval_held (domain, expires_at);
CREATE INDEX approval_held_reviewer ON approval_held (reviewer);

-- 4.2.7: one master per monitored account (the primary key), both in the domain.
CREATE TABLE monitoring_relation (
    monitored  text PRIMARY KEY,
    domain     text NOT NULL,
    master     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (monitored <> master)
);
CREATE INDEX monitoring_relation_domain ON monitoring_relation (domain);

-- 4.1.5: what an account submitted, with each local copy's delivery id, so that a recall finds
-- the copies in the recipients' mailboxes (wherever they were moved) without searching them.
CREATE TABLE sent_message (
    id               uuid PRIMARY KEY,
    sender           text   NOT NULL,
    message_id       text,
    subject          text   NOT NULL,
    sent_at          timestamptz NOT NULL,
    local_recipients text[] NOT NULL,
    delivery_ids     uuid[] NOT NULL,
    external         text[] NOT NULL,
    outbound_ids     uuid[] NOT NULL
);
CREATE INDEX sent_message_sender ON sent_message (sender, sent_at);
CREATE INDEX sent_message_message_id ON sent_message (sender, message_id);
CREATE INDEX sent_message_outbound ON sent_message USING gin (outbound_ids);
