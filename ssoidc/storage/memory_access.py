"""In memory (tests only): permission sets, account assignments, provisioning and request records
(``AccountAccessStore``), with the SQL stores' constraints and cascades as checks and the same rows and mappers
(``ssoidc.storage.access_sql``). A mixin of ``MemoryStore``; its tables are ``MemoryData.access``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ssoidc.model import AccessRequest, AccessRequestKind, AccountAssignment, PermissionSet
from ssoidc.storage import access_sql as q
from ssoidc.storage.base import AlreadyExists, InUse, Missing, QuotaReached, StorageError

if TYPE_CHECKING:
    from ssoidc.storage.memory import MemoryData

AssignmentKey = tuple[str, str, str, str]
"""``(account id, permission set ARN, principal type, principal id)``."""


@dataclass(eq=False)
class AccessData:
    """The migration 0013 tables of one in-memory "database"."""

    permission_sets: dict[str, tuple[int, str]] = field(default_factory=dict)
    """``arn -> (seq, JSON document)``."""
    assignments: dict[AssignmentKey, int] = field(default_factory=dict)
    """``assignment key -> seq``."""
    provisioning: dict[tuple[str, str], bool] = field(default_factory=dict)
    """``(permission set ARN, account id) -> outdated``."""
    requests: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """``request_params`` rows by request id."""

    def clear(self) -> None:
        """Every permission set, assignment and provisioning (the request records stay)."""
        self.permission_sets.clear()
        self.assignments.clear()
        self.provisioning.clear()

    def drop_principal(self, principal_type: str, principal_id: str) -> None:
        for k in [k for k in self.assignments if k[2] == principal_type and k[3] == principal_id]:
            del self.assignments[k]

    def write(
        self, seq: Any, permission_sets: Sequence[PermissionSet], assignments: Sequence[AccountAssignment]
    ) -> None:
        """Replace everything but the request records (``replace_configuration``); ``seq()`` numbers rows."""
        self.clear()
        for p in permission_sets:
            self.permission_sets[p.arn] = (seq(), q.permission_set_doc(p))
        for a in assignments:
            self.assignments[_key(a)] = seq()
            self.provisioning[(a.permission_set_arn, a.account_id)] = False

    def names(self) -> dict[str, str]:
        return {
            q.name_key(q.permission_set_of(doc).name): arn for arn, (_, doc) in self.permission_sets.items()
        }

    def ordered_permission_sets(self) -> list[PermissionSet]:
        return [q.permission_set_of(doc) for _, doc in sorted(self.permission_sets.values())]

    def ordered_assignments(self) -> list[AccountAssignment]:
        return [q.assignment_of(k) for k, _ in sorted(self.assignments.items(), key=lambda kv: kv[1])]

    def insert_request(self, request: AccessRequest) -> None:
        if request.request_id in self.requests:
            raise StorageError("storage operation failed")  # the SQL stores' primary key
        self.requests[request.request_id] = q.request_params(request)


def _key(a: AccountAssignment) -> AssignmentKey:
    return (a.account_id, a.permission_set_arn, a.principal_type, a.principal_id)


class MemoryAccountAccess:
    """``AccountAccessStore`` on ``MemoryData.access``."""

    if TYPE_CHECKING:

        def _tx(self) -> AbstractContextManager[MemoryData]: ...

    async def get_permission_set(self, arn: str) -> PermissionSet | None:
        with self._tx() as d:
            row = d.access.permission_sets.get(arn)
        return None if row is None else q.permission_set_of(row[1])

    async def account_roles(self, user_id: str) -> list[tuple[str, str]]:
        with self._tx() as d:
            groups = {gid for _, gid, uid in d.memberships.values() if uid == user_id}
            found = {
                (acct, arn)
                for acct, arn, t, p in d.access.assignments
                if (t == "USER" and p == user_id) or (t == "GROUP" and p in groups)
            }
            names = {
                arn: q.name_key(q.permission_set_of(doc).name)
                for arn, (_, doc) in d.access.permission_sets.items()
            }
        return sorted(found, key=lambda r: (r[0], names[r[1]]))

    async def list_permission_sets(self, *, after: str = "", limit: int = 100) -> list[PermissionSet]:
        with self._tx() as d:
            arns = sorted(a for a in d.access.permission_sets if a > after)[:limit]
            return [q.permission_set_of(d.access.permission_sets[a][1]) for a in arns]

    async def create_permission_set(self, permission_set: PermissionSet, *, limit: int = 0) -> None:
        p = permission_set
        with self._tx() as d:
            if limit and len(d.access.permission_sets) >= limit:
                raise QuotaReached("permission_set")
            if p.arn in d.access.permission_sets:
                raise AlreadyExists("permission_set")
            if q.name_key(p.name) in d.access.names():
                raise AlreadyExists("permission_set_name")
            d.access.permission_sets[p.arn] = (d.next_seq(), q.permission_set_doc(p))
            d.bump_version((q.PERMISSION_SET_CHANGE, p.arn))

    async def update_permission_set(self, permission_set: PermissionSet, *, outdated: bool = True) -> None:
        p = permission_set
        with self._tx() as d:
            row = d.access.permission_sets.get(p.arn)
            if row is None:
                raise Missing("permission_set", p.arn)
            if d.access.names().get(q.name_key(p.name), p.arn) != p.arn:
                raise AlreadyExists("permission_set_name")
            d.access.permission_sets[p.arn] = (row[0], q.permission_set_doc(p))
            if outdated:
                for k in [k for k in d.access.provisioning if k[0] == p.arn]:
                    d.access.provisioning[k] = True
            d.bump_version((q.PERMISSION_SET_CHANGE, p.arn))

    async def edit_permission_set(
        self, arn: str, change: Callable[[PermissionSet], tuple[PermissionSet, bool]]
    ) -> PermissionSet:
        with self._tx() as d:
            row = d.access.permission_sets.get(arn)
            if row is None:
                raise Missing("permission_set", arn)
            new, outdated = change(q.permission_set_of(row[1]))
            if d.access.names().get(q.name_key(new.name), arn) != arn:
                raise AlreadyExists("permission_set_name")
            d.access.permission_sets[arn] = (row[0], q.permission_set_doc(new))
            if outdated:
                for k in [k for k in d.access.provisioning if k[0] == arn]:
                    d.access.provisioning[k] = True
            d.bump_version((q.PERMISSION_SET_CHANGE, arn))
            return new

    async def delete_permission_set(self, arn: str) -> bool:
        with self._tx() as d:
            if any(k[1] == arn for k in d.access.assignments):
                raise InUse("account_assignment", arn)
            if d.access.permission_sets.pop(arn, None) is None:
                return False
            accounts = sorted(acct for ps, acct in d.access.provisioning if ps == arn)
            for acct in accounts:
                del d.access.provisioning[(arn, acct)]
            d.bump_version(
                (q.PERMISSION_SET_CHANGE, arn),
                *((q.PROVISIONING_CHANGE, q.provisioning_key(arn, a)) for a in accounts),
            )
            return True

    async def list_account_assignments(
        self, account_id: str, permission_set_arn: str, *, after: str = "", limit: int = 100
    ) -> list[AccountAssignment]:
        with self._tx() as d:
            found = [
                q.assignment_of(k)
                for k in d.access.assignments
                if k[0] == account_id and k[1] == permission_set_arn
            ]
        found = sorted((a for a in found if q.principal_key(a) > after), key=q.principal_key)
        return found[:limit]

    async def list_principal_account_assignments(
        self,
        principal_type: str,
        principal_id: str,
        *,
        account_id: str | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[AccountAssignment]:
        with self._tx() as d:
            found = [
                q.assignment_of(k)
                for k in d.access.assignments
                if k[2] == principal_type and k[3] == principal_id and account_id in (None, k[0])
            ]
        found = sorted((a for a in found if q.target_key(a) > after), key=q.target_key)
        return found[:limit]

    async def create_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        a = assignment
        with self._tx() as d:
            if a.permission_set_arn not in d.access.permission_sets:
                raise Missing("permission_set", a.permission_set_arn)
            principals = d.users if a.principal_type == "USER" else d.groups
            if a.principal_id not in principals:
                raise Missing(a.principal_type.lower(), a.principal_id)
            d.access.insert_request(request)
            changes = []
            created = _key(a) not in d.access.assignments
            if created:
                d.access.assignments[_key(a)] = d.next_seq()
                changes.append((q.ACCOUNT_ASSIGNMENT_CHANGE, q.account_assignment_key(a)))
            pair = (a.permission_set_arn, a.account_id)
            if d.access.provisioning.get(pair, True):  # absent or outdated
                d.access.provisioning[pair] = False
                changes.append((q.PROVISIONING_CHANGE, q.provisioning_key(*pair)))
            if changes:
                d.bump_version(*changes)
            return created

    async def delete_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        a = assignment
        with self._tx() as d:
            if _key(a) not in d.access.assignments:
                return False
            d.access.insert_request(request)
            del d.access.assignments[_key(a)]
            changes = [(q.ACCOUNT_ASSIGNMENT_CHANGE, q.account_assignment_key(a))]
            if not any(k[0] == a.account_id and k[1] == a.permission_set_arn for k in d.access.assignments):
                d.access.provisioning.pop((a.permission_set_arn, a.account_id), None)
                changes.append(
                    (q.PROVISIONING_CHANGE, q.provisioning_key(a.permission_set_arn, a.account_id))
                )
            d.bump_version(*changes)
            return True

    async def provision_permission_set(self, request: AccessRequest) -> None:
        arn = request.permission_set_arn
        with self._tx() as d:
            if arn not in d.access.permission_sets:
                raise Missing("permission_set", arn)
            d.access.insert_request(request)
            if request.account_id:
                accounts = [request.account_id]
            else:
                accounts = sorted(acct for ps, acct in d.access.provisioning if ps == arn)
            for acct in accounts:
                d.access.provisioning[(arn, acct)] = False
            d.bump_version(
                (q.PERMISSION_SET_CHANGE, arn),
                *((q.PROVISIONING_CHANGE, q.provisioning_key(arn, a)) for a in accounts),
            )

    async def list_provisioned_accounts(
        self, permission_set_arn: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        with self._tx() as d:
            found = [
                acct
                for (ps, acct), old in d.access.provisioning.items()
                if ps == permission_set_arn and acct > after and outdated in (None, old)
            ]
        return sorted(found)[:limit]

    async def list_provisioned_permission_sets(
        self, account_id: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        with self._tx() as d:
            found = [
                ps
                for (ps, acct), old in d.access.provisioning.items()
                if acct == account_id and ps > after and outdated in (None, old)
            ]
        return sorted(found)[:limit]

    async def get_access_request(self, request_id: str) -> AccessRequest | None:
        with self._tx() as d:
            row = d.access.requests.get(request_id)
        return None if row is None else q.request_of(row)

    async def list_access_requests(
        self, kind: AccessRequestKind, *, status: str | None = None, after: str = "", limit: int = 100
    ) -> list[AccessRequest]:
        with self._tx() as d:
            rows = [
                r
                for rid, r in d.access.requests.items()
                if r[1] == kind and rid > after and status in (None, r[2])
            ]
        return [q.request_of(r) for r in sorted(rows)[:limit]]
