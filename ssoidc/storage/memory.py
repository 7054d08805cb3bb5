"""In-memory implementation of the storage contracts (``ssoidc.storage.base``), for tests only.

* The "database" is a ``MemoryData``: plain dicts, shared by every ``MemoryStore`` opened on it, so several stores
  on one ``MemoryData`` behave as several nodes on one database (the contract suite's races run through them).
  Nothing survives the process; it is never a production setting (``open_store`` does not offer it).
* Every operation runs start to finish under the data's lock, with no ``await`` inside it: a check and the write it
  guards are one atomic step, so single-use artefacts (refresh rotation, code redemption, jti) are used exactly
  once, compare-and-swap configuration writes have one winner, and a refused operation writes nothing.
* The same rows as the SQL stores, through the same mappers (``ssoidc.storage.common``): tokens and codes are kept
  by hash, token contexts and configuration documents as JSON, SigV4 secrets and private signing keys sealed
  under the master key (AES-GCM, AAD the access key id / kid), exactly as the SQL stores write them; nothing they
  keep encrypted or hashed is kept here in clear. The master-key check value is recorded at first open, and a
  store opened with another key is refused (``ConfigError``).
* Revocation semantics mirror the SQL statements: a revoked family revokes all its tokens; a revoked
  ``user:<id>`` / ``application:<arn>`` revokes what was issued at or before the revocation; a lost rotation or
  redemption is decided by the shared ``lost_rotation`` / ``lost_redemption``. ``purge_expired`` follows
  ``PURGE_SQL`` batch by batch (including the settling of revoked-subject markers).
* A key clash the contract does not name (a second token, code or web session with one hash), or a credential
  without a value the SQL schema requires (a NULL principal ARN or description), is a ``StorageError``, as the
  constraint violation is in the SQL stores; a closed store raises ``StorageError``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import orjson

from ssoidc.crypto import Sealer
from ssoidc.errors import ConfigError
from ssoidc.ids import membership_id
from ssoidc.model import Assignment, Configuration, Group, Membership, PrincipalType, User
from ssoidc.storage import session_sql as ss
from ssoidc.storage.access_sql import REQUEST_RETENTION_SECONDS
from ssoidc.storage.base import (
    CHANGE_RETENTION,
    DEVICE_APPROVED,
    DEVICE_CONSUMED,
    DEVICE_DENIED,
    DEVICE_PENDING,
    IDEMPOTENCY_TTL_SECONDS,
    SESSION_PURGE_GRACE_SECONDS,
    AlreadyExists,
    CatalogueWrite,
    Change,
    ClientRecord,
    CodeRecord,
    DevicePoll,
    DeviceRecord,
    IdempotencyRecord,
    JtiReplay,
    Missing,
    Redemption,
    SessionCredentialRecord,
    SigningKey,
    StaleRevision,
    StorageError,
    Store,
    StoredCredential,
    TokenRecord,
    VersionConflict,
    WebSession,
)
from ssoidc.storage.common import (
    CODE_COLUMNS,
    CODE_PURGE_GRACE_SECONDS,
    MASTER_KEY_CHECK_META,
    MASTER_KEY_MISMATCH,
    REVOCATION_SETTLE_SECONDS,
    SECRET_PURPOSE,
    SIGNING_KEY_PURPOSE,
    TOKEN_COLUMNS,
    Attempts,
    FamilyRevocation,
    LostRedemption,
    LostRotation,
    assignment_key,
    clears_directory,
    code_params,
    code_record,
    config_from_rows,
    config_rows,
    credential,
    credential_params,
    group_attributes,
    group_doc,
    group_of,
    lost_redemption,
    lost_rotation,
    master_key_check,
    memberships_of,
    next_failure,
    principal_order,
    ring_push,
    same_check,
    signing_key,
    started_family,
    token_params,
    token_record,
    user_attributes,
    user_doc,
    user_name_key,
    user_of,
)
from ssoidc.storage.memory_access import AccessData, MemoryAccountAccess
from ssoidc.storage.revisions import group_at, user_at

_T_FAMILY = TOKEN_COLUMNS.index("family_id")
_T_KIND = TOKEN_COLUMNS.index("kind")
_T_APP = TOKEN_COLUMNS.index("application_arn")
_T_USER = TOKEN_COLUMNS.index("user_id")
_T_ISSUED = TOKEN_COLUMNS.index("issued_at")
_T_EXPIRES = TOKEN_COLUMNS.index("expires_at")
_T_SESSION = TOKEN_COLUMNS.index("session_expires_at")
_T_REVOKED = TOKEN_COLUMNS.index("revoked_at")
_C_APP = CODE_COLUMNS.index("application_arn")
_C_USER = CODE_COLUMNS.index("user_id")
_C_FAMILY = CODE_COLUMNS.index("family_id")
_C_ISSUED = CODE_COLUMNS.index("issued_at")
_C_EXPIRES = CODE_COLUMNS.index("expires_at")
_C_SESSION = CODE_COLUMNS.index("session_expires_at")
_C_CONSUMED = CODE_COLUMNS.index("consumed_at")
_CREDENTIAL_NOT_NULL = (0, 1, 2, 5, 6)
"""The ``credential_params`` columns the SQL schema declares NOT NULL (all but the session token and policy)."""


@dataclass(slots=True)
class _Token:
    row: tuple[Any, ...]
    """``token_params`` of the token (``TOKEN_COLUMNS`` order)."""
    retired_at: float | None = None


@dataclass(slots=True)
class _Subject:
    revoked_at: float
    expires_at: float | None = None
    """None until ``purge_expired`` settles the marker (see migration 0007 of the SQL stores)."""


@dataclass(eq=False)
class MemoryData:
    """The tables of one in-memory "database"; open any number of ``MemoryStore`` on it (one per "node")."""

    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    meta: dict[str, str] = field(default_factory=dict)
    config: list[tuple[str, str]] = field(default_factory=list)
    """``(kind, JSON document)`` rows of the catalogue, in stored order (``config_rows``)."""
    seq: int = 0
    """The insertion counter that orders directory rows (the SQL stores' ``seq`` columns)."""
    users: dict[str, tuple[int, str]] = field(default_factory=dict)
    """``user_id -> (seq, JSON document)``."""
    groups: dict[str, tuple[int, str]] = field(default_factory=dict)
    """``group_id -> (seq, JSON document without members)``."""
    memberships: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    """``membership_id -> (seq, group_id, user_id)``."""
    assignments: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """``(application ARN, principal type, principal id) -> seq``."""
    changes: list[tuple[int, str, str]] = field(default_factory=list)
    """The change feed: ``(version, kind, key)``, oldest first."""
    revision: int = 0
    """The store-wide revision counter (the SQL stores' migration 0014): the last revision handed out."""
    revisions: dict[str, int] = field(default_factory=dict)
    """``user or group id -> revision`` (user and group ids never collide: both are fresh random ids)."""
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)
    revoked_subjects: dict[str, _Subject] = field(default_factory=dict)
    credentials: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """``credential_params`` rows by access key id: the secret sealed."""
    signing_keys: list[tuple[str, str, str, bytes, float, bool]] = field(default_factory=list)
    """``(kid, purpose, alg, sealed private key, created_at, active)``, in insertion order."""
    tokens: dict[bytes, _Token] = field(default_factory=dict)
    codes: dict[bytes, tuple[Any, ...]] = field(default_factory=dict)
    """``code_params`` rows by code hash."""
    used_jtis: dict[tuple[str, str], float] = field(default_factory=dict)
    revoked_families: dict[str, tuple[float, float]] = field(default_factory=dict)
    """``family_id -> (revoked_at, expires_at)``."""
    family_rings: dict[tuple[str, str], tuple[bytes, int, float]] = field(default_factory=dict)
    """``(user_id, application_arn) -> (ring, families in it, latest session end)``: SQLite's ``family_rings`` row
    (migration 0016), moved by the same ``ring_push``."""
    passwords: dict[str, tuple[str, float]] = field(default_factory=dict)
    web_sessions: dict[bytes, WebSession] = field(default_factory=dict)
    login_attempts: dict[str, Attempts] = field(default_factory=dict)
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    devices: dict[bytes, DeviceRecord] = field(default_factory=dict)
    sessions: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """``session_params`` rows by access key id (migration 0015): the secret sealed."""
    access: AccessData = field(default_factory=AccessData)
    """Permission sets, account assignments, provisioning, request records (``memory_access``)."""

    def version(self) -> int:
        return int(self.meta.get("config_version", "0"))

    def bump_version(self, *changes: tuple[str, str]) -> int:
        """The next version, with a change-feed entry per ``(kind, key)`` (``credential`` when none is named)."""
        version = self.version() + 1
        self.meta["config_version"] = str(version)
        for kind, key in changes or (("credential", ""),):
            self.changes.append((version, kind, key))
        return version

    def bump_catalogue(self, *changes: tuple[str, str]) -> int:
        """``bump_version`` for a catalogue write: the new version is also the catalogue's."""
        version = self.bump_version(*changes)
        self.meta["catalogue_version"] = str(version)
        return version

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def next_revision(self, key: str) -> int:
        self.revision += 1
        self.revisions[key] = self.revision
        return self.revision

    def check_revision(self, kind: str, key: str, expected: int | None) -> None:
        """``StaleRevision`` unless the row ``key`` (which exists) is at ``expected`` (when given)."""
        if expected is not None and self.revisions.get(key, 1) != expected:
            raise StaleRevision(kind, key)

    # -- the directory (the SQL stores' constraints and cascades, as checks) ----------------------------------
    def user_docs(self) -> list[User]:
        return [user_of(doc) for _, doc in sorted(self.users.values())]

    def group_docs(self) -> list[Group]:
        members: dict[str, list[tuple[int, str]]] = {}
        for seq, gid, uid in self.memberships.values():
            members.setdefault(gid, []).append((seq, uid))
        return [
            group_of(doc, [uid for _, uid in sorted(members.get(gid, []))])
            for gid, (_, doc) in sorted(self.groups.items(), key=lambda kv: kv[1][0])
        ]

    def assignment_rows(self) -> list[Assignment]:
        return [
            Assignment(a, cast(PrincipalType, t), p)
            for (a, t, p), _ in sorted(self.assignments.items(), key=lambda kv: kv[1])
        ]

    def check_user(self, user: User) -> None:
        key = user_name_key(user.user_name)
        for uid, (_, doc) in self.users.items():
            if uid != user.user_id and user_name_key(user_of(doc).user_name) == key:
                raise AlreadyExists("user_name")

    def check_group(self, group: Group) -> None:
        for gid, (_, doc) in self.groups.items():
            if gid != group.group_id and group_of(doc).display_name == group.display_name:
                raise AlreadyExists("group_name")

    def application_arns(self) -> set[str]:
        return {orjson.loads(doc)["arn"] for kind, doc in self.config if kind == "application"}

    def drop_principal(self, principal_type: str, principal_id: str) -> None:
        for k in [k for k in self.assignments if k[1] == principal_type and k[2] == principal_id]:
            del self.assignments[k]
        self.access.drop_principal(principal_type, principal_id)

    def clear_directory(self, now: float) -> None:
        for uid in self.users:
            self.revoke_subject(f"user:{uid}", now)
        self.revisions.clear()
        self.users.clear()
        self.groups.clear()
        self.memberships.clear()
        self.assignments.clear()
        self.access.clear()

    def revoke_subject(self, subject: str, now: float) -> None:
        marker = self.revoked_subjects.get(subject)
        if marker is None:
            self.revoked_subjects[subject] = _Subject(now)
        else:  # never earlier; unsettled again, so purge re-reads the latest expiry later
            marker.revoked_at, marker.expires_at = max(marker.revoked_at, now), None

    def write_directory(self, config: Configuration) -> None:
        """Replace the directory with the one of ``config`` (``replace_configuration``)."""
        self.users = {u.user_id: (self.next_seq(), user_doc(u)) for u in config.users}
        self.groups = {g.group_id: (self.next_seq(), group_doc(g)) for g in config.groups}
        self.revisions = {}
        for key in [*self.users, *self.groups]:
            self.next_revision(key)
        self.memberships = {
            m.membership_id: (self.next_seq(), m.group_id, m.user_id) for m in memberships_of(config.groups)
        }
        self.assignments = {
            (a.application_arn, a.principal_type, a.principal_id): self.next_seq() for a in config.assignments
        }
        self.access.write(self.next_seq, config.permission_sets, config.account_assignments)

    def subject_revocation(self, user_id: str, application_arn: str, issued_at: float) -> float | None:
        """When the user or the application was revoked, if at or after ``issued_at`` (``SUBJECT_JOINS``)."""
        for subject in ("user:" + user_id, "application:" + application_arn):
            marker = self.revoked_subjects.get(subject)
            if marker is not None and marker.revoked_at >= issued_at:
                return marker.revoked_at
        return None

    def token_revocation(self, row: tuple[Any, ...]) -> float | None:
        """The revocation of a token's family or subjects (``FIND_TOKEN_SQL``'s COALESCE)."""
        family = self.revoked_families.get(row[_T_FAMILY])
        if family is not None:
            return family[0]
        return self.subject_revocation(row[_T_USER], row[_T_APP], row[_T_ISSUED])

    def revoke_family(self, family_id: str, now: float, expires_at: float) -> int:
        if family_id in self.revoked_families:
            return 0  # the first revocation stands
        self.revoked_families[family_id] = (now, expires_at)
        return 1

    def cap_families(self, tokens: Sequence[TokenRecord], cap: int) -> None:
        """As SQLite's ``_cap_families``: a new family joins its ring; the ones the ring drops are revoked."""
        started = started_family(tokens) if cap > 0 else None
        if started is None:
            return
        pair = (started.user_id, started.application_arn)
        now = started.issued_at
        ring, n, latest = self.family_rings.get(pair, (b"", 0, 0.0))
        ring, n, dropped = ring_push(ring, n, started.family_id, started.expires_at, cap, now)
        self.family_rings[pair] = (ring, n, max(latest, started.expires_at))
        for family_id, expires_at in dropped:
            if family_id != started.family_id and expires_at > now:
                self.revoke_family(family_id, now, expires_at)

    def insert_tokens(self, tokens: Sequence[TokenRecord]) -> None:
        """Insert new token rows, all or none: a hash already stored (or twice in ``tokens``) is a key clash."""
        rows = [token_params(t) for t in tokens]
        hashes = {r[0] for r in rows}
        if len(hashes) != len(rows) or any(h in self.tokens for h in hashes):
            raise StorageError("storage operation failed")
        for r in rows:
            self.tokens[r[0]] = _Token(r)


