-- Reads of a stream's rows by key (issue 18): an EmailSubmission's status looks for the copies not yet in
-- their mailbox among the inbound stream's rows and dead letters of those recipients, and for its mailing-list
-- posts among the list stream's (GrainMail.Storage.Jmap.DeliveryFactsReader). Neither table had an index
-- on the key, so each such read scanned the whole queue and every dead letter ever kept. The queue's own
-- polling index (queue_id, visible_at, id) is unchanged; this one costs an index entry per enqueued event.
CREATE INDEX IF NOT EXISTS stream_queue_key ON stream_queue (stream_ns, stream_key);
CREATE INDEX IF NOT EXISTS stream_dead_letter_key ON stream_dead_letter (stream_ns, stream_key);
