-- JMAP EmailSubmission objects (RFC 8621 7), one row per submission, written only by the account's
-- EmailSubmissionGrain. created_seq/updated_seq are the account's own counter: the JMAP state is the
-- highest of them, so /changes reads created, updated and destroyed rows (destroyed rows stay as
-- tombstones) from here. Rows older than 30 days are pruned; "floor" remembers the highest
-- counter pruned, below which /changes answers cannotCalculateChanges (RFC 8620 5.2).
CREATE TABLE jmap_email_submission (
    account     text        NOT NULL,
    id          text        NOT NULL,
    created_seq bigint      NOT NULL,
    updated_seq bigint      NOT NULL,
    destroyed   boolean     NOT NULL DEFAULT false,
    send_at     timestamptz NOT NULL,
    object      text        NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE INDEX jmap_email_submission_sent ON jmap_email_submission (account, send_at);

CREATE TABLE jmap_email_submission_floor (
    account text   PRIMARY KEY,
    floor   bigint NOT NULL
);