class MemoryStore(MemoryAccountAccess):
    """All storage contracts on a ``MemoryData`` (a new, empty one by default). For tests only."""

    kind = "memory"

    def __init__(self, data: MemoryData | None = None, *, master_key: bytes) -> None:
        self.data = data if data is not None else MemoryData()
        """The tables; pass it to another ``MemoryStore`` to open a second "node" on the same data."""
        self._secrets = Sealer(master_key, SECRET_PURPOSE)
        self._keys = Sealer(master_key, SIGNING_KEY_PURPOSE)
        self._closed = False
        expected = master_key_check(master_key)
        with self.data.lock:
            stored = self.data.meta.setdefault(MASTER_KEY_CHECK_META, expected)
        if not same_check(stored, expected):
            raise ConfigError(MASTER_KEY_MISMATCH)

    @contextmanager
    def _tx(self) -> Iterator[MemoryData]:
        """One atomic operation on the data (callers never ``await`` inside it)."""
        if self._closed:
            raise StorageError("the store is closed")
        with self.data.lock:
            yield self.data

    def start_background(self) -> None:
        """Nothing to run in the background."""

    async def ping(self) -> None:
        with self._tx():
            pass

    async def close(self) -> None:
        self._closed = True

    # -- meta and configuration -------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        with self._tx() as d:
            return d.meta.get(key)

    async def put_meta_if_absent(self, key: str, value: str) -> str:
        with self._tx() as d:
            return d.meta.setdefault(key, value)

    async def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        with self._tx() as d:
            return d.idempotency.get(key)

    async def config_version(self) -> int:
        with self._tx() as d:
            return d.version()

    async def load_configuration(self) -> tuple[Configuration | None, int]:
        with self._tx() as d:
            rows, version = list(d.config), d.version()
            users, groups, assignments = d.user_docs(), d.group_docs(), d.assignment_rows()
            permission_sets, account_assignments = (
                d.access.ordered_permission_sets(),
                d.access.ordered_assignments(),
            )
        config = config_from_rows(rows, users, groups, assignments, permission_sets, account_assignments)
        return config, version

    async def load_catalogue(self) -> tuple[Configuration | None, int]:
        with self._tx() as d:
            rows, version = list(d.config), int(d.meta.get("catalogue_version", "0"))
        return config_from_rows(rows), version

    def _begin_config_write(
        self,
        d: MemoryData,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None,
        revoke_subjects: Sequence[str],
        now: float,
        versioned: str = "config_version",
    ) -> None:
        if expected_version is not None and int(d.meta.get(versioned, "0")) != expected_version:
            raise VersionConflict(f"configuration version is no longer {expected_version}")
        if idempotency is not None:
            if idempotency.key in d.idempotency:
                raise VersionConflict("idempotency key already used")
            d.idempotency[idempotency.key] = idempotency
        for subject in revoke_subjects:
            d.revoke_subject(subject, now)

    async def edit_catalogue(
        self, change: Callable[[Configuration | None], CatalogueWrite], *, now: float = 0.0
    ) -> int:
        with self._tx() as d:
            stored = config_from_rows(d.config)
            w = change(stored)
            rows = [(kind, doc) for kind, _id, doc in config_rows(w.config)]
            self._begin_config_write(d, None, w.idempotency, w.revoke_subjects, now)
            d.config = rows
            changes = [("catalogue", "")]
            if clears_directory(stored, w.config):
                d.clear_directory(now)
                changes.append(("directory", ""))
            else:
                apps = d.application_arns()
                for k in [k for k in d.assignments if k[0] not in apps]:
                    del d.assignments[k]
            return d.bump_catalogue(*changes)

    async def replace_configuration(
        self,
        config: Configuration,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyRecord | None = None,
        revoke_subjects: Sequence[str] = (),
        now: float = 0.0,
    ) -> int:
        rows = [(kind, doc) for kind, _id, doc in config_rows(config)]
        with self._tx() as d:
            self._begin_config_write(d, expected_version, idempotency, revoke_subjects, now)
            d.config = rows
            d.write_directory(config)
            return d.bump_catalogue(("catalogue", ""), ("directory", ""))

    # -- the directory ----------------------------------------------------------------------------------------
    async def get_user(self, user_id: str) -> User | None:
        with self._tx() as d:
            row = d.users.get(user_id)
            return None if row is None else user_at(row[1], d.revisions.get(user_id, 1))

    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]:
        with self._tx() as d:
            users = sorted(
                (user_at(doc, d.revisions.get(uid, 1)) for uid, (_, doc) in d.users.items()),
                key=lambda u: u.user_id,
            )
        if attribute == "username":
            key = user_name_key(value)
            return [u for u in users if user_name_key(u.user_name) == key][:limit]
        return [u for u in users if (attribute, value) in user_attributes(u)][:limit]

    async def list_users(self, *, after: str = "", limit: int = 100) -> list[User]:
        with self._tx() as d:
            ids = sorted(uid for uid in d.users if uid > after)[:limit]
            return [user_at(d.users[uid][1], d.revisions.get(uid, 1)) for uid in ids]

    async def create_user(self, user: User) -> int:
        with self._tx() as d:
            if user.user_id in d.users:
                raise AlreadyExists("user_id")
            d.check_user(user)
            d.users[user.user_id] = (d.next_seq(), user_doc(user))
            d.bump_version(("user", user.user_id))
            return d.next_revision(user.user_id)

    async def update_user(self, user: User, *, expected_revision: int | None = None) -> int:
        with self._tx() as d:
            row = d.users.get(user.user_id)
            if row is None:
                raise Missing("user", user.user_id)
            d.check_revision("user", user.user_id, expected_revision)
            d.check_user(user)
            d.users[user.user_id] = (row[0], user_doc(user))
            d.bump_version(("user", user.user_id))
            return d.next_revision(user.user_id)

    async def delete_user(self, user_id: str, *, now: float, expected_revision: int | None = None) -> bool:
        with self._tx() as d:
            if user_id not in d.users:
                return False
            d.check_revision("user", user_id, expected_revision)
            del d.users[user_id]
            d.revisions.pop(user_id, None)
            for mid in [mid for mid, (_, _g, uid) in d.memberships.items() if uid == user_id]:
                del d.memberships[mid]
            d.drop_principal("USER", user_id)
            d.revoke_subject(f"user:{user_id}", now)
            d.bump_version(("user", user_id))
            return True

    async def get_group(self, group_id: str) -> Group | None:
        with self._tx() as d:
            row = d.groups.get(group_id)
            return None if row is None else group_at(row[1], d.revisions.get(group_id, 1))

    async def find_groups(self, attribute: str, value: str, *, limit: int = 2) -> list[Group]:
        with self._tx() as d:
            groups = sorted(
                (group_at(doc, d.revisions.get(gid, 1)) for gid, (_, doc) in d.groups.items()),
                key=lambda g: g.group_id,
            )
        if attribute == "displayname":
            return [g for g in groups if g.display_name == value][:limit]
        return [g for g in groups if (attribute, value) in group_attributes(g)][:limit]

    async def list_groups(self, *, after: str = "", limit: int = 100) -> list[Group]:
        with self._tx() as d:
            ids = sorted(gid for gid in d.groups if gid > after)[:limit]
            return [group_at(d.groups[gid][1], d.revisions.get(gid, 1)) for gid in ids]

    async def create_group(self, group: Group) -> int:
        with self._tx() as d:
            if group.group_id in d.groups:
                raise AlreadyExists("group_id")
            d.check_group(group)
            d.groups[group.group_id] = (d.next_seq(), group_doc(group))
            d.bump_version(("group", group.group_id))
            return d.next_revision(group.group_id)

    async def update_group(self, group: Group, *, expected_revision: int | None = None) -> int:
        with self._tx() as d:
            row = d.groups.get(group.group_id)
            if row is None:
                raise Missing("group", group.group_id)
            d.check_revision("group", group.group_id, expected_revision)
            d.check_group(group)
            d.groups[group.group_id] = (row[0], group_doc(group))
            d.bump_version(("group", group.group_id))
            return d.next_revision(group.group_id)

    async def delete_group(self, group_id: str, *, expected_revision: int | None = None) -> bool:
        with self._tx() as d:
            if group_id not in d.groups:
                return False
            d.check_revision("group", group_id, expected_revision)
            del d.groups[group_id]
            d.revisions.pop(group_id, None)
            for mid in [mid for mid, (_, gid, _u) in d.memberships.items() if gid == group_id]:
                del d.memberships[mid]
            d.drop_principal("GROUP", group_id)
            d.bump_version(("group", group_id))
            return True

    async def get_membership(self, membership_id: str) -> Membership | None:
        with self._tx() as d:
            row = d.memberships.get(membership_id)
        return None if row is None else Membership(membership_id, row[1], row[2])

    async def find_membership(self, group_id: str, user_id: str) -> Membership | None:
        return await self.get_membership(membership_id(group_id, user_id))

    async def list_memberships(
        self, *, group_id: str | None = None, user_id: str | None = None, after: str = "", limit: int = 100
    ) -> list[Membership]:
        with self._tx() as d:
            found = [
                Membership(mid, gid, uid)
                for mid, (_, gid, uid) in d.memberships.items()
                if mid > after
                and (group_id is None or gid == group_id)
                and (user_id is None or uid == user_id)
            ]
        return sorted(found, key=lambda m: m.membership_id)[:limit]

    async def member_groups(self, user_id: str, group_ids: Sequence[str]) -> set[str]:
        wanted = set(group_ids)
        with self._tx() as d:
            return {gid for _, gid, uid in d.memberships.values() if uid == user_id and gid in wanted}

    async def create_membership(self, membership: Membership) -> None:
        with self._tx() as d:
            if membership.group_id not in d.groups:
                raise Missing("group", membership.group_id)
            if membership.user_id not in d.users:
                raise Missing("user", membership.user_id)
            if membership.membership_id in d.memberships:
                raise AlreadyExists("membership")
            d.memberships[membership.membership_id] = (d.next_seq(), membership.group_id, membership.user_id)
            d.bump_version(("membership", f"{membership.group_id}|{membership.user_id}"))

    async def delete_membership(self, membership_id: str) -> bool:
        with self._tx() as d:
            row = d.memberships.pop(membership_id, None)
            if row is None:
                return False
            d.bump_version(("membership", f"{row[1]}|{row[2]}"))
            return True

    async def is_assigned(self, application_arn: str, user_id: str) -> bool:
        with self._tx() as d:
            if (application_arn, "USER", user_id) in d.assignments:
                return True
            return any(
                uid == user_id and (application_arn, "GROUP", gid) in d.assignments
                for _, gid, uid in d.memberships.values()
            )

    async def has_assignment(self, assignment: Assignment) -> bool:
        with self._tx() as d:
            return (
                assignment.application_arn,
                assignment.principal_type,
                assignment.principal_id,
            ) in d.assignments

    async def list_assignments(
        self,
        *,
        application_arn: str | None = None,
        principal: tuple[str, str] | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[Assignment]:
        with self._tx() as d:
            rows = d.assignment_rows()
        if application_arn is not None:
            found = [a for a in rows if a.application_arn == application_arn and principal_order(a) > after]
            found.sort(key=principal_order)
        else:
            assert principal is not None
            found = [
                a
                for a in rows
                if (a.principal_type, a.principal_id) == principal and a.application_arn > after
            ]
            found.sort(key=lambda a: a.application_arn)
        return found[:limit]

    async def create_assignment(self, assignment: Assignment) -> bool:
        key = (assignment.application_arn, assignment.principal_type, assignment.principal_id)
        with self._tx() as d:
            if assignment.application_arn not in d.application_arns():
                raise Missing("application", assignment.application_arn)
            principals = d.users if assignment.principal_type == "USER" else d.groups
            if assignment.principal_id not in principals:
                raise Missing(assignment.principal_type.lower(), assignment.principal_id)
            if key in d.assignments:
                return False
            d.assignments[key] = d.next_seq()
            d.bump_version(("assignment", assignment_key(assignment)))
            return True

    async def delete_assignment(self, assignment: Assignment) -> bool:
        key = (assignment.application_arn, assignment.principal_type, assignment.principal_id)
        with self._tx() as d:
            if d.assignments.pop(key, None) is None:
                return False
            d.bump_version(("assignment", assignment_key(assignment)))
            return True

    async def changes_since(self, version: int, *, limit: int = 1000) -> list[Change] | None:
        with self._tx() as d:
            if version < d.version() and (not d.changes or d.changes[0][0] > version + 1):
                return None  # purged (or never recorded): the feed does not reach back to ``version``
            found = [Change(v, k, key) for v, k, key in d.changes if v > version]
        return None if len(found) > limit else found

    # -- credentials ------------------------------------------------------------------------------------------
    async def load_credentials(self) -> list[StoredCredential]:
        with self._tx() as d:
            rows = sorted(d.credentials.values(), key=lambda r: (r[6], r[0]))  # created_at, access key id
        return [credential(row, self._secrets) for row in rows]

    async def create_credential(self, cred: StoredCredential) -> None:
        row = credential_params(cred, self._secrets)
        with self._tx() as d:
            if any(row[i] is None for i in _CREDENTIAL_NOT_NULL):  # a NOT NULL violation in the SQL stores
                raise StorageError("storage operation failed")
            if cred.access_key_id in d.credentials:
                raise AlreadyExists(cred.access_key_id)
            d.credentials[cred.access_key_id] = row
            d.bump_version()

    async def delete_credential(self, access_key_id: str) -> bool:
        with self._tx() as d:
            if d.credentials.pop(access_key_id, None) is None:
                return False
            d.bump_version()
            return True

    # -- signing keys -----------------------------------------------------------------------------------------
    async def signing_keys(self, purpose: str) -> list[SigningKey]:
        with self._tx() as d:
            rows = [r for r in d.signing_keys if r[1] == purpose]
        rows.sort(key=lambda r: r[4], reverse=True)  # newest first
        return [signing_key(r, self._keys) for r in rows]

    async def ensure_signing_key(
        self, purpose: str, alg: str, make: Callable[[], tuple[str, bytes]]
    ) -> SigningKey:
        with self._tx() as d:
            if not any(r[1] == purpose and r[2] == alg and r[5] for r in d.signing_keys):
                kid, pem = make()
                d.signing_keys.append(
                    (kid, purpose, alg, self._keys.seal(pem, kid.encode()), time.time(), True)
                )
        return next(k for k in await self.signing_keys(purpose) if k.alg == alg and k.active)

    # -- tokens -----------------------------------------------------------------------------------------------
    async def issue(
        self,
        tokens: Sequence[TokenRecord],
        *,
        jti: tuple[str, str, float] | None = None,
        family_cap: int = 0,
    ) -> None:
        with self._tx() as d:
            if jti is not None and (jti[0], jti[1]) in d.used_jtis:
                raise JtiReplay(jti[0])
            d.insert_tokens(tokens)
            d.cap_families(tokens, family_cap)
            if jti is not None:
                d.used_jtis[(jti[0], jti[1])] = jti[2]

    async def find_token(self, token_hash: bytes) -> TokenRecord | None:
        with self._tx() as d:
            t = d.tokens.get(token_hash)
            if t is None:
                return None
            return token_record((*t.row, t.retired_at, d.token_revocation(t.row)))

    async def revoke_family(self, family_id: str, now: float, expires_at: float) -> int:
        with self._tx() as d:
            return d.revoke_family(family_id, now, expires_at)

    async def revoke_token(self, token_hash: bytes, now: float) -> bool:
        with self._tx() as d:
            t = d.tokens.get(token_hash)
            if t is None or t.row[_T_REVOKED] is not None:
                return False
            t.row = (*t.row[:_T_REVOKED], now, *t.row[_T_REVOKED + 1 :])
            return True

    async def rotate_refresh(
        self,
        old_hash: bytes,
        application_arn: str,
        now: float,
        grace_seconds: float,
        tokens: Sequence[TokenRecord],
    ) -> Redemption:
        with self._tx() as d:
            old = d.tokens.get(old_hash)
            if old is None or old.row[_T_KIND] != "refresh" or old.row[_T_APP] != application_arn:
                return lost_rotation(None, now, grace_seconds)[0]
            revoked = old.row[_T_REVOKED] if old.row[_T_REVOKED] is not None else d.token_revocation(old.row)
            if old.retired_at is None and revoked is None and old.row[_T_EXPIRES] > now:  # SPENDABLE_REFRESH
                d.insert_tokens(tokens)
                old.retired_at = now
                return Redemption.OK
            lost = LostRotation(old.row[_T_FAMILY], old.retired_at, revoked, old.row[_T_SESSION])
            outcome, revoke = lost_rotation(lost, now, grace_seconds)
            self._revoke(d, revoke, now)
            return outcome

    # -- authorization codes ----------------------------------------------------------------------------------
    async def create_code(self, code: CodeRecord) -> None:
        with self._tx() as d:
            if code.code_hash in d.codes:
                raise StorageError("storage operation failed")
            d.codes[code.code_hash] = code_params(code)

    async def find_code(self, code_hash: bytes) -> CodeRecord | None:
        with self._tx() as d:
            row = d.codes.get(code_hash)
        return None if row is None else code_record(row)

    async def redeem_code(
        self,
        code_hash: bytes,
        application_arn: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> Redemption:
        with self._tx() as d:
            row = d.codes.get(code_hash)
            if row is None or row[_C_APP] != application_arn:
                return lost_redemption(None)[0]
            subject_revoked = d.subject_revocation(row[_C_USER], row[_C_APP], row[_C_ISSUED]) is not None
            if row[_C_CONSUMED] is None and row[_C_EXPIRES] > now and not subject_revoked:  # REDEEMABLE_CODE
                d.insert_tokens(tokens)
                d.cap_families(tokens, family_cap)
                d.codes[code_hash] = (*row[:_C_CONSUMED], now, *row[_C_CONSUMED + 1 :])
                return Redemption.OK
            lost = LostRedemption(row[_C_FAMILY], row[_C_CONSUMED], row[_C_SESSION], subject_revoked)
            outcome, revoke = lost_redemption(lost)
            self._revoke(d, revoke, now)  # RFC 6749 4.1.2: revoke what the code issued
            return outcome

    @staticmethod
    def _revoke(d: MemoryData, revoke: FamilyRevocation | None, now: float) -> None:
        if revoke is not None:
            d.revoke_family(revoke.family_id, now, revoke.expires_at)

    # -- sign-in ----------------------------------------------------------------------------------------------
    async def set_password_hash(self, user_id: str, password_hash: str, now: float) -> None:
        with self._tx() as d:
            d.passwords[user_id] = (password_hash, now)

    async def get_password_hash(self, user_id: str) -> str | None:
        with self._tx() as d:
            stored = d.passwords.get(user_id)
        return None if stored is None else stored[0]

    async def create_web_session(self, sid_hash: bytes, session: WebSession) -> None:
        with self._tx() as d:
            if sid_hash in d.web_sessions:
                raise StorageError("storage operation failed")
            d.web_sessions[sid_hash] = session

    async def get_web_session(self, sid_hash: bytes, now: float) -> WebSession | None:
        with self._tx() as d:
            session = d.web_sessions.get(sid_hash)
        return session if session is not None and session.expires_at > now else None

    async def delete_web_session(self, sid_hash: bytes) -> None:
        with self._tx() as d:
            d.web_sessions.pop(sid_hash, None)

    async def locked_until(self, key: str, now: float) -> float | None:
        with self._tx() as d:
            a = d.login_attempts.get(key)
        if a is None or a.locked_until is None or a.locked_until <= now:
            return None
        return a.locked_until

    async def record_failure(
        self, key: str, now: float, *, window: float, threshold: int, lock_seconds: float
    ) -> float | None:
        with self._tx() as d:
            a = next_failure(
                d.login_attempts.get(key), now, window=window, threshold=threshold, lock_seconds=lock_seconds
            )
            d.login_attempts[key] = a
            return a.locked_until

    async def clear_failures(self, key: str) -> None:
        with self._tx() as d:
            d.login_attempts.pop(key, None)

    # -- session credentials (migration 0015) ----------------------------------------------------------------
    async def create_session_credential(self, cred: SessionCredentialRecord) -> None:
        row = ss.session_params(cred, self._secrets)
        with self._tx() as d:
            if cred.access_key_id in d.sessions:
                raise AlreadyExists(cred.access_key_id)
            d.sessions[cred.access_key_id] = row

    async def get_session_credential(self, access_key_id: str) -> SessionCredentialRecord | None:
        with self._tx() as d:
            row = d.sessions.get(access_key_id)
        return None if row is None else ss.session_record(row, self._secrets)

    # -- public clients and device authorizations (RFC 8628) --------------------------------------------------
    async def create_client(self, client: ClientRecord) -> None:
        with self._tx() as d:
            if client.client_id in d.clients:
                raise AlreadyExists("client_id")
            d.clients[client.client_id] = client

    async def get_client(self, client_id: str) -> ClientRecord | None:
        with self._tx() as d:
            return d.clients.get(client_id)

    async def create_device(self, device: DeviceRecord) -> None:
        with self._tx() as d:
            if device.device_hash in d.devices or any(
                x.user_code_hash == device.user_code_hash for x in d.devices.values()
            ):
                raise AlreadyExists("device")
            d.devices[device.device_hash] = device

    @staticmethod
    def _by_user_code(d: MemoryData, user_code_hash: bytes, now: float) -> DeviceRecord | None:
        for x in d.devices.values():
            if x.user_code_hash == user_code_hash and x.status == DEVICE_PENDING and x.expires_at > now:
                return x
        return None

    async def find_device_by_user_code(self, user_code_hash: bytes, now: float) -> DeviceRecord | None:
        with self._tx() as d:
            return self._by_user_code(d, user_code_hash, now)

    async def decide_device(
        self, user_code_hash: bytes, now: float, *, approve: bool, user_id: str, auth_time: float
    ) -> DeviceRecord | None:
        with self._tx() as d:
            x = self._by_user_code(d, user_code_hash, now)
            if x is None:
                return None
            new = replace(
                x,
                status=DEVICE_APPROVED if approve else DEVICE_DENIED,
                user_id=user_id,
                auth_time=auth_time,
                decided_at=now,
            )
            d.devices[x.device_hash] = new
            return new

    async def poll_device(
        self, device_hash: bytes, client_id: str, now: float, *, leeway: float, max_interval: float
    ) -> DevicePoll | None:
        with self._tx() as d:
            x = d.devices.get(device_hash)
            if x is None or x.client_id != client_id or x.status == DEVICE_CONSUMED:
                return None
            soon = (
                x.last_poll_at is not None and now - x.last_poll_at < x.interval - leeway
            )  # POLL_DEVICE_SQL
            interval = x.interval + 5 if soon and x.interval + 5 <= max_interval else x.interval
            new = replace(x, interval=interval, last_poll_at=now)
            d.devices[device_hash] = new
            return DevicePoll(new, soon)

    async def redeem_device(
        self,
        device_hash: bytes,
        client_id: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> bool:
        with self._tx() as d:
            x = d.devices.get(device_hash)
            if x is None or x.client_id != client_id or x.status != DEVICE_APPROVED or x.expires_at <= now:
                return False
            d.devices[device_hash] = replace(x, status=DEVICE_CONSUMED)
            d.insert_tokens(tokens)
            d.cap_families(tokens, family_cap)
            return True

    # -- purge ------------------------------------------------------------------------------------------------
    async def purge_expired(self, now: float, limit: int = 1000) -> int:
        """``PURGE_SQL``, batch by batch: up to ``limit`` expired entries of each kind, in one atomic step."""

        def drop(table: dict[Any, Any], expired: Callable[[Any], bool]) -> int:
            keys = [k for k, v in table.items() if expired(v)][:limit]
            for k in keys:
                del table[k]
            return len(keys)

        with self._tx() as d:
            n = drop(d.tokens, lambda t: t.row[_T_EXPIRES] < now)
            n += drop(d.web_sessions, lambda s: s.expires_at < now)
            n += drop(d.revoked_families, lambda f: f[1] < now)
            n += drop(d.family_rings, lambda ring: ring[2] < now)
            n += drop(d.codes, lambda c: c[_C_EXPIRES] < now - CODE_PURGE_GRACE_SECONDS)
            n += drop(d.used_jtis, lambda expires_at: expires_at < now)
            n += drop(d.idempotency, lambda r: r.created_at < now - IDEMPOTENCY_TTL_SECONDS)
            n += drop(d.clients, lambda c: c.expires_at < now)  # PURGE_PUBLIC_SQL
            n += drop(d.devices, lambda x: x.expires_at < now - 3600.0)
            n += drop(d.access.requests, lambda r: r[3] < now - REQUEST_RETENTION_SECONDS)  # PURGE_ACCESS_SQL
            n += drop(d.sessions, lambda r: r[6] < now - SESSION_PURGE_GRACE_SECONDS)  # PURGE_SESSION_SQL
            old = [c for c in d.changes if c[0] <= d.version() - CHANGE_RETENTION][:limit]
            d.changes = d.changes[len(old) :]
            n += len(old)
            # Settle: every token or code issued before the revocation is stored by now, so none outlives the
            # latest expiry stored now.
            settle = sorted(
                s
                for s, m in d.revoked_subjects.items()
                if m.expires_at is None and m.revoked_at < now - REVOCATION_SETTLE_SECONDS
            )[:limit]
            if settle:
                latest = max(
                    [t.row[_T_EXPIRES] for t in d.tokens.values()]
                    + [c[_C_EXPIRES] for c in d.codes.values()],
                    default=0.0,
                )
                for s in settle:
                    d.revoked_subjects[s].expires_at = latest
            n += len(settle)
            gone = sorted(
                s for s, m in d.revoked_subjects.items() if m.expires_at is not None and m.expires_at < now
            )[:limit]
            for s in gone:
                del d.revoked_subjects[s]
            return n + len(gone)


if TYPE_CHECKING:  # mypy checks that MemoryStore keeps the whole Store protocol

    def _is_a_store(data: MemoryData) -> Store:
        return MemoryStore(data, master_key=bytes(32))
