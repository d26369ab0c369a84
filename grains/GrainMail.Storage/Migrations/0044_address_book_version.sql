-- A version number per domain for everything its address book is made of (issue 15, session 10).
--
-- Each silo keeps the address book of a domain in memory for autocomplete (AddressBookIndex) and
-- asks for this number before every search: a different number means that the copy is stale and the
-- search is answered from SQL while a new copy loads. The number moves in the same transaction as
-- the change that moves it, by statement triggers here, so every writer is covered (DomainGrain, the
-- CSV import, the address-book admin grain, list management, a SQL seed) and a search that starts
-- after a change has committed sees that change.
--
-- Values come from one sequence, so a number is never reused, not even after a domain is deleted and
-- made again.
CREATE SEQUENCE address_book_version_seq;
CREATE TABLE address_book_version (
    domain   text PRIMARY KEY,
    version  bigint NOT NULL
);

-- The domains of the rows a statement inserted or deleted (transition table "changed_rows").
CREATE FUNCTION address_book_bump_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO address_book_version (domain, version)
    SELECT d.domain, nextval('address_book_version_seq') FROM (SELECT DISTINCT domain FROM changed_rows) d
    ON CONFLICT (domain) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END $$;

-- The domains of the rows a statement updated, before and after (a domain rename moves rows).
CREATE FUNCTION address_book_bump_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO address_book_version (domain, version)
    SELECT d.domain, nextval('address_book_version_seq')
    FROM (SELECT domain FROM changed_rows UNION SELECT domain FROM old_rows) d
    ON CONFLICT (domain) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END $$;

-- Accounts are updated for reasons the address book does not show (quota, password flags): only a
-- change of a column it reads moves the number.
CREATE FUNCTION address_book_bump_updated_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO address_book_version (domain, version)
    SELECT d.domain, nextval('address_book_version_seq')
    FROM (SELECT domain FROM (SELECT domain, local_part, display_name, title, phone, department_id, enabled, in_address_book FROM changed_rows
                              EXCEPT
                              SELECT domain, local_part, display_name, title, phone, department_id, enabled, in_address_book FROM old_rows) n
          UNION
          SELECT domain FROM (SELECT domain, local_part, display_name, title, phone, department_id, enabled, in_address_book FROM old_rows
                              EXCEPT
                              SELECT domain, local_part, display_name, title, phone, department_id, enabled, in_address_book FROM changed_rows) o) d
    ON CONFLICT (domain) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END $$;

-- TRUNCATE names no rows: every domain's copy is stale.
CREATE FUNCTION address_book_bump_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE address_book_version SET version = nextval('address_book_version_seq');
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['directory_account', 'directory_department', 'address_book_rule', 'address_book_contact', 'mailing_list'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION address_book_bump_changed()',
                       t || '_book_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION address_book_bump_changed()',
                       t || '_book_del', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                       t || '_book_upd', t, CASE WHEN t = 'directory_account' THEN 'address_book_bump_updated_accounts' ELSE 'address_book_bump_updated' END);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION address_book_bump_all()', t || '_book_trunc', t);
    END LOOP;
END $$;
