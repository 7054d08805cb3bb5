-- Version 8: the directory, one row per entity. Users, groups, memberships and application assignments leave the
-- configuration document (config_resources keeps the catalogue: the instance, issuers and applications) for
-- tables of their own, with the identity store's uniqueness rules and references as constraints, so a write
-- touches only the rows it changes. The data is moved by the Python step of this migration
-- (ssoidc.storage.postgres, DIRECTORY_MIGRATION), in the same transaction. seq orders rows as written.
CREATE TABLE dir_users (
    user_id text PRIMARY KEY,
    user_name_key text NOT NULL CONSTRAINT dir_users_user_name UNIQUE,
    seq bigint NOT NULL,
    doc text NOT NULL
);
-- Lookup attributes of a user (storage.base.DirectoryStore): emails.value, externalids, externalids.<issuer>,
-- externalid. Not unique: the identity store allows one value on several users (GetUserId then refuses).
CREATE TABLE dir_user_attributes (
    attribute text NOT NULL,
    value text NOT NULL,
    user_id text NOT NULL REFERENCES dir_users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (attribute, value, user_id)
);
CREATE INDEX dir_user_attributes_user ON dir_user_attributes (user_id);
CREATE TABLE dir_groups (
    group_id text PRIMARY KEY,
    display_name text NOT NULL CONSTRAINT dir_groups_display_name UNIQUE,
    seq bigint NOT NULL,
    doc text NOT NULL
);
CREATE TABLE dir_group_attributes (
    attribute text NOT NULL,
    value text NOT NULL,
    group_id text NOT NULL REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    PRIMARY KEY (attribute, value, group_id)
);
CREATE INDEX dir_group_attributes_group ON dir_group_attributes (group_id);
CREATE TABLE dir_memberships (
    membership_id text PRIMARY KEY,
    group_id text NOT NULL REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES dir_users (user_id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    CONSTRAINT dir_memberships_pair UNIQUE (group_id, user_id)
);
CREATE INDEX dir_memberships_user ON dir_memberships (user_id, group_id);
-- An assignment names its principal twice: principal_id as sso-admin does, and user_id or group_id, the column
-- that references it (so deleting the principal deletes the assignment); the CHECK keeps them equal. The
-- application is a config_resources row (kind 'application').
CREATE TABLE app_assignments (
    application_kind text NOT NULL DEFAULT 'application' CHECK (application_kind = 'application'),
    application_arn text NOT NULL,
    principal_type text NOT NULL,
    principal_id text NOT NULL,
    user_id text REFERENCES dir_users (user_id) ON DELETE CASCADE,
    group_id text REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    seq bigint NOT NULL,
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
CREATE SEQUENCE dir_seq;
-- The change feed: what each configuration version changed (storage.base.Change), read by every node's snapshot
-- cache to invalidate only what changed; purge_expired keeps the last CHANGE_RETENTION versions.
CREATE TABLE config_changes (
    version bigint NOT NULL,
    n integer NOT NULL,
    kind text NOT NULL,
    key text NOT NULL,
    PRIMARY KEY (version, n)
);
-- The catalogue's own version (the configuration version of its last write): what sso-admin's compare-and-swap
-- writes compare, so a directory write in between never makes them retry.
INSERT INTO meta (key, value) SELECT 'catalogue_version', value FROM meta WHERE key = 'config_version';
