-- A version number for the global spam model (issue 14, session 11).
--
-- Each silo keeps a copy of the global model's token counts in memory (GlobalModelCopy), so that an MX
-- message reads no counts from PostgreSQL for it. The copy is used while this number is what it was when
-- the copy was made; a silo reads the number at most once a second, and at once after a change of its own.
-- The number moves in the same transaction as the counts, by statement triggers on bayes_token, so every
-- writer is covered (learning, training, reset, a SQL seed), and a copy read in one snapshot together with
-- the number is never half old and half new.
CREATE SEQUENCE bayes_global_version_seq;
CREATE TABLE bayes_global_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO bayes_global_version (version) VALUES (nextval('bayes_global_version_seq'));

-- Only the global model's rows (owner '') move the number; a user's learning does not.
CREATE FUNCTION bayes_global_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows WHERE owner = '') THEN
        UPDATE bayes_global_version SET version = nextval('bayes_global_version_seq');
    END IF;
    RETURN NULL;
END $$;

-- TRUNCATE names no rows: the copy is stale whatever was there.
CREATE FUNCTION bayes_global_bump_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bayes_global_version SET version = nextval('bayes_global_version_seq');
    RETURN NULL;
END $$;

CREATE TRIGGER bayes_token_global_ins AFTER INSERT ON bayes_token REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bayes_global_bump();
CREATE TRIGGER bayes_token_global_upd AFTER UPDATE ON bayes_token REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bayes_global_bump();
CREATE TRIGGER bayes_token_global_del AFTER DELETE ON bayes_token REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bayes_global_bump();
CREATE TRIGGER bayes_token_global_trunc AFTER TRUNCATE ON bayes_token
    FOR EACH STATEMENT EXECUTE FUNCTION bayes_global_bump_all();
