-- Delegated administration (roles and their login sessions) and the integration API
-- (registered keys, the replay store of signed requests, single sign-on tickets).
--
-- Secrets are never stored: session tokens and sign-on tickets are 256-bit random values
-- kept as their SHA-256 (a slow hash adds nothing for values nobody can guess), and an
-- integration is known by its public key only.

-- A role an account holds over a scope: a whole domain (department_id NULL) or the subtree
-- of one department. The super admin is the bootstrap token, never a row. account_created_at
-- ties the grant to this incarnation of the account: a deleted account that is created again
-- under the same address does not inherit the old one's power.
CREATE TABLE admin_role (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account            text   NOT NULL,
    account_created_at timestamptz NOT NULL,
    role               text   NOT NULL CHECK (role IN ('domain-admin', 'department-admin', 'auditor')),
    domain             text   NOT NULL REFERENCES mail_domain (name) ON UPDATE CASCADE ON DELETE CASCADE,
    department_id      bigint REFERENCES directory_department (id) ON DELETE CASCADE,
    granted_by         text   NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'domain-admin') = (department_id IS NULL) OR role = 'auditor')
);
CREATE UNIQUE INDEX admin_role_unique ON admin_role (account, role, domain, coalesce(department_id, 0));
CREATE INDEX admin_role_domain ON admin_role (domain);

-- A login to the admin API (kind 'admin', from POST /sessions: the account holds a role) or to
-- the user-level API (kind 'user', from a single sign-on ticket). A session ends at expires_at
-- (the absolute limit) or when unused for the idle limit, whichever comes first.
CREATE TABLE admin_session (
    token_hash   bytea  PRIMARY KEY,
    account      text   NOT NULL,
    kind         text   NOT NULL CHECK (kind IN ('admin', 'user')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX admin_session_account ON admin_session (account);
CREATE INDEX admin_session_expires ON admin_session (expires_at);

-- An enterprise system allowed to call the signed endpoints for one domain.
CREATE TABLE integration (
    id              uuid   PRIMARY KEY,
    name            text   NOT NULL,
    domain          text   NOT NULL REFERENCES mail_domain (name) ON UPDATE CASCADE ON DELETE CASCADE,
    algorithm       text   NOT NULL CHECK (algorithm IN ('ed25519', 'rsa')),
    public_key      bytea  NOT NULL,
    allowed_sources text[] NOT NULL,
    created_by      text   NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integration_domain ON integration (domain);

-- Nonces of accepted signed requests, kept until their signature could no longer be valid:
-- a second request with the same nonce is a replay, whichever gateway it reaches.
CREATE TABLE integration_nonce (
    integration_id uuid NOT NULL REFERENCES integration (id) ON DELETE CASCADE,
    nonce          text NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (integration_id, nonce)
);
CREATE INDEX integration_nonce_expires ON integration_nonce (expires_at);

-- One-time sign-on tickets an integration asked for: redeemed once, within minutes.
CREATE TABLE sso_ticket (
    ticket_hash    bytea PRIMARY KEY,
    integration_id uuid  NOT NULL REFERENCES integration (id) ON DELETE CASCADE,
    account        text  NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sso_ticket_expires ON sso_ticket (expires_at);
