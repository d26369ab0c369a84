-- One row per submission a gateway handed over with an idempotency key (one key per SMTP DATA), written
-- in the transaction that stores the message. When the silo running a submission dies before it answers,
-- the gateway asks through another silo whether the key committed: the row is there → 250 with the stored
-- message's id; it is not → the gateway writes the row itself with no message (a fence: the submission
-- can no longer commit anywhere) and answers 451. A submission whose key is already here stores nothing
-- and gets the earlier answer. Pruned after a day, like submit_commit.
CREATE TABLE submit_key (
    key          uuid PRIMARY KEY,
    message_id   uuid,
    received_at  timestamptz,
    events       integer NOT NULL DEFAULT 0,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX submit_key_recorded ON submit_key (recorded_at);
