-- The hot path of inbound delivery in one statement (one round trip, one implicit transaction):
-- consume the queue row, move the mailbox fence, advance the folder, store the message.
-- Returns 0 when stored, 1 when the queue row was already consumed (a redelivery), 2 when a copy
-- of this delivery is already stored (the row is consumed and its blob reference released).
-- A moved fence raises SQLSTATE GM409 and rolls everything back.
CREATE FUNCTION grainmail_deliver(
    p_mailbox text, p_version bigint, p_used_bytes bigint, p_messages int, p_last_uidvalidity bigint,
    p_queue_row bigint, p_folder int, p_uidnext bigint, p_highest_modseq bigint,
    p_uid bigint, p_blob_domain text, p_blob_hash bytea, p_size bigint, p_internal_date timestamptz,
    p_flags int, p_modseq bigint, p_delivery uuid)
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

    INSERT INTO mailbox_message (mailbox, folder_id, uid, blob_domain, blob_hash, size, internal_date, flags, keywords, modseq, delivery_id)
    VALUES (p_mailbox, p_folder, p_uid, p_blob_domain, p_blob_hash, p_size, p_internal_date, p_flags, NULL, p_modseq, p_delivery);
    RETURN 0;
END;
$$;
