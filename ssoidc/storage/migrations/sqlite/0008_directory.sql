-- Version 8: the directory, one row per entity. Users, groups, memberships and application assignments leave the
-- configuration document (config_resources keeps the catalogue: the instance, issuers and applications) for
-- tables of their own, with the identity store's uniqueness rules and references as constraints, so a write
-- touches only the rows it changes. The data is moved by the Python step of this migration
-- (ssoidc.storage.sqlite, DIRECTORY_MIGRATION), in the same transaction.
-- seq orders rows as they were written (export writes them in that order).
ALTER TABLE config_resources ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE config_resources SET seq = rowid;
CREATE TABLE dir_users (
    user_id TEXT PRIMARY KEY,
    user_name_key TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL
);
-- Lookup attributes of a user (storage.base.DirectoryStore): emails.value, externalids, externalids.<issuer>,
-- externalid. Not unique: the identity store allows one value on several users (GetUserId then refuses).
CREATE TABLE dir_user_attributes (
    attribute TEXT NOT NULL,
    value TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES dir_users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (attribute, value, user_id)
) WITHOUT ROWID;
CREATE INDEX dir_user_attributes_user ON dir_user_attributes (user_id);
CREATE INDEX dir_users_seq ON dir_users (seq);
CREATE TABLE dir_groups (
    group_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE dir_group_attributes (
    attribute TEXT NOT NULL,
    value TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    PRIMARY KEY (attribute, value, group_id)
) WITHOUT ROWID;
CREATE INDEX dir_group_attributes_group ON dir_group_attributes (group_id);
CREATE INDEX dir_groups_seq ON dir_groups (seq);
CREATE TABLE dir_memberships (
    membership_id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES dir_users (user_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    UNIQUE (group_id, user_id)
);
CREATE INDEX dir_memberships_user ON dir_memberships (user_id, group_id);
CREATE INDEX dir_memberships_seq ON dir_memberships (seq);
-- An assignment names its principal twice: principal_id as sso-admin does, and user_id or group_id, the column
-- that references it (so deleting the principal deletes the assignment); the CHECK keeps them equal. The
-- application is a config_resources row (kind 'application').
CREATE TABLE app_assignments (
    application_kind TEXT NOT NULL DEFAULT 'application' CHECK (application_kind = 'application'),
    application_arn TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    user_id TEXT REFERENCES dir_users (user_id) ON DELETE CASCADE,
    group_id TEXT REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    PRIMARY KEY (application_arn, principal_type, principal_id),
    FOREIGN KEY (application_kind, application_arn) REFERENCES config_resources (kind, id) ON DELETE CASCADE,
    CHECK (
        (principal_type = 'USER' AND user_id = principal_id AND group_id IS NULL)
        OR (principal_type = 'GROUP' AND group_id = principal_id AND user_id IS NULL)
    )
);
CREATE INDEX app_assignments_principal ON app_assignments (principal_type, principal_id, application_arn);
CREATE INDEX app_assignments_user ON app_assignments (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX app_assignments_group ON app_assignments (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX app_assignments_seq ON app_assignments (seq);
-- The change feed: what each configuration version changed (storage.base.Change), read by every worker's
-- snapshot cache to invalidate only what changed; purge_expired keeps the last CHANGE_RETENTION versions.
CREATE TABLE config_changes (
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE INDEX config_changes_version ON config_changes (version);
-- The catalogue's own version (the configuration version of its last write): what sso-admin's compare-and-swap
-- writes compare, so a directory write in between never makes them retry.
INSERT INTO meta (key, value) SELECT 'catalogue_version', value FROM meta WHERE key = 'config_version';
