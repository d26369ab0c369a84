-- Login security (issue 16) and delegation (issue 17).

-- Login IP allow-lists. A rule with no department applies to the whole domain; one with a department
-- to its subtree. Every level that has rules must let the address in (a department narrows, never
-- widens, what its domain allows); within a level, one matching network is enough.
CREATE TABLE login_ip_rule (
    id bigserial PRIMARY KEY,
    domain text NOT NULL,
    department_id bigint REFERENCES directory_department (id) ON DELETE CASCADE,
    network cidr NOT NULL,
    note text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (domain, department_id, network)
);
CREATE INDEX login_ip_rule_domain ON login_ip_rule (domain);

-- A delegates her mailbox to B (issue 17, 4.2.16): B logs in with his own credentials and the SASL
-- authorization identity A. Written only by A's account grain.
CREATE TABLE account_delegation (
    owner text NOT NULL,
    delegate text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, delegate)
);
CREATE INDEX account_delegation_delegate ON account_delegation (delegate);

-- The domain of each login row, so that an admin's view of a domain is one index range, and the
-- new-location check reads the account's recent successful places through one index.
ALTER TABLE login_log ADD COLUMN domain text;
CREATE INDEX login_log_domain ON login_log (domain, id DESC);
CREATE INDEX login_log_account_success ON login_log (account, at DESC) WHERE result = 'success';
