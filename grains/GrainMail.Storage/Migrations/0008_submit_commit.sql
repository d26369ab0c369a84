-- One row per committed submit batch, written in the batch's own transaction. When the
-- connection breaks while COMMIT is in flight (the primary died, a failover), the submitter
-- looks for its row on a fresh connection to learn whether the batch committed, so that the
-- senders hear 250 or 451 truthfully instead of retrying mail that was in fact stored.
CREATE TABLE submit_commit (
    id           uuid PRIMARY KEY,
    committed_at timestamptz NOT NULL DEFAULT now()
);
