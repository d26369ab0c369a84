-- Thread ids stored with each message (issue 18). JMAP threads (collapseThreads, Email/get threadId,
-- Thread/get) and IMAP THREADID read the stored value instead of parsing every message; the value is
-- GrainMail.Contracts.Mailboxes.ThreadIds, computed once when the message arrives (delivery, APPEND),
-- carried along by COPY and MOVE. NULL means "not computed yet": rows written before this migration,
-- and the few paths that do not compute it (list deliveries, restored mail). The background job
-- GrainMail.Grains.Mailboxes.ThreadIdBackfill fills them in batches; the partial index below holds
-- exactly the rows still waiting, so it is the job's resumable cursor and empty once they are done.
ALTER TABLE mailbox_message ADD COLUMN thread_id text;

CREATE INDEX mailbox_message_thread_pending ON mailbox_message (blob_domain, blob_hash) WHERE thread_id IS NULL;

-- The one-statement delivery (0003) with the thread id. The 17-argument form stays for a node not yet upgraded.
CREATE FUNCTION grainmail_deliver(
    p_mailbox text, p_version bigint, p_used_bytes bigint, p_messages int, p_last_uidvalidity bigint,
    p_queue_row bigint, p_folder int, p_uidnext bigint, p_highest_modseq bigint,
    p_uid bigint, p_blob_domain text, p_blob_hash bytea, p_size bigint, p_internal_date timestamptz,
    p_flags int, p_modseq bigint, p_delivery uuid, p_thread_id text)
RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM stream_queue WHERE id = p_queue_row;
    IF NOT FOUND THEN
        RETURN 1;
    END IF;

    IF EXISTS (SELECT 1 FROM mailbox_message WHERE mailbox = p_mailbox AND delivery_id = p_delivery) THEN
        UPDATE blob SET refcount = refcount - 1 WHERE domain = p_blob_domain AND hash = p_blob_hash;
        DELETE FROM blob WHERE domain = p_blob_domain AND hash = p_blob_hash AND refcount <= 0;
        RETURN 2;
    END IF;

    UPDATE mailbox
       SET version = p_version + 1, used_bytes = p_used_bytes, messages = p_messages, last_uidvalidity = p_last_uidvalidity
     WHERE address = p_mailbox AND version = p_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'mailbox % was changed by another activation', p_mailbox USING ERRCODE = 'GM409';
    END IF;

    UPDATE mailbox_folder SET uidnext = p_uidnext, highest_modseq = p_highest_modseq
     WHERE mailbox = p_mailbox AND folder_id = p_folder;

    INSERT INTO mailbox_message (mailbox, folder_id, uid, blob_domain, blob_hash, size, internal_date, flags, keywords, modseq, delivery_id, thread_id)
    VALUES (p_mailbox, p_folder, p_uid, p_blob_domain, p_blob_hash, p_size, p_internal_date, p_flags, NULL, p_modseq, p_delivery, p_thread_id);
    RETURN 0;
END;
$$;
