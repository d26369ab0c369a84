-- Send log: every attempt for every recipient (the per-user delivery status view reads it),
-- and whether a route already told the sender that a message is delayed.
ALTER TABLE outbound_message ADD COLUMN delay_notified boolean NOT NULL DEFAULT false;

CREATE TABLE outbound_attempt (
    id          bigserial PRIMARY KEY,
    message_id  uuid        NOT NULL,
    sender      text,
    recipient   text        NOT NULL,
    destination text        NOT NULL,
    at          timestamptz NOT NULL,
    link        text        NOT NULL,
    remote      text,
    outcome     text        NOT NULL,
    reply       text        NOT NULL
);

CREATE INDEX outbound_attempt_sender ON outbound_attempt (sender, at);
CREATE INDEX outbound_attempt_message ON outbound_attempt (message_id);
