-- Subject search over a whole domain (issue 17, item 7): the subject stays sealed; its words are
-- kept as keyed tokens (HMAC-SHA-256 under a key derived from the master key per domain, cut to
-- 12 bytes), so that a search finds every message with the query's words by equality on tokens,
-- through this GIN index, without opening subjects. Rows indexed earlier get their tokens on the
-- first subject search of their domain (GrainMail.Storage/Governance/MessageIndex.cs).
ALTER TABLE message_index ADD COLUMN subject_words bytea[];
CREATE INDEX message_index_subject_words ON message_index USING gin (subject_words);
