-- JMAP Thread/changes and Email/queryChanges with collapseThreads (RFC 8621 3, 4.4) must name the thread of an
-- Email removed since the client's state. A gateway knew it only if it had read that Email's thread while it
-- existed, so after a restart (or on another gateway) a removal made them answer cannotCalculateChanges. The
-- tombstone now keeps the message's stored thread id (migration 0039), copied in the statement that moves the
-- row out of mailbox_message. Rows from before this, or of messages the thread backfill had not reached, have
-- none: for those the gateway's own record is still the only source.
ALTER TABLE mailbox_expunged ADD COLUMN IF NOT EXISTS thread_id text;
