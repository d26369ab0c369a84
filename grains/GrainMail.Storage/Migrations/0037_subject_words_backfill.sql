-- The subject-word backfill (issue 17): rows of message_index indexed before 0033 have no word
-- tokens. A background job gives them theirs in batches (GrainMail.Grains.Governance.SubjectWordsBackfill);
-- this partial index holds exactly the rows still waiting, so it is the job's resumable cursor and
-- costs nothing once they are done (new rows get their tokens when they are written).
CREATE INDEX message_index_words_pending ON message_index (blob_domain, blob_hash)
    WHERE subject_words IS NULL AND subject IS NOT NULL;
