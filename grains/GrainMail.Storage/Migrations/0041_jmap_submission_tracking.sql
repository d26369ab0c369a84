-- EmailSubmission deliveryStatus, dsnBlobIds and mdnBlobIds (RFC 8621 7; issue 18).
--
-- intake_id is the id the intake gave the message (sent_message.id, the approval_held id while
-- held): the submission's grain reads each recipient's state from sent_message, mailbox_message
-- (by delivery id), the inbound stream and its dead letters, and outbound_attempt. message_id is the
-- Message-ID the message left with, which DSNs and MDNs name. open: a recipient is still queued, so
-- the grain keeps looking.
ALTER TABLE jmap_email_submission ADD COLUMN intake_id uuid;
ALTER TABLE jmap_email_submission ADD COLUMN message_id text;
ALTER TABLE jmap_email_submission ADD COLUMN open boolean NOT NULL DEFAULT false;

-- Reports (top-level multipart/report: DSNs, RFC 3464, and MDNs, RFC 8098) as they arrive in a
-- mailbox, written by the submit transaction that stores them. The mailbox's EmailSubmission grain
-- reads its rows, lists each on the submission it speaks of and deletes it; rows of accounts that
-- never submit by JMAP are pruned after 30 days by the submitter.
CREATE TABLE mail_report_arrival (
    id          bigserial PRIMARY KEY,
    mailbox     text        NOT NULL,
    blob_domain text        NOT NULL,
    blob_hash   bytea       NOT NULL,
    arrived_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_report_arrival_mailbox ON mail_report_arrival (mailbox, id);
CREATE INDEX mail_report_arrival_age ON mail_report_arrival (arrived_at);
