"""PostgreSQL: permission sets, account assignments, provisioning and request records (``AccountAccessStore``,
migration 0013). A mixin of ``PostgresStore`` (which translates its driver errors like its own methods'); every
write is one ``_dir_write`` transaction (change-feed rows versioned at COMMIT, behind the shared write gate, as
the directory's), and the rows it references are locked ``FOR KEY SHARE`` so a concurrent delete waits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import asyncpg

from ssoidc.model import AccessRequest, AccessRequestKind, AccountAssignment, PermissionSet
from ssoidc.storage import access_sql as q
from ssoidc.storage.base import InUse, Missing, QuotaReached
from ssoidc.storage.common import numbered

_GET_PERMISSION_SET = numbered(q.GET_PERMISSION_SET_SQL)
_LIST_PERMISSION_SETS = numbered(q.LIST_PERMISSION_SETS_SQL)
_UPDATE_PERMISSION_SET = numbered(q.UPDATE_PERMISSION_SET_SQL) + " RETURNING 1"
_OUTDATE = numbered(q.OUTDATE_PROVISIONING_SQL)
_HAS_ASSIGNMENTS = numbered(q.HAS_ACCOUNT_ASSIGNMENTS_SQL)
_PROVISIONED = numbered(q.PROVISIONED_ACCOUNTS_SQL)
_DELETE_PERMISSION_SET = numbered(q.DELETE_PERMISSION_SET_SQL) + " RETURNING 1"
_LIST_ASSIGNMENTS = numbered(q.LIST_ACCOUNT_ASSIGNMENTS_SQL)
_LIST_PRINCIPAL = numbered(q.LIST_PRINCIPAL_ASSIGNMENTS_SQL)
_LIST_PRINCIPAL_ACCOUNT = numbered(q.LIST_PRINCIPAL_ACCOUNT_ASSIGNMENTS_SQL)
_ACCOUNT_ROLES = (
    numbered(q.ACCOUNT_ROLES_SQL)
    .replace("p.name_key FROM", 'p.name_key COLLATE "C" AS name_order FROM')
    .replace("ORDER BY a.account_id, p.name_key", "ORDER BY a.account_id, name_order")
)
"""Ordered by code point, as SQLite and the memory store order (not by the database's collation)."""
_INSERT_ASSIGNMENT = (
    "INSERT INTO account_assignments (account_id, permission_set_arn, principal_type, principal_id, user_id,"
    " group_id, seq) VALUES ($1, $2, $3, $4, $5, $6, nextval('dir_seq')) ON CONFLICT DO NOTHING RETURNING 1"
)
_DELETE_ASSIGNMENT = numbered(q.DELETE_ACCOUNT_ASSIGNMENT_SQL) + " RETURNING 1"
_STILL_ASSIGNED = numbered(q.STILL_ASSIGNED_SQL)
_DEPROVISION = numbered(q.DEPROVISION_SQL)
_PROVISION = (
    "INSERT INTO permission_set_provisioning (permission_set_arn, account_id) VALUES ($1, $2)"
    " ON CONFLICT (permission_set_arn, account_id) DO UPDATE SET outdated = false"
)
_LIST_PROVISIONED_ACCOUNTS = numbered(q.LIST_PROVISIONED_ACCOUNTS_SQL)
_LIST_PROVISIONED_SETS = numbered(q.LIST_PROVISIONED_PERMISSION_SETS_SQL)
_INSERT_REQUEST = numbered(q.INSERT_REQUEST_SQL)
_GET_REQUEST = numbered(q.GET_REQUEST_SQL)
_LIST_REQUESTS = numbered(q.LIST_REQUESTS_SQL)
_LIST_REQUESTS_BY_STATUS = numbered(q.LIST_REQUESTS_BY_STATUS_SQL)
_MORE_CHANGES = (
    "INSERT INTO config_changes (version, n, kind, key)"
    " SELECT 0, nextval('config_change_seq'), k, x FROM unnest($1::text[], $2::text[]) AS c(k, x)"
)
"""Further change-feed rows of a ``_dir_write`` found inside it (versioned at COMMIT like the first ones)."""


class _NoChange(Exception):
    """Inside ``_dir_write``: nothing to do; roll back."""


def _nul(*values: str | None) -> bool:
    """Text cannot hold NUL: no stored value has one, so a lookup with one finds nothing."""
    return any(v is not None and "\x00" in v for v in values)


async def insert_access(
    conn: asyncpg.Connection,
    permission_sets: Sequence[PermissionSet],
    assignments: Sequence[AccountAssignment],
) -> None:
    """Insert permission sets and account assignments (into empty tables), in order, each assignment's
    permission set provisioned to its account (``replace_configuration``)."""
    await conn.execute(
        "INSERT INTO permission_sets (arn, name_key, seq, doc)"
        " SELECT a, k, nextval('dir_seq'), d FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
        " AS x(a, k, d, o) ORDER BY o",
        [p.arn for p in permission_sets],
        [q.name_key(p.name) for p in permission_sets],
        [q.permission_set_doc(p) for p in permission_sets],
    )
    rows = [q.assignment_params(a) for a in assignments]
    await conn.execute(
        "INSERT INTO account_assignments (account_id, permission_set_arn, principal_type, principal_id, user_id,"
        " group_id, seq) SELECT a, p, t, i, u, g, nextval('dir_seq') FROM unnest($1::text[], $2::text[],"
        " $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(a, p, t, i, u, g, o) ORDER BY o",
        *[[r[i] for r in rows] for i in range(6)],
    )
    await conn.execute(
        "INSERT INTO permission_set_provisioning (permission_set_arn, account_id)"
        " SELECT DISTINCT p, a FROM unnest($1::text[], $2::text[]) AS x(p, a) ON CONFLICT DO NOTHING",
        [a.permission_set_arn for a in assignments],
        [a.account_id for a in assignments],
    )


async def delete_access(conn: asyncpg.Connection) -> None:
    """Delete every permission set, assignment and provisioning (the request records stay). DELETE, not
    TRUNCATE, as the directory's."""
    for table in ("account_assignments", "permission_set_provisioning", "permission_sets"):
        await conn.execute(f"DELETE FROM {table}")


class PostgresAccountAccess:
    """``AccountAccessStore`` on the ``PostgresStore`` pool."""

    if TYPE_CHECKING:
        _gate: int
        _permission_set_gate: int  # the advisory lock CreatePermissionSet's quota count queues on

        async def _get_pool(self) -> asyncpg.Pool: ...

        def _dir_write(
            self, *changes: tuple[str, str]
        ) -> AbstractAsyncContextManager[asyncpg.Connection]: ...

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        pool = await self._get_pool()
        return list(await pool.fetch(sql, *args))

    async def get_permission_set(self, arn: str) -> PermissionSet | None:
        if _nul(arn):
            return None
        rows = await self._fetch(_GET_PERMISSION_SET, arn)
        return q.permission_set_of(rows[0][0]) if rows else None

    async def account_roles(self, user_id: str) -> list[tuple[str, str]]:
        if _nul(user_id):
            return []
        return [(r[0], r[1]) for r in await self._fetch(_ACCOUNT_ROLES, user_id, user_id)]

    async def list_permission_sets(self, *, after: str = "", limit: int = 100) -> list[PermissionSet]:
        if _nul(after):
            return []
        return [q.permission_set_of(r[0]) for r in await self._fetch(_LIST_PERMISSION_SETS, after, limit)]

    async def create_permission_set(self, permission_set: PermissionSet, *, limit: int = 0) -> None:
        p = permission_set
        async with self._dir_write((q.PERMISSION_SET_CHANGE, p.arn)) as conn:
            if limit:  # creates queue on this lock until the one before commits, so the count is exact
                await conn.execute("SELECT pg_advisory_xact_lock($1)", self._permission_set_gate)
                if await conn.fetchval("SELECT count(*) FROM permission_sets") >= limit:
                    raise QuotaReached("permission_set")
            await conn.execute(
                "INSERT INTO permission_sets (arn, name_key, seq, doc) VALUES ($1, $2, nextval('dir_seq'), $3)",
                p.arn,
                q.name_key(p.name),
                q.permission_set_doc(p),
            )

    async def update_permission_set(self, permission_set: PermissionSet, *, outdated: bool = True) -> None:
        p = permission_set
        async with self._dir_write((q.PERMISSION_SET_CHANGE, p.arn)) as conn:
            found = await conn.fetchval(
                _UPDATE_PERMISSION_SET, q.name_key(p.name), q.permission_set_doc(p), p.arn
            )
            if found is None:
                raise Missing("permission_set", p.arn)
            if outdated:
                await conn.execute(_OUTDATE, True, p.arn)

    async def edit_permission_set(
        self, arn: str, change: Callable[[PermissionSet], tuple[PermissionSet, bool]]
    ) -> PermissionSet:
        if _nul(arn):
            raise Missing("permission_set", arn)
        async with self._dir_write((q.PERMISSION_SET_CHANGE, arn)) as conn:
            doc = await conn.fetchval("SELECT doc FROM permission_sets WHERE arn = $1 FOR UPDATE", arn)
            if doc is None:
                raise Missing("permission_set", arn)
            new, outdated = change(q.permission_set_of(doc))
            await conn.execute(_UPDATE_PERMISSION_SET, q.name_key(new.name), q.permission_set_doc(new), arn)
            if outdated:
                await conn.execute(_OUTDATE, True, arn)
        return new

    async def delete_permission_set(self, arn: str) -> bool:
        if _nul(arn):
            return False
        try:
            async with self._dir_write((q.PERMISSION_SET_CHANGE, arn)) as conn:
                # the row lock first: a concurrent CreateAccountAssignment (FOR KEY SHARE) waits or is seen
                if (
                    await conn.fetchval("SELECT 1 FROM permission_sets WHERE arn = $1 FOR UPDATE", arn)
                    is None
                ):
                    raise _NoChange
                if await conn.fetchval(_HAS_ASSIGNMENTS, arn) is not None:
                    raise InUse("account_assignment", arn)
                accounts = [r[0] for r in await conn.fetch(_PROVISIONED, arn)]
                await conn.execute(_DELETE_PERMISSION_SET, arn)
                if accounts:
                    await conn.execute(
                        _MORE_CHANGES,
                        [q.PROVISIONING_CHANGE] * len(accounts),
                        [q.provisioning_key(arn, a) for a in accounts],
                    )
        except _NoChange:
            return False
        return True

    async def list_account_assignments(
        self, account_id: str, permission_set_arn: str, *, after: str = "", limit: int = 100
    ) -> list[AccountAssignment]:
        if _nul(account_id, permission_set_arn, after):
            return []
        rows = await self._fetch(_LIST_ASSIGNMENTS, account_id, permission_set_arn, after, limit)
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
        if _nul(principal_type, principal_id, account_id, after):
            return []
        if account_id is None:
            rows = await self._fetch(_LIST_PRINCIPAL, principal_type, principal_id, after, limit)
        else:
            rows = await self._fetch(
                _LIST_PRINCIPAL_ACCOUNT, principal_type, principal_id, account_id, after, limit
            )
        return [q.assignment_of(r) for r in rows]

    async def create_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        a = assignment
        changes = (
            (q.ACCOUNT_ASSIGNMENT_CHANGE, q.account_assignment_key(a)),
            (q.PROVISIONING_CHANGE, q.provisioning_key(a.permission_set_arn, a.account_id)),
        )
        async with self._dir_write(*changes) as conn:
            found = await conn.fetchval(
                "SELECT 1 FROM permission_sets WHERE arn = $1 FOR KEY SHARE", a.permission_set_arn
            )
            if found is None:
                raise Missing("permission_set", a.permission_set_arn)
            table, column = (
                ("dir_users", "user_id") if a.principal_type == "USER" else ("dir_groups", "group_id")
            )
            found = await conn.fetchval(
                f"SELECT 1 FROM {table} WHERE {column} = $1 FOR KEY SHARE", a.principal_id
            )
            if found is None:
                raise Missing(a.principal_type.lower(), a.principal_id)
            await conn.execute(_INSERT_REQUEST, *q.request_params(request))
            created = await conn.fetchval(_INSERT_ASSIGNMENT, *q.assignment_params(a)) is not None
            await conn.execute(_PROVISION, a.permission_set_arn, a.account_id)
        return created

    async def delete_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        a = assignment
        changes = (
            (q.ACCOUNT_ASSIGNMENT_CHANGE, q.account_assignment_key(a)),
            (q.PROVISIONING_CHANGE, q.provisioning_key(a.permission_set_arn, a.account_id)),
        )
        try:
            async with self._dir_write(*changes) as conn:
                gone = await conn.fetchval(
                    _DELETE_ASSIGNMENT, a.account_id, a.permission_set_arn, a.principal_type, a.principal_id
                )
                if gone is None:
                    raise _NoChange
                await conn.execute(_INSERT_REQUEST, *q.request_params(request))
                # the permission set's row lock orders this with a concurrent create of its last assignment
                await conn.execute(
                    "SELECT 1 FROM permission_sets WHERE arn = $1 FOR UPDATE", a.permission_set_arn
                )
                if await conn.fetchval(_STILL_ASSIGNED, a.permission_set_arn, a.account_id) is None:
                    await conn.execute(_DEPROVISION, a.permission_set_arn, a.account_id)
        except _NoChange:
            return False
        return True

    async def provision_permission_set(self, request: AccessRequest) -> None:
        arn = request.permission_set_arn
        changes = [(q.PERMISSION_SET_CHANGE, arn)]
        if request.account_id:
            changes.append((q.PROVISIONING_CHANGE, q.provisioning_key(arn, request.account_id)))
        async with self._dir_write(*changes) as conn:
            if await conn.fetchval("SELECT 1 FROM permission_sets WHERE arn = $1 FOR KEY SHARE", arn) is None:
                raise Missing("permission_set", arn)
            await conn.execute(_INSERT_REQUEST, *q.request_params(request))
            if request.account_id:
                await conn.execute(_PROVISION, arn, request.account_id)
            else:
                await conn.execute(_OUTDATE, False, arn)
                accounts = [r[0] for r in await conn.fetch(_PROVISIONED, arn)]
                if accounts:
                    await conn.execute(
                        _MORE_CHANGES,
                        [q.PROVISIONING_CHANGE] * len(accounts),
                        [q.provisioning_key(arn, a) for a in accounts],
                    )

    async def list_provisioned_accounts(
        self, permission_set_arn: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        if _nul(permission_set_arn, after):
            return []
        rows = await self._fetch(
            _LIST_PROVISIONED_ACCOUNTS, permission_set_arn, after, *q.outdated_filter(outdated), limit
        )
        return [r[0] for r in rows]

    async def list_provisioned_permission_sets(
        self, account_id: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        if _nul(account_id, after):
            return []
        rows = await self._fetch(
            _LIST_PROVISIONED_SETS, account_id, after, *q.outdated_filter(outdated), limit
        )
        return [r[0] for r in rows]

    async def get_access_request(self, request_id: str) -> AccessRequest | None:
        if _nul(request_id):
            return None
        rows = await self._fetch(_GET_REQUEST, request_id)
        return q.request_of(rows[0]) if rows else None

    async def list_access_requests(
        self, kind: AccessRequestKind, *, status: str | None = None, after: str = "", limit: int = 100
    ) -> list[AccessRequest]:
        if _nul(status, after):
            return []
        if status is None:
            rows = await self._fetch(_LIST_REQUESTS, kind, after, limit)
        else:
            rows = await self._fetch(_LIST_REQUESTS_BY_STATUS, kind, status, after, limit)
        return [q.request_of(r) for r in rows]
