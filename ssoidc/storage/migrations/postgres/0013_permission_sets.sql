-- Version 13: sso-admin permission sets, account assignments, provisioning state and the status records of the
-- asynchronous requests (CreateAccountAssignment, DeleteAccountAssignment, ProvisionPermissionSet): one row per
-- entity, like the directory (they grow as users x accounts x permission sets), never in the catalogue.
-- name_key is the lower-cased name: permission set names are unique case-insensitively (IAM role names are).
CREATE TABLE permission_sets (
    arn text PRIMARY KEY,
    name_key text NOT NULL CONSTRAINT permission_sets_name UNIQUE,
    seq bigint NOT NULL,
    doc text NOT NULL
);
-- An account assignment names its principal twice, as app_assignments does: principal_id, and user_id or
-- group_id, the column that references it (deleting the principal deletes the assignment).
CREATE TABLE account_assignments (
    account_id text NOT NULL,
    permission_set_arn text NOT NULL REFERENCES permission_sets (arn) ON DELETE CASCADE,
    principal_type text NOT NULL,
    principal_id text NOT NULL,
    user_id text REFERENCES dir_users (user_id) ON DELETE CASCADE,
    group_id text REFERENCES dir_groups (group_id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    PRIMARY KEY (account_id, permission_set_arn, principal_type, principal_id),
    CHECK (
        (principal_type = 'USER' AND user_id = principal_id AND group_id IS NULL)
        OR (principal_type = 'GROUP' AND group_id = principal_id AND user_id IS NULL)
    )
);
CREATE INDEX account_assignments_principal
    ON account_assignments (principal_type, principal_id, account_id, permission_set_arn);
CREATE INDEX account_assignments_permission_set ON account_assignments (permission_set_arn, account_id);
CREATE INDEX account_assignments_user ON account_assignments (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX account_assignments_group ON account_assignments (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX account_assignments_seq ON account_assignments (seq);
-- Which permission set is provisioned to which account; outdated once the permission set changed after its
-- provisioning there (ListAccountsForProvisionedPermissionSet's LATEST_PERMISSION_SET_NOT_PROVISIONED).
CREATE TABLE permission_set_provisioning (
    permission_set_arn text NOT NULL REFERENCES permission_sets (arn) ON DELETE CASCADE,
    account_id text NOT NULL,
    outdated boolean NOT NULL DEFAULT false,
    PRIMARY KEY (permission_set_arn, account_id)
);
CREATE INDEX permission_set_provisioning_account ON permission_set_provisioning (account_id, permission_set_arn);
-- The status records of the asynchronous requests (no reference: a record outlives what it names).
CREATE TABLE access_requests (
    request_id text PRIMARY KEY,
    kind text NOT NULL,
    status text NOT NULL,
    created_at double precision NOT NULL,
    permission_set_arn text NOT NULL,
    account_id text NOT NULL,
    principal_type text NOT NULL,
    principal_id text NOT NULL,
    failure_reason text NOT NULL
);
CREATE INDEX access_requests_kind ON access_requests (kind, request_id);
CREATE INDEX access_requests_created ON access_requests (created_at);
