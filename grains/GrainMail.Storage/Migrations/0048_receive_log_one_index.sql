-- The receive log keeps one index (issue 14, session 12).
--
-- Every MX message writes a receive_log row per recipient mailbox in the group commit that stores it, so each
-- index of the table is one more B-tree insert and WAL record per delivered message with filtering on. The only
-- reader (ReceiveLogStore.ReadAsync: a mailbox's newest rows) uses receive_log_mailbox (mailbox, id DESC); nothing
-- looks a row up by id alone. The primary key's index on id is therefore dropped. id keeps its sequence default,
-- so ids stay unique and ascending and the newest-first order by id is unchanged.
ALTER TABLE receive_log DROP CONSTRAINT receive_log_pkey;
