-- Posts a mailing list took off its stream without sending them on (issue 18, JMAP deliveryStatus): a
-- moderator's rejection, a mail loop caught by the list's grain, a list deleted with posts still queued or
-- held, a message whose blob is gone. The list used to consume such a post and leave no trace, so a JMAP
-- EmailSubmission read it as taken by the list ("yes"). One row per drop, found the way the held posts are:
-- by list and receipt time (the post's id is not known to the submission). `account` is the authenticated
-- poster when the event carried it (held posts do not keep it). Kept 30 days, as long as the submissions
-- that may ask (jmap_email_submission's pruning); each insert prunes older rows through the `at` index.
CREATE TABLE IF NOT EXISTS mailing_list_dropped (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain       text NOT NULL,
    list         text NOT NULL,
    account      text,
    received_at  timestamptz NOT NULL,
    reason       text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mailing_list_dropped_list ON mailing_list_dropped (domain, list, received_at);
CREATE INDEX IF NOT EXISTS mailing_list_dropped_at ON mailing_list_dropped (at);
