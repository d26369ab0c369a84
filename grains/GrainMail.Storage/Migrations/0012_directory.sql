-- The organisation's directory (departments, account attributes, aliases) as tables.
--
-- DomainGrain is the one writer of its domain's rows (it serialises every change to its
-- directory); the admin API's lists and searches, the address book, the role scopes and the
-- CSV export read them directly. Rows rather than grain state because a domain may hold
-- 100,000 accounts: one grain-state blob of them would be rewritten whole at every change.

-- Departments form a tree per domain, at most 13 levels deep. Each domain has one root, its
-- default department (depth 1, parent NULL), created with the domain. path holds the ids from
-- the root down to the department itself, so a subtree is `path @> ARRAY[id]` and a move
-- rewrites the prefix of every row below.
CREATE SEQUENCE directory_department_id_seq;
CREATE TABLE directory_department (
    id          bigint PRIMARY KEY DEFAULT nextval('directory_department_id_seq'),
    domain      text   NOT NULL,
    parent_id   bigint REFERENCES directory_department (id),
    name        text   NOT NULL,
    depth       int    NOT NULL CHECK (depth BETWEEN 1 AND 13),
    path        bigint[] NOT NULL,
    sort_order  int    NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE directory_department_id_seq OWNED BY directory_department.id;
CREATE INDEX directory_department_parent ON directory_department (domain, parent_id);
CREATE INDEX directory_department_path ON directory_department USING gin (path);
-- Siblings have distinct names (the CSV import addresses a department by its path of names).
CREATE UNIQUE INDEX directory_department_sibling_name ON directory_department (domain, coalesce(parent_id, 0), name);

-- One row per account: the attributes an administrator manages. Credentials stay in the
-- account grain; the mailbox's quota is held by the mailbox grain (this is the configured value).
CREATE TABLE directory_account (
    domain               text    NOT NULL,
    local_part           text    NOT NULL,
    display_name         text,
    title                text,
    employee_level       text,
    phone                text,
    department_id        bigint  NOT NULL REFERENCES directory_department (id),
    quota_bytes          bigint  NOT NULL,
    may_send_external    boolean NOT NULL DEFAULT true,
    may_receive_external boolean NOT NULL DEFAULT true,
    in_address_book      boolean NOT NULL DEFAULT true,
    enabled              boolean NOT NULL DEFAULT true,
    must_change_password boolean NOT NULL DEFAULT false,
    -- A PHC $argon2id$ hash given by a CSV import for an account it created: the account grain
    -- adopts it when it first activates (credentials then live in the grain, as for every account).
    provisioned_password_hash text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, local_part)
);
CREATE INDEX directory_account_department ON directory_account (department_id);
-- Prefix search of the admin list (q=): by address and by display name, in any collation.
CREATE INDEX directory_account_local_prefix ON directory_account (domain, local_part text_pattern_ops);
CREATE INDEX directory_account_name_prefix ON directory_account (domain, lower(display_name) text_pattern_ops);

-- Extra addresses of an account in its own domain (RFC 5321 local parts, normalised as the
-- account's): the account receives at them and may send as them.
CREATE TABLE directory_account_alias (
    domain      text NOT NULL,
    alias       text NOT NULL,
    local_part  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, alias),
    FOREIGN KEY (domain, local_part) REFERENCES directory_account (domain, local_part) ON DELETE CASCADE
);
CREATE INDEX directory_account_alias_owner ON directory_account_alias (domain, local_part);

-- Domain aliases: mail to x@alias is mail to x@domain.
CREATE TABLE directory_domain_alias (
    alias       text PRIMARY KEY,
    domain      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directory_domain_alias_domain ON directory_domain_alias (domain);
