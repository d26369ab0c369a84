-- Outbound routes' durable queues: one row per (message, destination domain), written in the
-- transaction that consumes the stream event, removed when the message has left or bounced.
CREATE TABLE outbound_message (
    id           uuid PRIMARY KEY,
    destination  text        NOT NULL,
    sender       text,
    recipients   text[]      NOT NULL,
    blob_domain  text        NOT NULL,
    blob_hash    bytea       NOT NULL,
    size         bigint      NOT NULL,
    received_at  timestamptz NOT NULL,
    dsn          text,
    attempts     integer     NOT NULL DEFAULT 0,
    next_attempt timestamptz NOT NULL DEFAULT now(),
    last_error   text
);

CREATE INDEX outbound_message_due ON outbound_message (destination, next_attempt);
