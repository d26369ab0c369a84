-- REQUIRETLS (RFC 8689) travels with a queued outbound message.
ALTER TABLE outbound_message ADD COLUMN require_tls boolean NOT NULL DEFAULT false;
