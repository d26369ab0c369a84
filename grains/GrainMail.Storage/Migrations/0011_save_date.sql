-- SAVEDATE (RFC 8514): when a message was put into its mailbox (APPEND, COPY, MOVE, delivery),
-- which differs from INTERNALDATE (the date the message claims, or APPEND's argument). Every
-- insert takes the time of its transaction. Rows from before this column have none; they read
-- back with their INTERNALDATE, the nearest thing known.
ALTER TABLE mailbox_message ADD COLUMN save_date timestamptz;
ALTER TABLE mailbox_message ALTER COLUMN save_date SET DEFAULT now();
