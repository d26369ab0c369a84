-- Sieve (RFC 5228) scripts of each account, managed through ManageSieve (RFC 5804), and what
-- running them at delivery must remember: vacation replies sent, redirects done, failure notices.

CREATE TABLE sieve_script (
    account    text        NOT NULL,
    name       text        NOT NULL,
    content    text        NOT NULL,
    active     boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, name)
);
-- RFC 5804 1.4: at most one active script per account.
CREATE UNIQUE INDEX sieve_script_active ON sieve_script (account) WHERE active;

-- RFC 5230 4.2: one reply per sender per handle per :days.
CREATE TABLE sieve_vacation (
    account text        NOT NULL,
    sender  text        NOT NULL,
    handle  text        NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (account, sender, handle)
);

-- A redirect done for a delivery: a redelivered event does not send it again.
CREATE TABLE sieve_redirect_done (
    account     text        NOT NULL,
    delivery_id uuid        NOT NULL,
    target      text        NOT NULL,
    done_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, delivery_id, target)
);
CREATE INDEX sieve_redirect_done_at ON sieve_redirect_done (done_at);

-- The active script failed at run time and the user was told; cleared when the scripts change.
CREATE TABLE sieve_failure_notice (
    account text        PRIMARY KEY,
    sent_at timestamptz NOT NULL
);
