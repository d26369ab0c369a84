-- Content classification and sender lists (issue 14).
-- bayes_token: token counts of one model: owner '' is the global model (trained by the operator),
-- otherwise a mailbox address (learned from the user's moves into and out of Junk). Tokens are 64-bit
-- hashes; token 0 holds the model's message totals (spam and ham messages learned).
CREATE TABLE bayes_token (
    owner text NOT NULL,
    token bigint NOT NULL,
    spam integer NOT NULL DEFAULT 0,
    ham integer NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, token)
);

-- What each model learned, so that learning the same message twice changes nothing and learning it as
-- the other class moves its counts. message: the blob hash (mailbox learning) or a SHA-256 of the bytes.
CREATE TABLE bayes_learned (
    owner text NOT NULL,
    message bytea NOT NULL,
    spam boolean NOT NULL,
    learned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, message)
);

-- Allow and block lists: scope is a mailbox address (the user's list) or a domain name (the domain's).
CREATE TABLE sender_list (
    scope text NOT NULL,
    allow boolean NOT NULL,
    entry text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, allow, entry)
);

-- When each mailbox was last sent its quarantine digest (what was held after that goes in the next one).
CREATE TABLE quarantine_digest (
    mailbox text PRIMARY KEY,
    sent_at timestamptz NOT NULL
);
