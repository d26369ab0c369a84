-- Expunged messages leave a row behind (issue 13 QRESYNC, issue 17 deleted-mail recovery).
--
-- QRESYNC (RFC 7162 3.2.5-3.2.10): a client that reconnects with the MODSEQ it last saw must hear
-- which of its UIDs vanished since, also after the silos restarted. Every expunge (EXPUNGE, UID
-- EXPUNGE, MOVE out of a folder, POP3 DELE, a folder deleted with its messages) writes one row per
-- message with the MODSEQ of its removal, in the same transaction as the removal.
--
-- Recovery (4.3.10): a row for a message the user removed (not one moved elsewhere) also keeps
-- what is needed to put the message back: its blob reference (the row holds one, released when
-- the row is purged), size, dates, flags and the folder it was in. Such rows do not count towards
-- the quota. Restoring one turns it into a plain tombstone (the old UID stays vanished).
CREATE TABLE mailbox_expunged (
    id            bigserial PRIMARY KEY,
    mailbox       text    NOT NULL REFERENCES mailbox (address) ON DELETE CASCADE,
    folder_id     int     NOT NULL,
    uidvalidity   bigint  NOT NULL,
    uid           bigint  NOT NULL,
    modseq        bigint  NOT NULL,
    expunged_at   timestamptz NOT NULL DEFAULT now(),
    recoverable   boolean NOT NULL DEFAULT false,
    folder_name   text,
    blob_domain   text,
    blob_hash     bytea,
    size          bigint,
    internal_date timestamptz,
    internal_zone smallint,
    flags         int,
    keywords      text[],
    CHECK (NOT recoverable OR (blob_domain IS NOT NULL AND blob_hash IS NOT NULL AND size IS NOT NULL))
);
CREATE INDEX mailbox_expunged_sync ON mailbox_expunged (mailbox, folder_id, modseq);
CREATE INDEX mailbox_expunged_age ON mailbox_expunged (mailbox, expunged_at);

-- Rows at or below this MODSEQ may be gone (purged, or from before this table): a resync from
-- an older MODSEQ reports every UID below UIDNEXT not in the folder (allowed by RFC 7162 3.2.5.1).
ALTER TABLE mailbox_folder ADD COLUMN vanished_horizon bigint NOT NULL DEFAULT 0;
UPDATE mailbox_folder SET vanished_horizon = highest_modseq;

-- How long a domain's users can recover what they deleted; no row: 7 days.
CREATE TABLE mail_recovery_policy (
    domain        text PRIMARY KEY,
    recovery_days int  NOT NULL CHECK (recovery_days BETWEEN 0 AND 3650)
);

-- A mailbox commit that needs no answer from the database before committing (flags, expunges,
-- moves, folders) is one batch in an implicit transaction: one round trip, no BEGIN or COMMIT.
-- The fence raises instead of reporting a row count, so a moved version rolls the batch back.
CREATE FUNCTION grainmail_fence(p_mailbox text, p_version bigint, p_used_bytes bigint, p_messages int, p_last_uidvalidity bigint)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mailbox
       SET version = p_version + 1, used_bytes = p_used_bytes, messages = p_messages, last_uidvalidity = p_last_uidvalidity
     WHERE address = p_mailbox AND version = p_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'mailbox % was changed by another activation', p_mailbox USING ERRCODE = 'GM409';
    END IF;
END;
$$;
