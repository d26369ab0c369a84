-- Account security (issue 16): the per-domain policy (two-factor required, password rules,
-- authentication only over TLS), per-department two-factor overrides, and the verdict of each
-- account's password against its policy. Secrets themselves (TOTP keys, recovery codes, password
-- history, reset tokens) stay in the account grain's state.

-- One row per domain that changed anything; a domain without a row has the defaults below.
CREATE TABLE security_policy (
    domain                 text    PRIMARY KEY,
    two_factor_required    boolean NOT NULL DEFAULT false,
    -- NULL: the node's rule (TLS only, unless the node allows plaintext for development);
    -- true holds even on such a node.
    auth_requires_tls      boolean,
    password_min_length    int     NOT NULL DEFAULT 8 CHECK (password_min_length BETWEEN 8 AND 128),
    password_min_classes   int     NOT NULL DEFAULT 1 CHECK (password_min_classes BETWEEN 1 AND 4),
    password_forbid_name   boolean NOT NULL DEFAULT false,
    password_forbid_common boolean NOT NULL DEFAULT false,
    password_history       int     NOT NULL DEFAULT 0 CHECK (password_history BETWEEN 0 AND 24),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- "Two-factor required" for a department and its subtree; the nearest department on an
-- account's path that has a row decides, else the domain's policy.
CREATE TABLE department_security_policy (
    department_id       bigint  PRIMARY KEY REFERENCES directory_department (id) ON DELETE CASCADE,
    two_factor_required boolean NOT NULL
);

-- The last verdict on an account's password (when set, and at password logins): never the
-- password, only which rules it breaks. weak = at least one.
CREATE TABLE password_verdict (
    domain     text    NOT NULL,
    local_part text    NOT NULL,
    weak       boolean NOT NULL,
    violations text[]  NOT NULL,
    judged_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, local_part)
);
CREATE INDEX password_verdict_weak ON password_verdict (domain) WHERE weak;
