-- The home-region map on every silo follows the directory by change time: a cheap query for
-- what changed since the last look, instead of the whole directory every few seconds.
ALTER TABLE mail_domain ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX mail_domain_updated ON mail_domain (updated_at);
