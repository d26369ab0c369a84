-- CardDAV sync-collection (RFC 6578, issue 15): what a sync token stood for, kept in PostgreSQL so
-- that a token stays valid after a gateway restarts and on every other gateway. The token is the
-- book's collection tag (a hash of every visible card's name and ETag); the row holds that state's
-- card names and ETags (gzip), per viewer. A few recent states per viewer are kept (the AddressBookStore
-- trims the rest), each as long as it is used within 30 days.
CREATE TABLE carddav_sync_state (
    viewer     text        NOT NULL,
    ctag       text        NOT NULL,
    cards      bytea       NOT NULL,
    used_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (viewer, ctag)
);
CREATE INDEX carddav_sync_state_used ON carddav_sync_state (used_at);
