-- DKIM keys per sending domain (RFC 6376, RFC 8463): an RSA-2048 and an Ed25519 key, made when
-- the domain is created; rotation adds a new pair and retires the old one. Private keys are
-- sealed with the master key; the public key is what the domain publishes in DNS.
CREATE TABLE dkim_key (
    domain      text        NOT NULL,
    selector    text        NOT NULL,
    algorithm   text        NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
    private_key bytea       NOT NULL,
    public_key  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    active      boolean     NOT NULL,
    PRIMARY KEY (domain, selector)
);
