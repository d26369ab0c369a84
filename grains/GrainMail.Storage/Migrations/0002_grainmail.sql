-- GrainMail's own tables. Bodies are never stored in clear: blob_chunk holds AES-GCM
-- ciphertext under a per-domain data key that is itself wrapped by the master key.

-- Directory of hosted domains: the index behind GET /api/v1/domains and, later, the
-- domain -> home region map the placement filter reads. DomainGrain is the writer.
CREATE TABLE mail_domain (
    name        text PRIMARY KEY,
    home_region text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-domain data keys, wrapped (AES-GCM) by the master key.
CREATE TABLE domain_key (
    domain      text NOT NULL,
    key_id      int  NOT NULL,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, key_id)
);

-- Content-addressed message blobs: one row per (domain, SHA-256 of the raw bytes).
-- refcount counts the queue events, dead letters and mailbox messages that refer to it;
-- the row and its chunks go when it reaches zero.
CREATE TABLE blob (
    domain     text   NOT NULL,
    hash       bytea  NOT NULL,
    size       bigint NOT NULL,
    key_id     int    NOT NULL,
    refcount   bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, hash)
);

CREATE TABLE blob_chunk (
    domain text  NOT NULL,
    hash   bytea NOT NULL,
    seq    int   NOT NULL,
    data   bytea NOT NULL,       -- nonce (12) || ciphertext || tag (16)
    PRIMARY KEY (domain, hash, seq),
    FOREIGN KEY (domain, hash) REFERENCES blob (domain, hash) ON DELETE CASCADE
);
-- Chunks are already ciphertext: compressing them is wasted work.
ALTER TABLE blob_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

-- Durable stream queues: partition queue_id, consumed by the pulling agent that owns it.
CREATE TABLE stream_queue (
    id            bigserial PRIMARY KEY,
    queue_id      int   NOT NULL,
    stream_ns     text  NOT NULL,
    stream_key    text  NOT NULL,
    payload       bytea NOT NULL,
    enqueued_at   timestamptz NOT NULL DEFAULT now(),
    visible_at    timestamptz NOT NULL DEFAULT now(),
    dequeue_count int   NOT NULL DEFAULT 0
);
CREATE INDEX stream_queue_poll ON stream_queue (queue_id, visible_at, id);

CREATE TABLE stream_dead_letter (
    id            bigint PRIMARY KEY,
    queue_id      int   NOT NULL,
    stream_ns     text  NOT NULL,
    stream_key    text  NOT NULL,
    payload       bytea NOT NULL,
    enqueued_at   timestamptz NOT NULL,
    dead_at       timestamptz NOT NULL DEFAULT now(),
    dequeue_count int   NOT NULL,
    reason        text  NOT NULL
);

-- Mailboxes. version fences writers: every change bumps it with a compare-and-set, so a
-- second activation of the same MailboxGrain (split brain) fails its write instead of
-- overwriting the first.
CREATE TABLE mailbox (
    address     text PRIMARY KEY,
    version     bigint NOT NULL DEFAULT 0,
    quota_bytes bigint NOT NULL,
    used_bytes  bigint NOT NULL DEFAULT 0,
    messages    int    NOT NULL DEFAULT 0,
    -- high-water mark of UIDVALIDITY values handed out, so a re-created folder never reuses one
    last_uidvalidity bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mailbox_folder (
    mailbox        text   NOT NULL REFERENCES mailbox (address) ON DELETE CASCADE,
    folder_id      int    NOT NULL,
    name           text   NOT NULL,
    special_use    int    NOT NULL DEFAULT 0,
    uidvalidity    bigint NOT NULL,
    uidnext        bigint NOT NULL DEFAULT 1,
    highest_modseq bigint NOT NULL DEFAULT 1,
    subscribed     boolean NOT NULL DEFAULT true,
    recent_from    bigint NOT NULL DEFAULT 1,   -- messages with uid >= this are \Recent
    PRIMARY KEY (mailbox, folder_id),
    UNIQUE (mailbox, name)
);

CREATE TABLE mailbox_message (
    mailbox       text   NOT NULL,
    folder_id     int    NOT NULL,
    uid           bigint NOT NULL,
    blob_domain   text   NOT NULL,
    blob_hash     bytea  NOT NULL,
    size          bigint NOT NULL,
    internal_date timestamptz NOT NULL,
    flags         int    NOT NULL DEFAULT 0,
    keywords      text[],
    modseq        bigint NOT NULL,
    delivery_id   uuid,
    PRIMARY KEY (mailbox, folder_id, uid),
    FOREIGN KEY (mailbox, folder_id) REFERENCES mailbox_folder (mailbox, folder_id) ON DELETE CASCADE
);
-- Idempotent delivery: one message per delivery event and mailbox, whatever the retries.
CREATE UNIQUE INDEX mailbox_message_delivery ON mailbox_message (mailbox, delivery_id) WHERE delivery_id IS NOT NULL;
