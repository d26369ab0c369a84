-- Learning requests (issue 14): a user's verdict on messages (IMAP MOVE/COPY into or out of Junk, $Junk and
-- $NotJunk by STORE, APPEND, Sieve or JMAP), written by the mailbox commit that carries the verdict, so that a
-- verdict the client was told about is never lost with a silo. The mailbox's ContentLearnerGrain applies the
-- rows in id order (a later verdict on the same message wins) and deletes each once applied; learning is keyed
-- by the message's blob hash, so a row applied twice (a silo died between applying and deleting) changes
-- nothing. LearnQueueWorker hands rows left behind by a stopped silo to the learners.
CREATE TABLE learn_queue (
    id          bigserial   PRIMARY KEY,
    owner       text        NOT NULL,
    blob_domain text        NOT NULL,
    blob_hash   bytea       NOT NULL,
    spam        boolean     NOT NULL,
    queued_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX learn_queue_owner ON learn_queue (owner, id);
