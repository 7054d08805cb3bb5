-- Version 14: a revision per user and group row (identitystore Revision, optimistic concurrency). Every write of
-- a row sets its revision to the next value of one store-wide counter (meta 'directory_revision'), so a row
-- never sees the same revision twice, even when ssoidc apply rewrites the directory; UpdateUser/UpdateGroup and
-- DeleteUser/DeleteGroup with a Revision write only WHERE revision = the given one. Rows that predate this
-- migration start at revision 1, the counter after them.
ALTER TABLE dir_users ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE dir_groups ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
INSERT INTO meta (key, value) VALUES ('directory_revision', '1') ON CONFLICT(key) DO NOTHING;
