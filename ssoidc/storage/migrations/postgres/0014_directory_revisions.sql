-- Version 14: a revision per user and group row (identitystore Revision, optimistic concurrency). Every write of
-- a row sets its revision to nextval('dir_revision'), one store-wide sequence (never reused, also across nodes),
-- so a row never sees the same revision twice, even when ssoidc apply rewrites the directory;
-- UpdateUser/UpdateGroup and DeleteUser/DeleteGroup with a Revision write only WHERE revision = the given one.
-- Rows that predate this migration start at revision 1, the sequence after them.
ALTER TABLE dir_users ADD COLUMN revision bigint NOT NULL DEFAULT 1;
ALTER TABLE dir_groups ADD COLUMN revision bigint NOT NULL DEFAULT 1;
CREATE SEQUENCE dir_revision START WITH 2;
