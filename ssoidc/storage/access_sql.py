"""What the SQL stores share for permission sets, account assignments, provisioning state and the asynchronous
request records (migration 0013; ``ssoidc.storage.base.AccountAccessStore``): the statements (``?``
placeholders; PostgreSQL numbers them with ``common.numbered``) and the row <-> record mappers. The memory store
keeps the same rows through the same mappers.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from ssoidc.model import AccessRequest, AccessRequestKind, AccountAssignment, PermissionSet, PrincipalType
from ssoidc.storage import codec

PERMISSION_SET_CHANGE = "permission_set"
ACCOUNT_ASSIGNMENT_CHANGE = "account_assignment"
PROVISIONING_CHANGE = "provisioning"

GET_PERMISSION_SET_SQL = "SELECT doc FROM permission_sets WHERE arn = ?"
LIST_PERMISSION_SETS_SQL = "SELECT doc FROM permission_sets WHERE arn > ? ORDER BY arn LIMIT ?"
UPDATE_PERMISSION_SET_SQL = "UPDATE permission_sets SET name_key = ?, doc = ? WHERE arn = ?"
OUTDATE_PROVISIONING_SQL = "UPDATE permission_set_provisioning SET outdated = ? WHERE permission_set_arn = ?"
HAS_ACCOUNT_ASSIGNMENTS_SQL = "SELECT 1 FROM account_assignments WHERE permission_set_arn = ? LIMIT 1"
PROVISIONED_ACCOUNTS_SQL = (
    "SELECT account_id FROM permission_set_provisioning WHERE permission_set_arn = ? ORDER BY account_id"
)
DELETE_PERMISSION_SET_SQL = "DELETE FROM permission_sets WHERE arn = ?"

ASSIGNMENT_COLS = "account_id, permission_set_arn, principal_type, principal_id"
LIST_ACCOUNT_ASSIGNMENTS_SQL = (
    f"SELECT {ASSIGNMENT_COLS} FROM account_assignments WHERE account_id = ? AND permission_set_arn = ?"
    " AND principal_type || '/' || principal_id > ? ORDER BY principal_type || '/' || principal_id LIMIT ?"
)
LIST_PRINCIPAL_ASSIGNMENTS_SQL = (
    f"SELECT {ASSIGNMENT_COLS} FROM account_assignments WHERE principal_type = ? AND principal_id = ?"
    " AND account_id || '|' || permission_set_arn > ? ORDER BY account_id || '|' || permission_set_arn LIMIT ?"
)
LIST_PRINCIPAL_ACCOUNT_ASSIGNMENTS_SQL = (
    f"SELECT {ASSIGNMENT_COLS} FROM account_assignments WHERE principal_type = ? AND principal_id = ?"
    " AND account_id = ? AND account_id || '|' || permission_set_arn > ?"
    " ORDER BY account_id || '|' || permission_set_arn LIMIT ?"
)
ACCOUNT_ROLES_SQL = (
    "SELECT DISTINCT a.account_id, a.permission_set_arn, p.name_key FROM account_assignments a"
    " JOIN permission_sets p ON p.arn = a.permission_set_arn"
    " WHERE (a.principal_type = 'USER' AND a.principal_id = ?)"
    " OR (a.principal_type = 'GROUP' AND a.principal_id IN (SELECT group_id FROM dir_memberships WHERE user_id = ?))"
    " ORDER BY a.account_id, p.name_key"
)
"""Parameters: user id twice. Ordered by the permission set's name (its unique, lower-case key)."""
INSERT_ACCOUNT_ASSIGNMENT_SQL = (
    "INSERT INTO account_assignments (account_id, permission_set_arn, principal_type, principal_id, user_id,"
    " group_id, seq) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
DELETE_ACCOUNT_ASSIGNMENT_SQL = (
    "DELETE FROM account_assignments WHERE account_id = ? AND permission_set_arn = ? AND principal_type = ?"
    " AND principal_id = ?"
)
STILL_ASSIGNED_SQL = (
    "SELECT 1 FROM account_assignments WHERE permission_set_arn = ? AND account_id = ? LIMIT 1"
)
"""Parameters: permission set ARN, account id."""
DEPROVISION_SQL = "DELETE FROM permission_set_provisioning WHERE permission_set_arn = ? AND account_id = ?"

LIST_PROVISIONED_ACCOUNTS_SQL = (
    "SELECT account_id FROM permission_set_provisioning WHERE permission_set_arn = ? AND account_id > ?"
    " AND outdated IN (?, ?) ORDER BY account_id LIMIT ?"
)
LIST_PROVISIONED_PERMISSION_SETS_SQL = (
    "SELECT permission_set_arn FROM permission_set_provisioning WHERE account_id = ? AND permission_set_arn > ?"
    " AND outdated IN (?, ?) ORDER BY permission_set_arn LIMIT ?"
)

REQUEST_COLUMNS = (
    "request_id",
    "kind",
    "status",
    "created_at",
    "permission_set_arn",
    "account_id",
    "principal_type",
    "principal_id",
    "failure_reason",
)
REQUEST_COLS = ", ".join(REQUEST_COLUMNS)
INSERT_REQUEST_SQL = (
    f"INSERT INTO access_requests ({REQUEST_COLS}) VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
)
GET_REQUEST_SQL = f"SELECT {REQUEST_COLS} FROM access_requests WHERE request_id = ?"
LIST_REQUESTS_SQL = f"SELECT {REQUEST_COLS} FROM access_requests WHERE kind = ? AND request_id > ? ORDER BY request_id LIMIT ?"
LIST_REQUESTS_BY_STATUS_SQL = (
    f"SELECT {REQUEST_COLS} FROM access_requests WHERE kind = ? AND status = ? AND request_id > ?"
    " ORDER BY request_id LIMIT ?"
)


def outdated_filter(outdated: bool | None) -> tuple[bool, bool]:
    """The two values of ``outdated IN (?, ?)`` that select ``outdated`` (both when None)."""
    return (False, True) if outdated is None else (outdated, outdated)


def permission_set_doc(p: PermissionSet) -> str:
    return orjson.dumps(codec.to_doc(p)).decode()


def permission_set_of(doc: str | bytes) -> PermissionSet:
    return codec.permission_set_from_doc(orjson.loads(doc))


def name_key(name: str) -> str:
    """The unique key of a permission set name (case-insensitive, as IAM role names are)."""
    return name.lower()


def assignment_params(a: AccountAssignment) -> tuple[str, str, str, str, str | None, str | None]:
    """``(account, permission set, principal type, principal id, user_id, group_id)`` of an assignment row."""
    user = a.principal_id if a.principal_type == "USER" else None
    group = a.principal_id if a.principal_type == "GROUP" else None
    return (a.account_id, a.permission_set_arn, a.principal_type, a.principal_id, user, group)


def assignment_of(row: Any) -> AccountAssignment:
    return AccountAssignment(row[0], row[1], cast(PrincipalType, row[2]), row[3])


def account_assignment_key(a: AccountAssignment) -> str:
    """The change-feed key of an account assignment."""
    return f"{a.account_id}|{a.permission_set_arn}|{a.principal_type}|{a.principal_id}"


def principal_key(a: AccountAssignment) -> str:
    """The order of a permission set's assignments on an account (ListAccountAssignments' pages)."""
    return f"{a.principal_type}/{a.principal_id}"


def target_key(a: AccountAssignment) -> str:
    """The order of a principal's assignments (ListAccountAssignmentsForPrincipal's pages)."""
    return f"{a.account_id}|{a.permission_set_arn}"


def provisioning_key(permission_set_arn: str, account_id: str) -> str:
    return f"{permission_set_arn}|{account_id}"


def request_params(r: AccessRequest) -> tuple[Any, ...]:
    return (
        r.request_id,
        r.kind,
        r.status,
        r.created_at,
        r.permission_set_arn,
        r.account_id,
        r.principal_type,
        r.principal_id,
        r.failure_reason,
    )


def request_of(row: Any) -> AccessRequest:
    return AccessRequest(
        request_id=row[0],
        kind=cast(AccessRequestKind, row[1]),
        status=row[2],
        created_at=float(row[3]),
        permission_set_arn=row[4],
        account_id=row[5],
        principal_type=row[6],
        principal_id=row[7],
        failure_reason=row[8],
    )
