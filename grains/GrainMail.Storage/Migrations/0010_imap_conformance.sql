-- IMAP conformance (RFC 3501 / 9051).
--
-- INTERNALDATE keeps the zone it was given: APPEND's date-time carries an offset that FETCH must
-- return as sent (RFC 3501 2.3.3). timestamptz keeps only the instant, so the offset is kept
-- beside it, in minutes east of UTC; NULL (every delivery) means the server's own zone.
ALTER TABLE mailbox_message ADD COLUMN internal_zone smallint;

-- Subscriptions are names, not folders: a subscription outlives its folder and may name one
-- that does not exist (RFC 3501 6.3.6: the server MUST NOT remove it unilaterally), which LIST
-- (SUBSCRIBED) then reports as \NonExistent (RFC 5258).
CREATE TABLE mailbox_subscription (
    mailbox text NOT NULL REFERENCES mailbox (address) ON DELETE CASCADE,
    name    text NOT NULL,
    PRIMARY KEY (mailbox, name)
);
INSERT INTO mailbox_subscription (mailbox, name)
SELECT mailbox, name FROM mailbox_folder WHERE subscribed;
