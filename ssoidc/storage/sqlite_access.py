"""SQLite: permission sets, account assignments, provisioning and request records (``AccountAccessStore``,
migration 0013). A mixin of ``SqliteStore`` (which translates its driver errors like its own methods'); every
write is one ``_write`` transaction with the version bump and change-feed entries of what it changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from ssoidc.model import AccessRequest, AccessRequestKind, AccountAssignment, PermissionSet
from ssoidc.storage import access_sql as q
from ssoidc.storage.base import InUse, Missing, QuotaReached


def insert_access(
    db: sqlite3.Connection,
    permission_sets: Sequence[PermissionSet],
    assignments: Sequence[AccountAssignment],
) -> None:
    """Insert permission sets and account assignments (into empty tables), in order, each assignment's
    permission set provisioned to its account (``replace_configuration``)."""
    db.executemany(
        "INSERT INTO permission_sets (arn, name_key, seq, doc) VALUES (?, ?, ?, ?)",
        [(p.arn, q.name_key(p.name), i, q.permission_set_doc(p)) for i, p in enumerate(permission_sets)],
    )
    db.executemany(
        q.INSERT_ACCOUNT_ASSIGNMENT_SQL, [(*q.assignment_params(a), i) for i, a in enumerate(assignments)]
    )
    db.executemany(
        "INSERT INTO permission_set_provisioning (permission_set_arn, account_id) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING",
        [(a.permission_set_arn, a.account_id) for a in assignments],
    )


def delete_access(db: sqlite3.Connection) -> None:
    """Delete every permission set, assignment and provisioning (the request records stay)."""
    for table in ("account_assignments", "permission_set_provisioning", "permission_sets"):
        db.execute(f"DELETE FROM {table}")


class SqliteAccountAccess:
    """``AccountAccessStore`` on the ``SqliteStore`` connection."""

    if TYPE_CHECKING:
        _db: sqlite3.Connection

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _dir_write(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _bump(self, db: sqlite3.Connection, *changes: tuple[str, str]) -> int: ...

    async def get_permission_set(self, arn: str) -> PermissionSet | None:
        row = self._db.execute(q.GET_PERMISSION_SET_SQL, (arn,)).fetchone()
        return None if row is None else q.permission_set_of(row[0])

    async def account_roles(self, user_id: str) -> list[tuple[str, str]]:
        rows = self._db.execute(q.ACCOUNT_ROLES_SQL, (user_id, user_id)).fetchall()
        return [(r[0], r[1]) for r in rows]

    async def list_permission_sets(self, *, after: str = "", limit: int = 100) -> list[PermissionSet]:
        rows = self._db.execute(q.LIST_PERMISSION_SETS_SQL, (after, limit)).fetchall()
        return [q.permission_set_of(r[0]) for r in rows]

    async def create_permission_set(self, permission_set: PermissionSet, *, limit: int = 0) -> None:
        p = permission_set
        with self._dir_write() as db:  # SQLite has one writer: the count and the insert cannot interleave
            if limit and db.execute("SELECT count(*) FROM permission_sets").fetchone()[0] >= limit:
                raise QuotaReached("permission_set")
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM permission_sets").fetchone()[0]
            db.execute(
                "INSERT INTO permission_sets (arn, name_key, seq, doc) VALUES (?, ?, ?, ?)",
                (p.arn, q.name_key(p.name), seq, q.permission_set_doc(p)),
            )
            self._bump(db, (q.PERMISSION_SET_CHANGE, p.arn))

    async def update_permission_set(self, permission_set: PermissionSet, *, outdated: bool = True) -> None:
        p = permission_set
        with self._dir_write() as db:
            n = db.execute(
                q.UPDATE_PERMISSION_SET_SQL, (q.name_key(p.name), q.permission_set_doc(p), p.arn)
            ).rowcount
            if n != 1:
                raise Missing("permission_set", p.arn)
            if outdated:
                db.execute(q.OUTDATE_PROVISIONING_SQL, (True, p.arn))
            self._bump(db, (q.PERMISSION_SET_CHANGE, p.arn))

    async def edit_permission_set(
        self, arn: str, change: Callable[[PermissionSet], tuple[PermissionSet, bool]]
    ) -> PermissionSet:
        with self._dir_write() as db:
            row = db.execute(q.GET_PERMISSION_SET_SQL, (arn,)).fetchone()
            if row is None:
                raise Missing("permission_set", arn)
            new, outdated = change(q.permission_set_of(row[0]))
            db.execute(q.UPDATE_PERMISSION_SET_SQL, (q.name_key(new.name), q.permission_set_doc(new), arn))
            if outdated:
                db.execute(q.OUTDATE_PROVISIONING_SQL, (True, arn))
            self._bump(db, (q.PERMISSION_SET_CHANGE, arn))
            return new

    async def delete_permission_set(self, arn: str) -> bool:
        with self._write() as db:
            if db.execute(q.HAS_ACCOUNT_ASSIGNMENTS_SQL, (arn,)).fetchone() is not None:
                raise InUse("account_assignment", arn)
            accounts = [r[0] for r in db.execute(q.PROVISIONED_ACCOUNTS_SQL, (arn,))]
            if db.execute(q.DELETE_PERMISSION_SET_SQL, (arn,)).rowcount != 1:
                return False
            self._bump(
                db,
                (q.PERMISSION_SET_CHANGE, arn),
                *((q.PROVISIONING_CHANGE, q.provisioning_key(arn, a)) for a in accounts),
            )
            return True

    async def list_account_assignments(
        self, account_id: str, permission_set_arn: str, *, after: str = "", limit: int = 100
    ) -> list[AccountAssignment]:
        rows = self._db.execute(
            q.LIST_ACCOUNT_ASSIGNMENTS_SQL, (account_id, permission_set_arn, after, limit)
        ).fetchall()
        return [q.assignment_of(r) for r in rows]

    async def list_principal_account_assignments(
        self,
        principal_type: str,
        principal_id: str,
        *,
        account_id: str | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[AccountAssignment]:
        if account_id is None:
            rows = self._db.execute(
                q.LIST_PRINCIPAL_ASSIGNMENTS_SQL, (principal_type, principal_id, after, limit)
            ).fetchall()
        else:
            rows = self._db.execute(
                q.LIST_PRINCIPAL_ACCOUNT_ASSIGNMENTS_SQL,
                (principal_type, principal_id, account_id, after, limit),
            ).fetchall()
        return [q.assignment_of(r) for r in rows]

    async def create_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        a = assignment
        with self._write() as db:
            if (
                db.execute("SELECT 1 FROM permission_sets WHERE arn = ?", (a.permission_set_arn,)).fetchone()
                is None
            ):
                raise Missing("permission_set", a.permission_set_arn)
            table, column = (
                ("dir_users", "user_id") if a.principal_type == "USER" else ("dir_groups", "group_id")
            )
            if db.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (a.principal_id,)).fetchone() is None:
                raise Missing(a.principal_type.lower(), a.principal_id)
            db.execute(q.INSERT_REQUEST_SQL, q.request_params(request))
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM account_assignments").fetchone()[0]
            created = (
                db.execute(q.INSERT_ACCOUNT_ASSIGNMENT_SQL, (*q.assignment_params(a), seq)).rowcount == 1
            )
            provisioned = (
                db.execute(
                    "INSERT INTO permission_set_provisioning (permission_set_arn, account_id) VALUES (?, ?)"
                    " ON CONFLICT DO UPDATE SET outdated = 0 WHERE outdated <> 0",
                    (a.permission_set_arn, a.account_id),
                ).rowcount
                == 1
            )
            changes = [(q.ACCOUNT_ASSIGNMENT_CHANGE, q.account_assignment_key(a))] if created else []
            if provisioned:
                changes.append(
                    (q.PROVISIONING_CHANGE, q.provisioning_key(a.permission_set_arn, a.account_id))
                )
            if changes:
                self._bump(db, *changes)
            return created

    async def delete_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        a = assignment
        with self._write() as db:
            n = db.execute(
                q.DELETE_ACCOUNT_ASSIGNMENT_SQL,
                (a.account_id, a.permission_set_arn, a.principal_type, a.principal_id),
            ).rowcount
            if n != 1:
                return False
            db.execute(q.INSERT_REQUEST_SQL, q.request_params(request))
            changes = [(q.ACCOUNT_ASSIGNMENT_CHANGE, q.account_assignment_key(a))]
            if db.execute(q.STILL_ASSIGNED_SQL, (a.permission_set_arn, a.account_id)).fetchone() is None:
                db.execute(q.DEPROVISION_SQL, (a.permission_set_arn, a.account_id))
                changes.append(
                    (q.PROVISIONING_CHANGE, q.provisioning_key(a.permission_set_arn, a.account_id))
                )
            self._bump(db, *changes)
            return True

    async def provision_permission_set(self, request: AccessRequest) -> None:
        arn = request.permission_set_arn
        with self._write() as db:
            if db.execute("SELECT 1 FROM permission_sets WHERE arn = ?", (arn,)).fetchone() is None:
                raise Missing("permission_set", arn)
            db.execute(q.INSERT_REQUEST_SQL, q.request_params(request))
            if request.account_id:
                db.execute(
                    "INSERT INTO permission_set_provisioning (permission_set_arn, account_id) VALUES (?, ?)"
                    " ON CONFLICT DO UPDATE SET outdated = 0",
                    (arn, request.account_id),
                )
                accounts = [request.account_id]
            else:
                db.execute(q.OUTDATE_PROVISIONING_SQL, (False, arn))
                accounts = [r[0] for r in db.execute(q.PROVISIONED_ACCOUNTS_SQL, (arn,))]
            self._bump(
                db,
                (q.PERMISSION_SET_CHANGE, arn),
                *((q.PROVISIONING_CHANGE, q.provisioning_key(arn, a)) for a in accounts),
            )

    async def list_provisioned_accounts(
        self, permission_set_arn: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        rows = self._db.execute(
            q.LIST_PROVISIONED_ACCOUNTS_SQL, (permission_set_arn, after, *q.outdated_filter(outdated), limit)
        ).fetchall()
        return [r[0] for r in rows]

    async def list_provisioned_permission_sets(
        self, account_id: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        rows = self._db.execute(
            q.LIST_PROVISIONED_PERMISSION_SETS_SQL, (account_id, after, *q.outdated_filter(outdated), limit)
        ).fetchall()
        return [r[0] for r in rows]

    async def get_access_request(self, request_id: str) -> AccessRequest | None:
        row = self._db.execute(q.GET_REQUEST_SQL, (request_id,)).fetchone()
        return None if row is None else q.request_of(row)

    async def list_access_requests(
        self, kind: AccessRequestKind, *, status: str | None = None, after: str = "", limit: int = 100
    ) -> list[AccessRequest]:
        if status is None:
            rows = self._db.execute(q.LIST_REQUESTS_SQL, (kind, after, limit)).fetchall()
        else:
            rows = self._db.execute(q.LIST_REQUESTS_BY_STATUS_SQL, (kind, status, after, limit)).fetchall()
        return [q.request_of(r) for r in rows]
