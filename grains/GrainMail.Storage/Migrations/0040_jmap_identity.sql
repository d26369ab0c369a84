-- JMAP Identity objects (RFC 8621 6), one row per identity of an account, written only by the
-- account's JmapIdentityGrain. "derived" rows stand for an address the account has anyway (its own
-- address, an account alias) and are made by the grain when it first sees the address; other rows
-- were created by the user with Identity/set. created_seq/updated_seq are the account's own counter,
-- so Identity/changes reads created, updated and destroyed rows from here (destroyed rows stay as
-- tombstones). user_destroyed tells a derived identity the user destroyed (it stays gone) from one
-- whose alias was removed (it comes back with the alias).
CREATE TABLE jmap_identity (
    account        text    NOT NULL,
    id             text    NOT NULL,
    email          text    NOT NULL,
    derived        boolean NOT NULL,
    created_seq    bigint  NOT NULL,
    updated_seq    bigint  NOT NULL,
    destroyed      boolean NOT NULL DEFAULT false,
    user_destroyed boolean NOT NULL DEFAULT false,
    object         text    NOT NULL,
    PRIMARY KEY (account, id)
);
