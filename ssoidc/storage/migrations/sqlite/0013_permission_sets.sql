-- Version 13: sso-admin permission sets, account assignments, provisioning state and the status records of the
-- asynchronous requests (CreateAccountAssignment, DeleteAccountAssignment, ProvisionPermissionSet): one row per
-- entity, like the directory (they grow as users x accounts x permission sets), never in the catalogue.
-- name_key is the lower-cased name: permission set names are unique case-insensitively (IAM role names are).
CREATE TABLE permission_sets (
    arn TEXT PRIMARY KEY,
    name_key TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL
);
-- An account assignment names its principal twice, as app_assignments does: principal_id, and user_id or
-- group_id, the column that references it (deleting the principal deletes the assignment).
CREATE TABLE account_assignments (
    account_id TEXT NOT NULL,
    permission_set_arn TEXT NOT NULL REFERENCES permission_sets (arn) ON DELETE CASCADE,
    principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    user_id TEXT REFERENCES dir_users (user_id) ON DELETE CASCADE,
    group_id TEXT REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    PRIMARY KEY (account_id, permission_set_arn, principal_type, principal_id),
    CHECK (
        (principal_type = 'USER' AND user_id = principal_id AND group_id IS NULL)
        OR (principal_type = 'GROUP' AND group_id = principal_id AND user_id IS NULL)
    )
) WITHOUT ROWID;
CREATE INDEX account_assignments_principal
    ON account_assignments (principal_type, principal_id, account_id, permission_set_arn);
CREATE INDEX account_assignments_permission_set ON account_assignments (permission_set_arn, account_id);
CREATE INDEX account_assignments_user ON account_assignments (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX account_assignments_group ON account_assignments (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX account_assignments_seq ON account_assignments (seq);
-- Which permission set is provisioned to which account; outdated = 1 once the permission set changed after its
-- provisioning there (ListAccountsForProvisionedPermissionSet's LATEST_PERMISSION_SET_NOT_PROVISIONED).
CREATE TABLE permission_set_provisioning (
    permission_set_arn TEXT NOT NULL REFERENCES permission_sets (arn) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    outdated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (permission_set_arn, account_id)
) WITHOUT ROWID;
CREATE INDEX permission_set_provisioning_account ON permission_set_provisioning (account_id, permission_set_arn);
-- The status records of the asynchronous requests (no reference: a record outlives what it names).
CREATE TABLE access_requests (
    request_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    permission_set_arn TEXT NOT NULL,
    account_id TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    failure_reason TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_requests_kind ON access_requests (kind, request_id);
CREATE INDEX access_requests_created ON access_requests (created_at);
