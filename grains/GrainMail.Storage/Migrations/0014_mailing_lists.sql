-- Mailing lists (admin backend 4.2.8). DomainGrain writes mailing_list (a list's name shares
-- the domain's namespace with accounts and aliases, which only the domain grain can check);
-- the list's own grain (MailingListGrain, keyed by the list address) writes its members, its
-- expansions and its held messages.

CREATE TABLE mailing_list (
    domain        text NOT NULL,
    name          text NOT NULL,
    display_name  text,
    -- anyone | domain | members | senders | moderated
    post_policy   text NOT NULL,
    senders       text[] NOT NULL DEFAULT '{}',
    moderators    text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, name)
);

-- kind: account (value = address), department (value = department id, followed: its subtree in
-- directory_account is read at expansion time), external (value = address).
CREATE TABLE mailing_list_member (
    domain      text NOT NULL,
    list        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('account', 'department', 'external')),
    value       text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, list, kind, value),
    FOREIGN KEY (domain, list) REFERENCES mailing_list (domain, name) ON DELETE CASCADE
);

-- Progress of one list delivery's expansion, advanced in the transaction that enqueues each
-- batch of member events: a redelivered list event resumes after the last member done (or,
-- once done, only consumes its queue row), so no member is sent a copy twice.
CREATE TABLE mailing_list_expansion (
    delivery_id  uuid PRIMARY KEY,
    list_address text NOT NULL,
    last_member  text NOT NULL DEFAULT '',
    members      int  NOT NULL DEFAULT 0,
    done         boolean NOT NULL DEFAULT false,
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mailing_list_expansion_age ON mailing_list_expansion (updated_at);

-- Posts to a moderated list waiting for a moderator. Each row holds one reference on its blob
-- (taken over from the list event it came from), released when the post is rejected and handed
-- on to the list event again when it is approved. token is the secret of the approve/reject
-- addresses in the notice mail.
CREATE TABLE mailing_list_held (
    id           uuid PRIMARY KEY,
    domain       text NOT NULL,
    list         text NOT NULL,
    sender       text,
    subject      text,
    blob_domain  text  NOT NULL,
    blob_hash    bytea NOT NULL,
    size         bigint NOT NULL,
    received_at  timestamptz NOT NULL,
    held_at      timestamptz NOT NULL DEFAULT now(),
    token        text NOT NULL UNIQUE
);
CREATE INDEX mailing_list_held_list ON mailing_list_held (domain, list, held_at);
