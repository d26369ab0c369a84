-- Inbound trust (issue 14): the receive log (one row per MX message and recipient mailbox: how it
-- was judged and why) and the quarantine (messages held for a mailbox, outside it, until an admin
-- releases or deletes them). A held message keeps one blob reference, as a mailbox copy would.
CREATE TABLE receive_log (
    id bigserial PRIMARY KEY,
    mailbox text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    sender text,
    client_ip text NOT NULL,
    from_domain text,
    action text NOT NULL,
    score double precision NOT NULL,
    symbols text NOT NULL,
    auth_results text NOT NULL
);
CREATE INDEX receive_log_mailbox ON receive_log (mailbox, id DESC);

CREATE TABLE quarantine (
    id uuid PRIMARY KEY,
    mailbox text NOT NULL,
    sender text,
    blob_domain text NOT NULL,
    blob_hash bytea NOT NULL,
    size bigint NOT NULL,
    score double precision NOT NULL,
    symbols text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_mailbox ON quarantine (mailbox, received_at);
