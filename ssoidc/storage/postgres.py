"""PostgreSQL implementation of the storage contracts (``ssoidc.storage.base``), for several nodes on one database.

* asyncpg with a connection pool per process (``pool_min_size`` 2, ``pool_max_size`` 10, ``command_timeout`` 10 s
  by default; each can be set as a query parameter of the URL). Every other query parameter is a server setting
  for each session, so ``postgresql://host/db?search_path=ssoidc`` puts the tables in schema ``ssoidc``.
* Behind a transaction-pooling proxy (PgBouncer ``pool_mode = transaction``, RDS Proxy) add ``pooler=transaction``:
  statements are then not prepared by name, the configuration version is re-read at most once a second instead
  of being pushed by LISTEN, and the URL may carry no server settings (set ``search_path`` on the pooler's
  database entry or on the role). Migrations, redemptions and the purge are single transactions with
  transaction-scoped advisory locks, so they hold behind such a proxy. A session pooler needs nothing.
* The pool belongs to an event loop: it is made lazily on first use in the running loop, and made again if the
  store is used from another loop (``asyncio.run`` in the CLI, a uvicorn worker's loop).
* Migrations: ``migrations/postgres/NNNN_name.sql`` (the SQLite versions, in PostgreSQL dialect), applied in one
  transaction under ``pg_advisory_xact_lock`` keyed on the schema, so several nodes starting at once apply each
  exactly once; applied versions are recorded in ``schema_migrations``. The schema named by ``search_path`` is
  created if missing. At first start a master-key check value is stored in ``meta``; a node with another master
  key is refused (``ConfigError``).
* Every single-use write is one conditional statement, correct under READ COMMITTED with any number of
  concurrent callers in any number of processes: ``UPDATE ... WHERE retired_at IS NULL ... RETURNING`` (a
  concurrent updater waits for the row lock, then re-checks the WHERE against the committed row) and
  ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (a concurrent inserter waits for the other's key, then sees
  the conflict). The new token rows are inserted by the same statement (a data-modifying CTE over ``unnest``
  arrays), so a rotation, a code redemption or an issue with a jti is one round trip.
* Revoked families and revoked subjects are primary-key lookups in the same statement that reads or redeems.
* Driver errors surface as ``StorageError`` with a fixed message; the log names the operation, the error class
  and the SQLSTATE, never SQL text or values.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
import urllib.parse
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import asyncpg

from ssoidc.crypto import Sealer
from ssoidc.errors import ConfigError
from ssoidc.model import Assignment, Configuration, Group, Membership, User
from ssoidc.storage import access_sql as aq
from ssoidc.storage import public_sql as ps
from ssoidc.storage import session_sql as ss
from ssoidc.storage.base import (
    CHANGE_RETENTION,
    DEVICE_APPROVED,
    DEVICE_DENIED,
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
    StoredCredential,
    TokenRecord,
    VersionConflict,
    WebSession,
)
from ssoidc.storage.common import (
    FAMILY_SLOT_SQL,
    FIND_CODE_SQL,
    FIND_TOKEN_SQL,
    INSERT_CODE_SQL,
    INSERT_CREDENTIAL_SQL,
    LOAD_CREDENTIALS_SQL,
    MASTER_KEY_CHECK_META,
    MASTER_KEY_MISMATCH,
    PURGE_FAMILY_SLOTS_SQL,
    PURGE_SQL,
    REDEEM_LOSER_SQL,
    REDEEMABLE_CODE,
    REVOKE_FAMILY_SQL,
    ROTATE_LOSER_SQL,
    SECRET_PURPOSE,
    SIGNING_KEY_PURPOSE,
    SIGNING_KEYS_SQL,
    SPENDABLE_REFRESH,
    TOKEN_COLS,
    TOKEN_COLUMNS,
    TOKEN_CONTEXT,
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
    idempotency_record,
    legacy_directory,
    lost_redemption,
    lost_rotation,
    master_key_check,
    memberships_of,
    migrations,
    numbered,
    purge_params,
    same_check,
    signing_key,
    started_family,
    token_params,
    token_record,
    user_attributes,
    user_doc,
    user_name_key,
    user_of,
    web_session,
)
from ssoidc.storage.postgres_access import PostgresAccountAccess, delete_access, insert_access
from ssoidc.storage.revisions import group_at, user_at
from ssoidc.storage.token_sql import REVOKE_TOKEN_SQL

log = logging.getLogger("ssoidc.storage")
P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_POOL_MIN = 2
DEFAULT_POOL_MAX = 10
DEFAULT_COMMAND_TIMEOUT = 10.0
_OWN_PARAMS = ("pool_min_size", "pool_max_size", "command_timeout", "pooler")

# New token rows as 13 parallel arrays ($1..$13): one statement inserts any number of tokens.
_UNNEST_TOKENS = (
    "SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[],"
    " $8::float8[], $9::float8[], $10::float8[], $11::text[], $12::text[], $13::float8[])"
)

_SQL_ISSUE = f"INSERT INTO tokens ({TOKEN_COLS}) {_UNNEST_TOKENS}"
_SQL_ISSUE_JTI = (
    "WITH j AS (INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($14, $15, $16) ON CONFLICT DO NOTHING"
    " RETURNING 1),"
    f" ins AS (INSERT INTO tokens ({TOKEN_COLS}) {_UNNEST_TOKENS} WHERE EXISTS (SELECT 1 FROM j))"
    " SELECT count(*) FROM j"
)


def _family_cap(gate: str | None, first: int) -> str:
    """CTEs that apply the refresh-family cap (migration 0011) in the statement that stores a new family, when
    ``gate`` (a CTE of that statement) has a row: parameters ``$first..$first+5`` are user id, application ARN, cap,
    family id, session end and now.

    One statement, and still right when nodes start families of one (user, application) at once: the counter's
    upsert waits for a concurrent one to commit and then increments the committed count (ON CONFLICT DO UPDATE
    always works on the latest row version), so each start gets its own slot; the slot's upsert, likewise,
    RETURNs what the slot held last (``prev_*`` = the latest row's values), never what this statement's
    snapshot saw. The evicted family is revoked if it is another one and still live."""
    u, a, cap, fam, exp, now = (f"${first + i}" for i in range(6))
    source = f" FROM {gate}" if gate else ""
    slot = FAMILY_SLOT_SQL.replace(
        "VALUES (?, ?, ?, ?, ?)", f"SELECT {u}, {a}, fs.slot, {fam}, {exp} FROM fs"
    )
    return (
        " fs AS (INSERT INTO family_starts (user_id, application_arn, started)"
        f" SELECT {u}::text, {a}::text, 1{source}"
        " ON CONFLICT (user_id, application_arn) DO UPDATE SET started = family_starts.started + 1"
        f" RETURNING (family_starts.started - 1) % {cap}::bigint AS slot),"
        f" put AS ({slot.replace(f'{fam}, {exp}', f'{fam}::text, {exp}::float8')}),"
        " rev AS (INSERT INTO revoked_families (family_id, revoked_at, expires_at)"
        f" SELECT prev_family_id, {now}::float8, prev_expires_at FROM put WHERE prev_family_id IS NOT NULL"
        f" AND prev_family_id <> {fam} AND prev_expires_at > {now} ON CONFLICT DO NOTHING)"
    )


_SQL_ISSUE_CAP = (
    f"WITH ins AS (INSERT INTO tokens ({TOKEN_COLS}) {_UNNEST_TOKENS}),{_family_cap(None, 14)} SELECT 1"
)
_SQL_ISSUE_JTI_CAP = _SQL_ISSUE_JTI.replace(
    " SELECT count(*) FROM j", f",{_family_cap('j', 17)} SELECT count(*) FROM j"
)
_SQL_ROTATE = (
    "WITH old AS (UPDATE tokens t SET retired_at = $14 WHERE "
    + SPENDABLE_REFRESH.format(t="t", hash="$15", app="$16", now="$14")
    + " RETURNING 1),"
    f" ins AS (INSERT INTO tokens ({TOKEN_COLS}) {_UNNEST_TOKENS} WHERE EXISTS (SELECT 1 FROM old))"
    " SELECT count(*) FROM old"
)
_SQL_ROTATE_LOSER = numbered(ROTATE_LOSER_SQL)
_SQL_REDEEM = (
    "WITH c AS (UPDATE auth_codes a SET consumed_at = $14 WHERE "
    + REDEEMABLE_CODE.format(t="a", hash="$15", app="$16", now="$14")
    + " RETURNING 1),"
    f" ins AS (INSERT INTO tokens ({TOKEN_COLS}) {_UNNEST_TOKENS} WHERE EXISTS (SELECT 1 FROM c))"
    " SELECT count(*) FROM c"
)
_SQL_REDEEM_CAP = _SQL_REDEEM.replace(
    " SELECT count(*) FROM c", f",{_family_cap('c', 17)} SELECT count(*) FROM c"
)
_SQL_REDEEM_LOSER = numbered(REDEEM_LOSER_SQL)
_SQL_FIND_TOKEN = numbered(FIND_TOKEN_SQL)
_SQL_FIND_CODE = numbered(FIND_CODE_SQL)
_SQL_INSERT_CODE = numbered(INSERT_CODE_SQL)
_SQL_SIGNING_KEYS = numbered(SIGNING_KEYS_SQL)
_SQL_INSERT_CREDENTIAL = numbered(INSERT_CREDENTIAL_SQL) + " RETURNING 1"
_PURGE_ALL = (
    *PURGE_SQL,
    PURGE_FAMILY_SLOTS_SQL,
    *ps.PURGE_PUBLIC_SQL,
    *aq.PURGE_ACCESS_SQL,
    *ss.PURGE_SESSION_SQL,
)
_SQL_PURGE_ALL = tuple((numbered(sql), age) for sql, age in _PURGE_ALL)
_SQL_INSERT_CLIENT = numbered(ps.INSERT_CLIENT_SQL) + " RETURNING 1"
_SQL_GET_CLIENT = numbered(ps.GET_CLIENT_SQL)
_SQL_INSERT_DEVICE = numbered(ps.INSERT_DEVICE_SQL) + " RETURNING 1"
_SQL_FIND_DEVICE = numbered(ps.FIND_DEVICE_BY_USER_CODE_SQL)
_SQL_DECIDE_DEVICE = numbered(ps.DECIDE_DEVICE_SQL)
_SQL_POLL_DEVICE = numbered(ps.POLL_DEVICE_SQL)
_SQL_REDEEM_DEVICE = numbered(ps.REDEEM_DEVICE_SQL)
_SQL_INSERT_SESSION = numbered(ss.INSERT_SESSION_SQL) + " RETURNING 1"
_SQL_GET_SESSION = numbered(ss.GET_SESSION_SQL)
_SQL_REVOKE_FAMILY = numbered(REVOKE_FAMILY_SQL)
_SQL_REVOKE_TOKEN = numbered(REVOKE_TOKEN_SQL)
_SQL_BUMP_VERSION = (
    "INSERT INTO meta (key, value) VALUES ('config_version', '1') ON CONFLICT (key) DO UPDATE"
    " SET value = (meta.value::bigint + 1)::text RETURNING value::bigint"
)
_SQL_PENDING_CHANGES = (
    "WITH gate AS (SELECT pg_advisory_xact_lock_shared($3))"
    " INSERT INTO config_changes (version, n, kind, key)"
    " SELECT 0, nextval('config_change_seq'), k, x FROM unnest($1::text[], $2::text[]) AS c(k, x), gate"
)
"""A directory write's change-feed rows, versioned at commit (migration 0009), after the write gate (shared; the
gate is a CTE joined to the rows, so it is taken only for a write with changes: ``_dir_write`` always has some)."""
_SQL_RECORD_FAILURE = (
    "INSERT INTO login_attempts AS la (attempt_key, failures, first_failure_at, locked_until)"
    " VALUES ($1, 1, $2::float8, CASE WHEN 1 >= $3::int THEN $2::float8 + $4::float8 END)"
    " ON CONFLICT (attempt_key) DO UPDATE SET"
    " failures = CASE WHEN {fresh} THEN 1 ELSE la.failures + 1 END,"
    " first_failure_at = CASE WHEN {fresh} THEN $2::float8 ELSE la.first_failure_at END,"
    " locked_until = CASE WHEN (CASE WHEN {fresh} THEN 1 ELSE la.failures + 1 END) >= $3::int"
    " THEN $2::float8 + $4::float8 END"
    " RETURNING locked_until"
).format(fresh="($2::float8 - la.first_failure_at > $5::float8 OR la.locked_until <= $2::float8)")


@dataclass(frozen=True, slots=True)
class PostgresUrl:
    """A parsed ``postgresql://`` URL: what asyncpg gets, this store's own parameters, the schema to create."""

    dsn: str
    """The URL without this store's own query parameters (asyncpg passes the others as server settings)."""
    display: str
    """host:port/database, without credentials: safe for logs and messages."""
    schema: str | None
    """First schema of ``search_path``, created at migrate time if missing (None: the server's default)."""
    min_size: int = DEFAULT_POOL_MIN
    max_size: int = DEFAULT_POOL_MAX
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT
    transaction_pooler: bool = False
    """``pooler=transaction``: the URL points at a transaction-pooling proxy (PgBouncer ``pool_mode =
    transaction``, RDS Proxy): no named prepared statements, no LISTEN (the configuration version is then re-read
    at most every ``VERSION_RECHECK_SECONDS``), no server settings in the URL."""

    @classmethod
    def parse(cls, url: str) -> PostgresUrl:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"postgresql", "postgres"}:
            raise ConfigError("SSOIDC_DATABASE_URL: expected a postgresql:// URL")
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        own = {k: v for k, v in query if k in _OWN_PARAMS}
        rest = [(k, v) for k, v in query if k not in _OWN_PARAMS]
        try:
            min_size = int(own.get("pool_min_size", DEFAULT_POOL_MIN))
            max_size = int(own.get("pool_max_size", DEFAULT_POOL_MAX))
            timeout = float(own.get("command_timeout", DEFAULT_COMMAND_TIMEOUT))
        except ValueError:
            raise ConfigError(
                "SSOIDC_DATABASE_URL: pool_min_size, pool_max_size and command_timeout must be numbers"
            ) from None
        pooler = own.get("pooler", "none")
        if pooler not in ("none", "session", "transaction"):
            raise ConfigError("SSOIDC_DATABASE_URL: pooler must be none, session or transaction")
        if pooler == "transaction" and rest:
            raise ConfigError(
                "SSOIDC_DATABASE_URL: with pooler=transaction the URL cannot carry server settings ("
                + ", ".join(sorted({k for k, _ in rest}))
                + "): a transaction pooler does not keep them per client. Set them on the pooler's database entry"
                " (PgBouncer: connect_query) or on the role (ALTER ROLE ... SET)"
            )
        if not 0 <= min_size <= max_size or max_size < 1 or timeout <= 0:
            raise ConfigError(
                "SSOIDC_DATABASE_URL: expected 0 <= pool_min_size <= pool_max_size, pool_max_size >= 1"
                " and command_timeout > 0"
            )
        schema = None
        for k, v in rest:
            if k == "search_path":
                first = v.split(",")[0].strip()
                if first.startswith('"') and first.endswith('"') and len(first) >= 2:
                    first = first[1:-1].replace('""', '"')
                schema = first if first and first != "$user" else None
        try:
            display = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"
        except ValueError:  # several hosts (h1:5432,h2:5432): shown as written, without credentials
            display = parts.netloc.rpartition("@")[2] + parts.path
        dsn = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))
        return cls(dsn, display, schema, min_size, max_size, timeout, pooler == "transaction")


def _lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for ``parts`` (the schema is always one: schemas never contend)."""
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "big", signed=True)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Pool release hook: nothing to undo (no session state is ever changed), so no RESET round trip."""


DIRECTORY_MIGRATION = 8
"""The migration that moves users, groups and assignments out of ``config_resources`` (``_move_directory``)."""

_REVOKE_SUBJECTS = (
    "INSERT INTO revoked_subjects (subject, revoked_at) SELECT s, $2 FROM unnest($1::text[]) AS s"
    " ON CONFLICT (subject) DO UPDATE"
    " SET revoked_at = GREATEST(revoked_subjects.revoked_at, excluded.revoked_at), expires_at = NULL"
)
_IS_ASSIGNED = (
    "SELECT EXISTS (SELECT 1 FROM app_assignments WHERE application_arn = $1 AND principal_type = 'USER'"
    " AND principal_id = $2) OR EXISTS (SELECT 1 FROM dir_memberships m JOIN app_assignments a"
    " ON a.application_arn = $1 AND a.principal_type = 'GROUP' AND a.principal_id = m.group_id WHERE m.user_id = $2)"
)
_UNIQUE = {
    "dir_users_user_name": "user_name",
    "dir_users_pkey": "user_id",
    "dir_groups_display_name": "group_name",
    "dir_groups_pkey": "group_id",
    "dir_memberships_pkey": "membership",
    "dir_memberships_pair": "membership",
    "permission_sets_name": "permission_set_name",
    "permission_sets_pkey": "permission_set",
}
"""``AlreadyExists`` of each unique constraint of the directory and permission-set tables (``_dir_write``)."""


async def _move_directory(conn: asyncpg.Connection) -> None:
    """Migration 8's data step: the directory documents of ``config_resources`` into the directory tables."""
    rows = await conn.fetch(
        "SELECT kind, doc FROM config_resources WHERE kind IN ('user', 'group', 'assignment') ORDER BY seq"
    )
    await _insert_directory(conn, *legacy_directory((r[0], r[1]) for r in rows))
    await conn.execute("DELETE FROM config_resources WHERE kind IN ('user', 'group', 'assignment')")


async def _insert_directory(
    conn: asyncpg.Connection,
    users: Sequence[User],
    groups: Sequence[Group],
    assignments: Sequence[Assignment],
) -> None:
    """Insert users, groups with their memberships, and assignments (into empty tables), in order."""
    await conn.execute(
        "INSERT INTO dir_users (user_id, user_name_key, seq, doc)"
        " SELECT u, k, nextval('dir_seq'), d FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
        " AS x(u, k, d, o) ORDER BY o",
        [u.user_id for u in users],
        [user_name_key(u.user_name) for u in users],
        [user_doc(u) for u in users],
    )
    attrs = [(a, v, u.user_id) for u in users for a, v in user_attributes(u)]
    await conn.execute(
        "INSERT INTO dir_user_attributes (attribute, value, user_id) SELECT * FROM unnest($1::text[], $2::text[],"
        " $3::text[])",
        *_columns(attrs, 3),
    )
    await conn.execute(
        "INSERT INTO dir_groups (group_id, display_name, seq, doc)"
        " SELECT g, n, nextval('dir_seq'), d FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
        " AS x(g, n, d, o) ORDER BY o",
        [g.group_id for g in groups],
        [g.display_name for g in groups],
        [group_doc(g) for g in groups],
    )
    gattrs = [(a, v, g.group_id) for g in groups for a, v in group_attributes(g)]
    await conn.execute(
        "INSERT INTO dir_group_attributes (attribute, value, group_id) SELECT * FROM unnest($1::text[], $2::text[],"
        " $3::text[])",
        *_columns(gattrs, 3),
    )
    ms = memberships_of(groups)
    await conn.execute(
        "INSERT INTO dir_memberships (membership_id, group_id, user_id, seq)"
        " SELECT m, g, u, nextval('dir_seq') FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
        " AS x(m, g, u, o) ORDER BY o",
        [m.membership_id for m in ms],
        [m.group_id for m in ms],
        [m.user_id for m in ms],
    )
    await conn.execute(
        "INSERT INTO app_assignments (application_arn, principal_type, principal_id, user_id, group_id, seq)"
        " SELECT a, t, p, u, g, nextval('dir_seq') FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::text[]) WITH ORDINALITY AS x(a, t, p, u, g, o) ORDER BY o",
        *_columns([_assignment_params(a) for a in assignments], 5),
    )


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as ``width`` parallel arrays (for ``unnest``)."""
    return [[r[i] for r in rows] for i in range(width)]


def _assignment_params(a: Assignment) -> tuple[str, str, str, str | None, str | None]:
    user = a.principal_id if a.principal_type == "USER" else None
    group = a.principal_id if a.principal_type == "GROUP" else None
    return (a.application_arn, a.principal_type, a.principal_id, user, group)


async def _delete_directory(conn: asyncpg.Connection) -> None:
    """Delete every directory row. DELETE, not TRUNCATE: TRUNCATE's exclusive table locks would deadlock with a
    reader (``load_configuration``) that holds some of the tables and waits for the others."""
    for table in ("app_assignments", "dir_memberships", "dir_group_attributes", "dir_groups"):
        await conn.execute(f"DELETE FROM {table}")
    await conn.execute("DELETE FROM dir_user_attributes")
    await conn.execute("DELETE FROM dir_users")
    await delete_access(conn)


async def _clear_directory(conn: asyncpg.Connection, now: float) -> None:
    await conn.execute(
        "INSERT INTO revoked_subjects (subject, revoked_at) SELECT 'user:' || user_id, $1 FROM dir_users"
        " ON CONFLICT (subject) DO UPDATE"
        " SET revoked_at = GREATEST(revoked_subjects.revoked_at, excluded.revoked_at), expires_at = NULL",
        now,
    )
    await _delete_directory(conn)


def _driver_errors(
    fn: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn driver and network failures into ``StorageError``; log what failed without SQL text or values."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
            store = args[0]
            where = store.url.display if isinstance(store, PostgresStore) else "?"
            sqlstate = getattr(exc, "sqlstate", None)
            log.error(
                "PostgreSQL %s at %s failed: %s%s",
                fn.__name__,
                where,
                type(exc).__name__,
                f" (SQLSTATE {sqlstate})" if sqlstate else "",
            )
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                raise StorageError(f"cannot reach PostgreSQL at {where}") from exc
            raise StorageError("storage operation failed") from exc

    return wrapper


def _cap_params(tokens: Sequence[TokenRecord], family_cap: int) -> tuple[Any, ...]:
    """The parameters of ``_family_cap`` if ``tokens`` start a family and the cap is on, else ()."""
    started = started_family(tokens) if family_cap > 0 else None
    if started is None:
        return ()
    return (
        started.user_id,
        started.application_arn,
        family_cap,
        started.family_id,
        started.expires_at,
        started.issued_at,
    )


def _token_arrays(tokens: Sequence[TokenRecord]) -> list[list[Any]]:
    """The 13 parallel arrays of ``_UNNEST_TOKENS`` (the context as text: asyncpg's text codec takes ``str``)."""
    if not tokens:
        return [[] for _ in TOKEN_COLUMNS]
    cols = [list(col) for col in zip(*map(token_params, tokens), strict=True)]
    cols[TOKEN_CONTEXT] = [c.decode() for c in cols[TOKEN_CONTEXT]]
    return cols


async def _conditional(
    conn: asyncpg.Connection, table: str, column: str, key: str, kind: str, expected: int | None
) -> None:
    """A conditional write of ``table`` matched no row: ``Missing``, or ``StaleRevision`` if the row is there
    (read in the write's transaction; raising rolls it back)."""
    found = await conn.fetchval(f"SELECT revision FROM {table} WHERE {column} = $1", key)
    if found is None:
        raise Missing(kind, key)
    assert expected is not None and found != expected
    raise StaleRevision(kind, key)


class _Unchanged(Exception):
    """Inside ``_dir_write``: the write found nothing to do; roll back (the version bump too)."""


VERSION_RECHECK_SECONDS = 1.0
"""Even while notifications flow, the configuration version is re-read at least this often (a safety net)."""


for _name, _member in list(vars(PostgresAccountAccess).items()):
    if not _name.startswith("_") and callable(_member):
        setattr(PostgresAccountAccess, _name, _driver_errors(_member))


class PostgresStore(PostgresAccountAccess):
    """All storage contracts on one PostgreSQL schema, shared by any number of nodes and worker processes."""

    kind = "postgresql"

    def __init__(self, url: str, *, master_key: bytes) -> None:
        self.url = PostgresUrl.parse(url)
        self._master_key = master_key
        # The configuration write gate: directory writes hold it shared, catalogue writes (which may delete the
        # rows directory writes refer to, and bump the version first) exclusive, so the two never deadlock.
        self._gate = _lock_key("ssoidc-config-write", self.url.schema or "")
        self._permission_set_gate = _lock_key("ssoidc-permission-set-create", self.url.schema or "")
        self._secrets = Sealer(master_key, SECRET_PURPOSE)
        self._keys = Sealer(master_key, SIGNING_KEY_PURPOSE)
        self._pool: asyncpg.Pool | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Task[asyncpg.Pool] | None = None
        self._guard: AsyncGenerator[None, None] | None = None
        self._migrated = False
        # The configuration version, kept current by LISTEN (see _watch). None = unknown: read it.
        self._version: int | None = None
        self._version_checked = 0.0
        self._listener: asyncpg.Connection | None = None
        self._listen_retry_at = 0.0
        self.migrated_versions: list[int] = []
        """Versions this store applied when it migrated (empty if another node had applied them)."""

    # -- plumbing ---------------------------------------------------------------------------------------------
    async def _get_pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is not None and self._pool_loop is loop:
            return pool
        return await self._open_pool(loop)

    async def _open_pool(self, loop: asyncio.AbstractEventLoop) -> asyncpg.Pool:
        if self._pool_loop is not loop:
            # A pool belongs to the loop that made it; that loop is gone or elsewhere, so is its pool.
            if self._pool is not None:
                self._abandon(self._pool)
            # Its listener was closed at that loop's shutdown, unless the loop ended without one.
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    self._listener.terminate()
            self._listener, self._version = None, None
            self._pool = None
            self._opening = None
            self._pool_loop = loop
        if self._opening is None:
            self._opening = loop.create_task(self._create_pool())
        task = self._opening
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and self._opening is task:
                self._opening = None  # failed: the next call tries again
            raise

    @staticmethod
    def _abandon(pool: asyncpg.Pool) -> None:
        try:
            pool.terminate()
        except Exception:  # the old loop is closed: its sockets close when collected
            log.debug("abandoned a PostgreSQL pool of a closed event loop")

    async def _create_pool(self) -> asyncpg.Pool:
        u = self.url
        try:
            pool = await asyncpg.create_pool(
                u.dsn,
                min_size=u.min_size,
                max_size=u.max_size,
                command_timeout=u.command_timeout,
                reset=_no_reset,
                # Behind a transaction pooler consecutive statements may reach different server connections, so
                # none may rely on a statement prepared by name earlier.
                statement_cache_size=0 if u.transaction_pooler else 100,
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
            log.error("cannot connect to PostgreSQL at %s: %s", u.display, type(exc).__name__)
            raise StorageError(f"cannot connect to PostgreSQL at {u.display}") from exc
        try:
            if not self._migrated:
                async with pool.acquire() as conn:
                    self.migrated_versions = await self._migrate(conn)
                self._migrated = True
        except BaseException:
            pool.terminate()
            raise
        # Close the pool and the LISTEN connection when their loop shuts down (asyncio.run closes async generators
        # first) if nobody called close(): their connections end cleanly instead of lingering until garbage
        # collection.
        self._guard = self._close_at_loop_shutdown(pool)
        await self._guard.__anext__()
        self._pool = pool
        await self._watch()
        return pool

    async def _close_at_loop_shutdown(self, pool: asyncpg.Pool) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self._pool is pool:  # still this loop's pool (else close() or a newer loop took care of it)
                await self._close_listener()
            if not pool.is_closing():  # else close() did it
                try:
                    await asyncio.wait_for(pool.close(), 5.0)
                except Exception:
                    pool.terminate()

    async def _close_listener(self) -> None:
        """Close the LISTEN connection, if there is one (from the loop it belongs to)."""
        listener, self._listener, self._version = self._listener, None, None
        if listener is None:
            return
        listener.remove_termination_listener(self._on_listener_lost)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.close(), 2.0)
        if not listener.is_closed():
            listener.terminate()

    # -- the configuration version, pushed ------------------------------------------------------------------
    async def _watch(self) -> None:
        """LISTEN for configuration-version changes on a dedicated connection (migration 0006 NOTIFYs at commit).

        While it listens, ``config_version`` answers from memory: a change committed by any node is known here
        within the notification's delivery time (milliseconds), and the version is re-read at least every
        ``VERSION_RECHECK_SECONDS`` as a safety net. While it cannot listen, every call reads the version (and a
        new listener is tried at most every 5 s). Revocations and tokens are never cached: this is only the
        version of the configuration snapshot.
        """
        if self.url.transaction_pooler:
            return  # a LISTEN through a transaction pooler would be left on some other client's connection
        self._listen_retry_at = time.monotonic() + 5.0
        try:
            conn = await asyncpg.connect(self.url.dsn, timeout=5)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning(
                "cannot LISTEN for configuration changes (%s); reading the version per request",
                type(exc).__name__,
            )
            return
        try:
            schema = await conn.fetchval("SELECT current_schema()")
            channel = "ssoidc_cfg_" + hashlib.md5(str(schema).encode(), usedforsecurity=False).hexdigest()
            await conn.add_listener(channel, self._on_version)
            conn.add_termination_listener(self._on_listener_lost)
        except BaseException:
            conn.terminate()
            raise
        self._listener = conn
        self._version = None  # read once now that notifications flow, so none can be missed in between

    def _on_version(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            version = int(payload)
        except ValueError:
            return
        if self._version is not None:
            self._version = max(self._version, version)

    def _on_listener_lost(self, conn: Any) -> None:
        log.warning("the PostgreSQL LISTEN connection closed; reading the configuration version per request")
        self._listener = None
        self._version = None

    def _note_version(self, version: int) -> None:
        self._version = version if self._version is None else max(self._version, version)
        self._version_checked = time.monotonic()

    async def _migrate(self, conn: asyncpg.Connection) -> list[int]:
        """Create the schema if missing, apply pending migrations and check the master key, in one transaction.

        The transaction holds an advisory lock keyed on the schema, so nodes starting together take turns: the
        first applies, the others find every version recorded.
        """
        schema = self.url.schema or ""
        applied: list[int] = []
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key("ssoidc-migrate", schema))
            if schema:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(schema)}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at double precision NOT NULL)"
            )
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations("postgres"):
                if version in done:
                    continue
                await conn.execute(sql)  # simple-query protocol: the whole file, in this transaction
                if version == DIRECTORY_MIGRATION:
                    await _move_directory(conn)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    version,
                    name,
                    time.time(),
                )
                applied.append(version)
            expected = master_key_check(self._master_key)
            stored = await conn.fetchval("SELECT value FROM meta WHERE key = $1", MASTER_KEY_CHECK_META)
            if stored is None:
                await conn.execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)", MASTER_KEY_CHECK_META, expected
                )
            elif not same_check(stored, expected):
                raise ConfigError(MASTER_KEY_MISMATCH)
        if applied:
            log.info("PostgreSQL schema at %s migrated to version %d", self.url.display, applied[-1])
        return applied

    @_driver_errors
    async def migrate(self) -> list[int]:
        """Connect (and so migrate) now rather than on first use; returns the versions this store applied."""
        await self._get_pool()
        return self.migrated_versions

    @_driver_errors
    async def ping(self) -> None:
        pool = await self._get_pool()
        await pool.fetchval("SELECT value FROM meta WHERE key = 'config_version'")

    @_driver_errors
    async def schema_version(self) -> int:
        pool = await self._get_pool()
        return int(await pool.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    def start_background(self) -> None:
        """Nothing: the pool opens on first use, the LISTEN connection with it."""

    async def close(self) -> None:
        await self._close_listener()
        pool, self._pool, self._opening, self._guard = self._pool, None, None, None
        loop, self._pool_loop = self._pool_loop, None
        if pool is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            self._abandon(pool)
            return
        try:
            await asyncio.wait_for(pool.close(), 5.0)
        except (TimeoutError, asyncpg.InterfaceError, OSError):
            pool.terminate()

    # -- meta and configuration -------------------------------------------------------------------------------
    @_driver_errors
    async def get_meta(self, key: str) -> str | None:
        pool = await self._get_pool()
        value = await pool.fetchval("SELECT value FROM meta WHERE key = $1", key)
        return None if value is None else str(value)

    @_driver_errors
    async def put_meta_if_absent(self, key: str, value: str) -> str:
        pool = await self._get_pool()
        won = await pool.fetchval(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING value", key, value
        )
        if won is not None:
            return str(won)
        # A conflict is reported only once the other insert committed, so this new snapshot sees its value.
        return str(await pool.fetchval("SELECT value FROM meta WHERE key = $1", key))

    @_driver_errors
    async def config_version(self) -> int:
        pool = await self._get_pool()
        now = time.monotonic()
        if (
            (self._listener is not None or self.url.transaction_pooler)
            and self._version is not None
            and now - self._version_checked < VERSION_RECHECK_SECONDS
        ):
            return self._version
        if self._listener is None and not self.url.transaction_pooler and now >= self._listen_retry_at:
            await self._watch()
        value = await pool.fetchval("SELECT value FROM meta WHERE key = 'config_version'")
        self._note_version(0 if value is None else int(value))
        assert self._version is not None
        return self._version

    @_driver_errors
    async def load_configuration(self) -> tuple[Configuration | None, int]:
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            value = await conn.fetchval("SELECT value FROM meta WHERE key = 'config_version'")
            rows = await conn.fetch("SELECT kind, doc FROM config_resources ORDER BY seq")
            users = [user_of(r[0]) for r in await conn.fetch("SELECT doc FROM dir_users ORDER BY seq")]
            members: dict[str, list[str]] = {}
            for r in await conn.fetch("SELECT group_id, user_id FROM dir_memberships ORDER BY seq"):
                members.setdefault(r[0], []).append(r[1])
            groups = [
                group_of(r[1], members.get(r[0], ()))
                for r in await conn.fetch("SELECT group_id, doc FROM dir_groups ORDER BY seq")
            ]
            assignments = [
                Assignment(r[0], r[1], r[2])
                for r in await conn.fetch(
                    "SELECT application_arn, principal_type, principal_id FROM app_assignments ORDER BY seq"
                )
            ]
            permission_sets = [
                aq.permission_set_of(r[0])
                for r in await conn.fetch("SELECT doc FROM permission_sets ORDER BY seq")
            ]
            account_assignments = [
                aq.assignment_of(r)
                for r in await conn.fetch(
                    f"SELECT {aq.ASSIGNMENT_COLS} FROM account_assignments ORDER BY seq"
                )
            ]
        config = config_from_rows(
            ((r[0], r[1]) for r in rows), users, groups, assignments, permission_sets, account_assignments
        )
        return config, 0 if value is None else int(value)

    @_driver_errors
    async def load_catalogue(self) -> tuple[Configuration | None, int]:
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            value = await conn.fetchval("SELECT value FROM meta WHERE key = 'catalogue_version'")
            rows = await conn.fetch("SELECT kind, doc FROM config_resources ORDER BY seq")
        return config_from_rows((r[0], r[1]) for r in rows), 0 if value is None else int(value)

    async def _bump(self, conn: asyncpg.Connection, *changes: tuple[str, str]) -> int:
        """Bump the version (its row lock orders concurrent writers: call it first) and record the changes."""
        version = int(await conn.fetchval(_SQL_BUMP_VERSION))
        await conn.execute(
            "INSERT INTO config_changes (version, n, kind, key)"
            " SELECT $1, o, k, x FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS c(k, x, o)",
            version,
            [k for k, _ in changes],
            [x for _, x in changes],
        )
        return version

    async def _begin_config_write(
        self,
        conn: asyncpg.Connection,
        version: int,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None,
        revoke_subjects: Sequence[str],
        now: float,
        versioned: str,
    ) -> None:
        """After the version bump (``version``: its row lock orders concurrent writers), check ``versioned``
        against ``expected_version`` and record the idempotency key and revocations."""
        if expected_version is not None:
            if versioned == "config_version":  # bumped just now, under this transaction's lock
                stored = version - 1
            else:
                stored = await conn.fetchval("SELECT value::bigint FROM meta WHERE key = $1", versioned) or 0
            if stored != expected_version:
                self._version = None  # another process wrote: the next config_version() reads the database
                raise VersionConflict(f"configuration version is no longer {expected_version}")
        if idempotency is not None:
            won = await conn.fetchval(
                "INSERT INTO idempotency (key, request_sha256, response, created_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                idempotency.key,
                idempotency.request_sha256,
                idempotency.response,
                idempotency.created_at,
            )
            if won is None:
                raise VersionConflict("idempotency key already used")
        subjects = sorted(set(revoke_subjects))
        if subjects:
            await conn.execute(_REVOKE_SUBJECTS, subjects, now)
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ('catalogue_version', $1) ON CONFLICT (key) DO UPDATE"
            " SET value = excluded.value",
            str(version),
        )

    async def _write_catalogue(self, conn: asyncpg.Connection, config: Configuration) -> None:
        """Make the catalogue rows those of ``config``: rows that are gone are deleted (an application's
        assignments with it), the others upserted in place, so unchanged rows and their references stay."""
        rows = config_rows(config)
        await conn.execute(
            "DELETE FROM config_resources c WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS"
            " n(kind, id) WHERE n.kind = c.kind AND n.id = c.id)",
            [r[0] for r in rows],
            [r[1] for r in rows],
        )
        await conn.execute(
            "INSERT INTO config_resources (kind, id, seq, doc)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[])"
            " ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq, doc = excluded.doc"
            " WHERE config_resources.seq IS DISTINCT FROM excluded.seq"
            " OR config_resources.doc IS DISTINCT FROM excluded.doc",
            [r[0] for r in rows],
            [r[1] for r in rows],
            list(range(len(rows))),
            [r[2] for r in rows],
        )

    @_driver_errors
    async def edit_catalogue(
        self, change: Callable[[Configuration | None], CatalogueWrite], *, now: float = 0.0
    ) -> int:
        """The version row's lock first (every configuration writer queues on it), then read, change, write."""
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self._gate)
            version = await self._bump(conn, ("catalogue", ""))
            rows = await conn.fetch("SELECT kind, doc FROM config_resources ORDER BY seq")
            stored = config_from_rows((r[0], r[1]) for r in rows)
            w = change(stored)
            await self._begin_config_write(
                conn, version, None, w.idempotency, w.revoke_subjects, now, "catalogue_version"
            )
            await self._write_catalogue(conn, w.config)
            if clears_directory(stored, w.config):
                await conn.execute(
                    "INSERT INTO config_changes (version, n, kind, key) VALUES ($1, 2, 'directory', '')",
                    version,
                )
                await _clear_directory(conn, now)
        self._note_version(version)  # read-your-writes in this process, before the NOTIFY comes back
        return version

    @_driver_errors
    async def replace_configuration(
        self,
        config: Configuration,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyRecord | None = None,
        revoke_subjects: Sequence[str] = (),
        now: float = 0.0,
    ) -> int:
        """One transaction: bump the version first (its row lock orders concurrent writers), then the rest."""
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self._gate)
            version = await self._bump(conn, ("catalogue", ""), ("directory", ""))
            await self._begin_config_write(
                conn,
                version,
                expected_version,
                idempotency,
                revoke_subjects,
                now,
                "config_version",
            )
            await _delete_directory(conn)
            await self._write_catalogue(conn, config)
            await _insert_directory(conn, config.users, config.groups, config.assignments)
            await insert_access(conn, config.permission_sets, config.account_assignments)
            # every row a new revision (migration 0014): a rewritten row never repeats one it had
            await conn.execute("UPDATE dir_users SET revision = nextval('dir_revision')")
            await conn.execute("UPDATE dir_groups SET revision = nextval('dir_revision')")
        self._note_version(version)  # read-your-writes in this process, before the NOTIFY comes back
        return version

    # -- the directory ----------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _dir_write(self, *changes: tuple[str, str]) -> AsyncGenerator[asyncpg.Connection, None]:
        """A directory write transaction; a unique violation is ``AlreadyExists``.

        Its change-feed rows go in first with version 0; the configuration version is taken at COMMIT by the
        deferred trigger of migration 0009, so concurrent directory writes hold the version row's lock only for
        their commit, not for their round trips. The version is read back after the commit (it is at least this
        write's: versions follow commit order) so this process reads its own write."""
        assert changes, "a directory write records what it changes (and takes the write gate with it)"
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.execute(
                        _SQL_PENDING_CHANGES, [k for k, _ in changes], [x for _, x in changes], self._gate
                    )
                    yield conn
                version = await conn.fetchval("SELECT value::bigint FROM meta WHERE key = 'config_version'")
        except asyncpg.UniqueViolationError as exc:
            which = _UNIQUE.get(exc.constraint_name or "")
            if which is None:
                raise
            raise AlreadyExists(which) from None
        self._note_version(int(version))

    @_driver_errors
    async def get_user(self, user_id: str) -> User | None:
        if "\x00" in user_id:  # text cannot hold NUL: no stored value has one
            return None
        pool = await self._get_pool()
        row = await pool.fetchrow("SELECT doc, revision FROM dir_users WHERE user_id = $1", user_id)
        return None if row is None else user_at(row[0], row[1])

    @_driver_errors
    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]:
        if "\x00" in attribute + value:  # text cannot hold NUL: no stored value has one
            return []
        pool = await self._get_pool()
        if attribute == "username":
            rows = await pool.fetch(
                "SELECT doc, revision FROM dir_users WHERE user_name_key = $1 LIMIT $2",
                user_name_key(value),
                limit,
            )
        else:
            rows = await pool.fetch(
                "SELECT u.doc, u.revision FROM dir_user_attributes a JOIN dir_users u ON u.user_id = a.user_id"
                " WHERE a.attribute = $1 AND a.value = $2 ORDER BY a.user_id LIMIT $3",
                attribute,
                value,
                limit,
            )
        return [user_at(r[0], r[1]) for r in rows]

    @_driver_errors
    async def list_users(self, *, after: str = "", limit: int = 100) -> list[User]:
        pool = await self._get_pool()
        rows = await pool.fetch(
            "SELECT doc, revision FROM dir_users WHERE user_id > $1 ORDER BY user_id LIMIT $2", after, limit
        )
        return [user_at(r[0], r[1]) for r in rows]

    async def _set_user_attributes(self, conn: asyncpg.Connection, user: User) -> None:
        attrs = user_attributes(user)
        await conn.execute(
            "INSERT INTO dir_user_attributes (attribute, value, user_id)"
            " SELECT a, v, $3 FROM unnest($1::text[], $2::text[]) AS x(a, v)",
            [a for a, _ in attrs],
            [v for _, v in attrs],
            user.user_id,
        )

    @_driver_errors
    async def create_user(self, user: User) -> int:
        async with self._dir_write(("user", user.user_id)) as conn:
            revision: int = await conn.fetchval(
                "INSERT INTO dir_users (user_id, user_name_key, seq, doc, revision)"
                " VALUES ($1, $2, nextval('dir_seq'), $3, nextval('dir_revision')) RETURNING revision",
                user.user_id,
                user_name_key(user.user_name),
                user_doc(user),
            )
            await self._set_user_attributes(conn, user)
        return revision

    @_driver_errors
    async def update_user(self, user: User, *, expected_revision: int | None = None) -> int:
        async with self._dir_write(("user", user.user_id)) as conn:
            revision = await conn.fetchval(
                "UPDATE dir_users SET user_name_key = $2, doc = $3, revision = nextval('dir_revision')"
                " WHERE user_id = $1 AND ($4::bigint IS NULL OR revision = $4) RETURNING revision",
                user.user_id,
                user_name_key(user.user_name),
                user_doc(user),
                expected_revision,
            )
            if revision is None:
                await _conditional(conn, "dir_users", "user_id", user.user_id, "user", expected_revision)
            await conn.execute("DELETE FROM dir_user_attributes WHERE user_id = $1", user.user_id)
            await self._set_user_attributes(conn, user)
        return int(revision)

    @_driver_errors
    async def delete_user(self, user_id: str, *, now: float, expected_revision: int | None = None) -> bool:
        try:
            async with self._dir_write(("user", user_id)) as conn:
                # memberships, attributes and assignments go with it (ON DELETE CASCADE)
                if (
                    await conn.fetchval(
                        "DELETE FROM dir_users WHERE user_id = $1 AND ($2::bigint IS NULL OR revision = $2)"
                        " RETURNING 1",
                        user_id,
                        expected_revision,
                    )
                    is None
                ):
                    await _conditional(conn, "dir_users", "user_id", user_id, "user", expected_revision)
                await conn.execute(_REVOKE_SUBJECTS, [f"user:{user_id}"], now)
        except Missing:
            return False
        return True

    @_driver_errors
    async def get_group(self, group_id: str) -> Group | None:
        if "\x00" in group_id:  # text cannot hold NUL: no stored value has one
            return None
        pool = await self._get_pool()
        row = await pool.fetchrow("SELECT doc, revision FROM dir_groups WHERE group_id = $1", group_id)
        return None if row is None else group_at(row[0], row[1])

    @_driver_errors
    async def find_groups(self, attribute: str, value: str, *, limit: int = 2) -> list[Group]:
        if "\x00" in attribute + value:  # text cannot hold NUL: no stored value has one
            return []
        pool = await self._get_pool()
        if attribute == "displayname":
            rows = await pool.fetch(
                "SELECT doc, revision FROM dir_groups WHERE display_name = $1 LIMIT $2", value, limit
            )
        else:
            rows = await pool.fetch(
                "SELECT g.doc, g.revision FROM dir_group_attributes a JOIN dir_groups g"
                " ON g.group_id = a.group_id WHERE a.attribute = $1 AND a.value = $2 ORDER BY a.group_id LIMIT $3",
                attribute,
                value,
                limit,
            )
        return [group_at(r[0], r[1]) for r in rows]

    @_driver_errors
    async def list_groups(self, *, after: str = "", limit: int = 100) -> list[Group]:
        pool = await self._get_pool()
        rows = await pool.fetch(
            "SELECT doc, revision FROM dir_groups WHERE group_id > $1 ORDER BY group_id LIMIT $2",
            after,
            limit,
        )
        return [group_at(r[0], r[1]) for r in rows]

    async def _set_group_attributes(self, conn: asyncpg.Connection, group: Group) -> None:
        attrs = group_attributes(group)
        await conn.execute(
            "INSERT INTO dir_group_attributes (attribute, value, group_id)"
            " SELECT a, v, $3 FROM unnest($1::text[], $2::text[]) AS x(a, v)",
            [a for a, _ in attrs],
            [v for _, v in attrs],
            group.group_id,
        )

    @_driver_errors
    async def create_group(self, group: Group) -> int:
        async with self._dir_write(("group", group.group_id)) as conn:
            revision: int = await conn.fetchval(
                "INSERT INTO dir_groups (group_id, display_name, seq, doc, revision)"
                " VALUES ($1, $2, nextval('dir_seq'), $3, nextval('dir_revision')) RETURNING revision",
                group.group_id,
                group.display_name,
                group_doc(group),
            )
            await self._set_group_attributes(conn, group)
        return revision

    @_driver_errors
    async def update_group(self, group: Group, *, expected_revision: int | None = None) -> int:
        async with self._dir_write(("group", group.group_id)) as conn:
            revision = await conn.fetchval(
                "UPDATE dir_groups SET display_name = $2, doc = $3, revision = nextval('dir_revision')"
                " WHERE group_id = $1 AND ($4::bigint IS NULL OR revision = $4) RETURNING revision",
                group.group_id,
                group.display_name,
                group_doc(group),
                expected_revision,
            )
            if revision is None:
                await _conditional(conn, "dir_groups", "group_id", group.group_id, "group", expected_revision)
            await conn.execute("DELETE FROM dir_group_attributes WHERE group_id = $1", group.group_id)
            await self._set_group_attributes(conn, group)
        return int(revision)

    @_driver_errors
    async def delete_group(self, group_id: str, *, expected_revision: int | None = None) -> bool:
        try:
            async with self._dir_write(("group", group_id)) as conn:
                if (
                    await conn.fetchval(
                        "DELETE FROM dir_groups WHERE group_id = $1 AND ($2::bigint IS NULL OR revision = $2)"
                        " RETURNING 1",
                        group_id,
                        expected_revision,
                    )
                    is None
                ):
                    await _conditional(conn, "dir_groups", "group_id", group_id, "group", expected_revision)
        except Missing:
            return False
        return True

    @_driver_errors
    async def get_membership(self, membership_id: str) -> Membership | None:
        if "\x00" in membership_id:  # text cannot hold NUL: no stored value has one
            return None
        pool = await self._get_pool()
        row = await pool.fetchrow(
            "SELECT membership_id, group_id, user_id FROM dir_memberships WHERE membership_id = $1",
            membership_id,
        )
        return None if row is None else Membership(row[0], row[1], row[2])

    @_driver_errors
    async def find_membership(self, group_id: str, user_id: str) -> Membership | None:
        if "\x00" in group_id + user_id:  # text cannot hold NUL: no stored value has one
            return None
        pool = await self._get_pool()
        row = await pool.fetchrow(
            "SELECT membership_id, group_id, user_id FROM dir_memberships WHERE group_id = $1 AND user_id = $2",
            group_id,
            user_id,
        )
        return None if row is None else Membership(row[0], row[1], row[2])

    @_driver_errors
    async def list_memberships(
        self, *, group_id: str | None = None, user_id: str | None = None, after: str = "", limit: int = 100
    ) -> list[Membership]:
        pool = await self._get_pool()
        column, value = ("group_id", group_id) if group_id is not None else ("user_id", user_id)
        rows = await pool.fetch(
            f"SELECT membership_id, group_id, user_id FROM dir_memberships WHERE {column} = $1"
            " AND membership_id > $2 ORDER BY membership_id LIMIT $3",
            value,
            after,
            limit,
        )
        return [Membership(r[0], r[1], r[2]) for r in rows]

    @_driver_errors
    async def member_groups(self, user_id: str, group_ids: Sequence[str]) -> set[str]:
        pool = await self._get_pool()
        rows = await pool.fetch(
            "SELECT group_id FROM dir_memberships WHERE user_id = $1 AND group_id = ANY($2::text[])",
            user_id,
            list(group_ids),
        )
        return {r[0] for r in rows}

    @_driver_errors
    async def create_membership(self, membership: Membership) -> None:
        m = membership
        async with self._dir_write(("membership", f"{m.group_id}|{m.user_id}")) as conn:
            # FOR KEY SHARE: a concurrent delete of either end waits for this insert, then cascades to it
            if (
                await conn.fetchval("SELECT 1 FROM dir_groups WHERE group_id = $1 FOR KEY SHARE", m.group_id)
                is None
            ):
                raise Missing("group", m.group_id)
            if (
                await conn.fetchval("SELECT 1 FROM dir_users WHERE user_id = $1 FOR KEY SHARE", m.user_id)
                is None
            ):
                raise Missing("user", m.user_id)
            await conn.execute(
                "INSERT INTO dir_memberships (membership_id, group_id, user_id, seq)"
                " VALUES ($1, $2, $3, nextval('dir_seq'))",
                m.membership_id,
                m.group_id,
                m.user_id,
            )

    @_driver_errors
    async def delete_membership(self, membership_id: str) -> bool:
        pool = await self._get_pool()
        row = await pool.fetchrow(
            "SELECT group_id, user_id FROM dir_memberships WHERE membership_id = $1", membership_id
        )
        if row is None:
            return False
        try:
            async with self._dir_write(("membership", f"{row[0]}|{row[1]}")) as conn:
                gone = await conn.fetchval(
                    "DELETE FROM dir_memberships WHERE membership_id = $1 RETURNING 1", membership_id
                )
                if gone is None:  # deleted meanwhile: write nothing, the version bump neither
                    raise _Unchanged
        except _Unchanged:
            return False
        return True

    @_driver_errors
    async def is_assigned(self, application_arn: str, user_id: str) -> bool:
        pool = await self._get_pool()
        return bool(await pool.fetchval(_IS_ASSIGNED, application_arn, user_id))

    @_driver_errors
    async def has_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        pool = await self._get_pool()
        found = await pool.fetchval(
            "SELECT 1 FROM app_assignments WHERE application_arn = $1 AND principal_type = $2 AND principal_id = $3",
            a.application_arn,
            a.principal_type,
            a.principal_id,
        )
        return found is not None

    @_driver_errors
    async def list_assignments(
        self,
        *,
        application_arn: str | None = None,
        principal: tuple[str, str] | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[Assignment]:
        pool = await self._get_pool()
        if application_arn is not None:
            rows = await pool.fetch(
                "SELECT application_arn, principal_type, principal_id FROM app_assignments"
                " WHERE application_arn = $1 AND principal_type || '/' || principal_id > $2 COLLATE \"C\""
                " ORDER BY principal_type || '/' || principal_id COLLATE \"C\" LIMIT $3",
                application_arn,
                after,
                limit,
            )
        else:
            assert principal is not None
            rows = await pool.fetch(
                "SELECT application_arn, principal_type, principal_id FROM app_assignments"
                ' WHERE principal_type = $1 AND principal_id = $2 AND application_arn > $3 COLLATE "C"'
                ' ORDER BY application_arn COLLATE "C" LIMIT $4',
                principal[0],
                principal[1],
                after,
                limit,
            )
        return [Assignment(r[0], r[1], r[2]) for r in rows]

    @_driver_errors
    async def create_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        try:
            async with self._dir_write(("assignment", assignment_key(a))) as conn:
                app = await conn.fetchval(
                    "SELECT 1 FROM config_resources WHERE kind = 'application' AND id = $1 FOR KEY SHARE",
                    a.application_arn,
                )
                if app is None:
                    raise Missing("application", a.application_arn)
                table, column = (
                    ("dir_users", "user_id") if a.principal_type == "USER" else ("dir_groups", "group_id")
                )
                found = await conn.fetchval(
                    f"SELECT 1 FROM {table} WHERE {column} = $1 FOR KEY SHARE",
                    a.principal_id,
                )
                if found is None:
                    raise Missing(a.principal_type.lower(), a.principal_id)
                won = await conn.fetchval(
                    "INSERT INTO app_assignments (application_arn, principal_type, principal_id, user_id, group_id,"
                    " seq) VALUES ($1, $2, $3, $4, $5, nextval('dir_seq')) ON CONFLICT DO NOTHING RETURNING 1",
                    *_assignment_params(a),
                )
                if won is None:
                    raise _Unchanged
        except _Unchanged:
            return False
        return True

    @_driver_errors
    async def delete_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        try:
            async with self._dir_write(("assignment", assignment_key(a))) as conn:
                gone = await conn.fetchval(
                    "DELETE FROM app_assignments WHERE application_arn = $1 AND principal_type = $2"
                    " AND principal_id = $3 RETURNING 1",
                    a.application_arn,
                    a.principal_type,
                    a.principal_id,
                )
                if gone is None:
                    raise _Unchanged
        except _Unchanged:
            return False
        return True

    @_driver_errors
    async def changes_since(self, version: int, *, limit: int = 1000) -> list[Change] | None:
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            current = await conn.fetchval("SELECT value::bigint FROM meta WHERE key = 'config_version'")
            if (current or 0) <= version:
                return []
            oldest = await conn.fetchval("SELECT min(version) FROM config_changes")
            if oldest is None or oldest > version + 1:
                return None
            rows = await conn.fetch(
                "SELECT version, kind, key FROM config_changes WHERE version > $1 ORDER BY version, n LIMIT $2",
                version,
                limit + 1,
            )
        return None if len(rows) > limit else [Change(int(r[0]), r[1], r[2]) for r in rows]

    @_driver_errors
    async def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(
            "SELECT key, request_sha256, response, created_at FROM idempotency WHERE key = $1", key
        )
        return idempotency_record(row)

    # -- credentials ------------------------------------------------------------------------------------------
    @_driver_errors
    async def load_credentials(self) -> list[StoredCredential]:
        pool = await self._get_pool()
        return [credential(row, self._secrets) for row in await pool.fetch(LOAD_CREDENTIALS_SQL)]

    @_driver_errors
    async def create_credential(self, cred: StoredCredential) -> None:
        params = credential_params(cred, self._secrets)
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            won = await conn.fetchval(_SQL_INSERT_CREDENTIAL, *params)
            if won is None:
                raise AlreadyExists(cred.access_key_id)
            version = await self._bump(conn, ("credential", cred.access_key_id))
        self._note_version(int(version))  # read-your-writes in this process, before the NOTIFY comes back

    @_driver_errors
    async def delete_credential(self, access_key_id: str) -> bool:
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            gone = await conn.fetchval(
                "DELETE FROM credentials WHERE access_key_id = $1 RETURNING 1", access_key_id
            )
            version = await self._bump(conn, ("credential", access_key_id)) if gone is not None else None
        if version is not None:
            self._note_version(int(version))
        return gone is not None

    # -- signing keys -----------------------------------------------------------------------------------------
    @_driver_errors
    async def signing_keys(self, purpose: str) -> list[SigningKey]:
        pool = await self._get_pool()
        return [signing_key(row, self._keys) for row in await pool.fetch(_SQL_SIGNING_KEYS, purpose)]

    @_driver_errors
    async def ensure_signing_key(
        self, purpose: str, alg: str, make: Callable[[], tuple[str, bytes]]
    ) -> SigningKey:
        """Return the active key for ``purpose``/``alg``, creating it exactly once across nodes.

        Creation runs under a transaction-scoped advisory lock for (schema, purpose, alg): the first node in
        creates the key; the others wait, then (a new READ COMMITTED snapshot) find it.
        """
        select = (
            "SELECT kid FROM signing_keys WHERE purpose = $1 AND alg = $2 AND active ORDER BY created_at DESC"
            " LIMIT 1"
        )
        pool = await self._get_pool()
        if await pool.fetchval(select, purpose, alg) is None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    _lock_key("ssoidc-signing-key", self.url.schema or "", purpose, alg),
                )
                if await conn.fetchval(select, purpose, alg) is None:
                    kid, pem = make()
                    await conn.execute(
                        "INSERT INTO signing_keys (kid, purpose, alg, private_enc, created_at, active)"
                        " VALUES ($1, $2, $3, $4, $5, true)",
                        kid,
                        purpose,
                        alg,
                        self._keys.seal(pem, kid.encode()),
                        time.time(),
                    )
        keys = [k for k in await self.signing_keys(purpose) if k.alg == alg and k.active]
        return keys[0]

    # -- tokens -----------------------------------------------------------------------------------------------
    @_driver_errors
    async def issue(
        self,
        tokens: Sequence[TokenRecord],
        *,
        jti: tuple[str, str, float] | None = None,
        family_cap: int = 0,
    ) -> None:
        """One statement: the jti insert (ON CONFLICT DO NOTHING) gates the token insert in the same CTE, and
        the refresh-family cap's writes (``_family_cap``) when the tokens start a family."""
        arrays = _token_arrays(tokens)
        cap = _cap_params(tokens, family_cap)
        pool = await self._get_pool()
        if jti is None:
            if cap:
                await pool.execute(_SQL_ISSUE_CAP, *arrays, *cap)
            elif tokens:
                await pool.execute(_SQL_ISSUE, *arrays)
            return
        if cap:
            issued = await pool.fetchval(_SQL_ISSUE_JTI_CAP, *arrays, *jti, *cap)
        else:
            issued = await pool.fetchval(_SQL_ISSUE_JTI, *arrays, *jti)
        if not issued:
            raise JtiReplay(jti[0])

    @_driver_errors
    async def find_token(self, token_hash: bytes) -> TokenRecord | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(_SQL_FIND_TOKEN, token_hash)
        return None if row is None else token_record(row)

    @_driver_errors
    async def revoke_family(self, family_id: str, now: float, expires_at: float) -> int:
        """Revoke every token of ``family_id`` (they all end with their session, at ``expires_at``)."""
        pool = await self._get_pool()
        status = await pool.execute(_SQL_REVOKE_FAMILY, family_id, now, expires_at)
        return int(status.rsplit(" ", 1)[-1])

    @_driver_errors
    async def revoke_token(self, token_hash: bytes, now: float) -> bool:
        pool = await self._get_pool()
        status = await pool.execute(_SQL_REVOKE_TOKEN, now, token_hash)
        return int(status.rsplit(" ", 1)[-1]) == 1

    @_driver_errors
    async def rotate_refresh(
        self,
        old_hash: bytes,
        application_arn: str,
        now: float,
        grace_seconds: float,
        tokens: Sequence[TokenRecord],
    ) -> Redemption:
        """The winner's retire and insert are one statement; a loser reads the row again in a new snapshot."""
        pool = await self._get_pool()
        if await pool.fetchval(_SQL_ROTATE, *_token_arrays(tokens), now, old_hash, application_arn):
            return Redemption.OK
        old = LostRotation.of(await pool.fetchrow(_SQL_ROTATE_LOSER, old_hash, application_arn))
        outcome, revoke = lost_rotation(old, now, grace_seconds)
        if revoke is not None:
            await pool.execute(_SQL_REVOKE_FAMILY, revoke.family_id, now, revoke.expires_at)
        return outcome

    # -- authorization codes ----------------------------------------------------------------------------------
    @_driver_errors
    async def create_code(self, code: CodeRecord) -> None:
        pool = await self._get_pool()
        await pool.execute(_SQL_INSERT_CODE, *code_params(code))

    @_driver_errors
    async def find_code(self, code_hash: bytes) -> CodeRecord | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(_SQL_FIND_CODE, code_hash)
        return None if row is None else code_record(row)

    @_driver_errors
    async def redeem_code(
        self,
        code_hash: bytes,
        application_arn: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> Redemption:
        pool = await self._get_pool()
        cap = _cap_params(tokens, family_cap)
        args = (*_token_arrays(tokens), now, code_hash, application_arn)
        if (
            await pool.fetchval(_SQL_REDEEM_CAP, *args, *cap)
            if cap
            else await pool.fetchval(_SQL_REDEEM, *args)
        ):
            return Redemption.OK
        lost = LostRedemption.of(await pool.fetchrow(_SQL_REDEEM_LOSER, code_hash, application_arn))
        outcome, revoke = lost_redemption(lost)
        if revoke is not None:  # RFC 6749 4.1.2: a second redemption revokes what the code issued
            await pool.execute(_SQL_REVOKE_FAMILY, revoke.family_id, now, revoke.expires_at)
        return outcome

    # -- public clients and device authorizations (RFC 8628) --------------------------------------------------
    @_driver_errors
    async def create_client(self, client: ClientRecord) -> None:
        pool = await self._get_pool()
        if not await pool.fetchval(_SQL_INSERT_CLIENT, *ps.client_params(client)):
            raise AlreadyExists("client_id")

    @_driver_errors
    async def create_session_credential(self, cred: SessionCredentialRecord) -> None:
        params = ss.session_params(cred, self._secrets)
        pool = await self._get_pool()
        if not await pool.fetchval(_SQL_INSERT_SESSION, *params):
            raise AlreadyExists(cred.access_key_id)

    @_driver_errors
    async def get_session_credential(self, access_key_id: str) -> SessionCredentialRecord | None:
        if "\x00" in access_key_id:  # text cannot hold NUL: no stored id has one
            return None
        pool = await self._get_pool()
        row = await pool.fetchrow(_SQL_GET_SESSION, access_key_id)
        return None if row is None else ss.session_record(row, self._secrets)

    @_driver_errors
    async def get_client(self, client_id: str) -> ClientRecord | None:
        if "\x00" in client_id:  # text cannot hold NUL: no stored id has one
            return None
        pool = await self._get_pool()
        row = await pool.fetchrow(_SQL_GET_CLIENT, client_id)
        return None if row is None else ps.client_record(row)

    @_driver_errors
    async def create_device(self, device: DeviceRecord) -> None:
        pool = await self._get_pool()
        if not await pool.fetchval(_SQL_INSERT_DEVICE, *ps.device_params(device)):
            raise AlreadyExists("device")

    @_driver_errors
    async def find_device_by_user_code(self, user_code_hash: bytes, now: float) -> DeviceRecord | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(_SQL_FIND_DEVICE, user_code_hash, float(now))
        return None if row is None else ps.device_record(row)

    @_driver_errors
    async def decide_device(
        self, user_code_hash: bytes, now: float, *, approve: bool, user_id: str, auth_time: float
    ) -> DeviceRecord | None:
        pool = await self._get_pool()
        status = DEVICE_APPROVED if approve else DEVICE_DENIED
        row = await pool.fetchrow(
            _SQL_DECIDE_DEVICE, status, user_id, float(auth_time), float(now), user_code_hash, float(now)
        )
        return None if row is None else ps.device_record(row)

    @_driver_errors
    async def poll_device(
        self, device_hash: bytes, client_id: str, now: float, *, leeway: float, max_interval: float
    ) -> DevicePoll | None:
        pool = await self._get_pool()
        params = ps.poll_params(device_hash, client_id, float(now), float(leeway), float(max_interval))
        row = await pool.fetchrow(_SQL_POLL_DEVICE, *params)
        return None if row is None else ps.device_poll(row)

    @_driver_errors
    async def redeem_device(
        self,
        device_hash: bytes,
        client_id: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> bool:
        """The conditional UPDATE, then the token insert (with the family cap's writes) in the same
        transaction: the row lock the UPDATE takes makes every concurrent redemption wait and then find the
        code consumed."""
        arrays = _token_arrays(tokens)
        cap = _cap_params(tokens, family_cap)
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            status = await conn.execute(_SQL_REDEEM_DEVICE, device_hash, client_id, float(now))
            if status != "UPDATE 1":
                return False
            if cap:
                await conn.execute(_SQL_ISSUE_CAP, *arrays, *cap)
            elif tokens:
                await conn.execute(_SQL_ISSUE, *arrays)
            return True

    # -- sign-in ----------------------------------------------------------------------------------------------
    @_driver_errors
    async def set_password_hash(self, user_id: str, password_hash: str, now: float) -> None:
        pool = await self._get_pool()
        await pool.execute(
            "INSERT INTO user_passwords (user_id, password_hash, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash,"
            " updated_at = excluded.updated_at",
            user_id,
            password_hash,
            now,
        )

    @_driver_errors
    async def get_password_hash(self, user_id: str) -> str | None:
        pool = await self._get_pool()
        value = await pool.fetchval("SELECT password_hash FROM user_passwords WHERE user_id = $1", user_id)
        return None if value is None else str(value)

    @_driver_errors
    async def create_web_session(self, sid_hash: bytes, session: WebSession) -> None:
        pool = await self._get_pool()
        await pool.execute(
            "INSERT INTO web_sessions (sid_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)",
            sid_hash,
            session.user_id,
            session.auth_time,
            session.expires_at,
        )

    @_driver_errors
    async def get_web_session(self, sid_hash: bytes, now: float) -> WebSession | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(
            "SELECT user_id, auth_time, expires_at FROM web_sessions WHERE sid_hash = $1 AND expires_at > $2",
            sid_hash,
            now,
        )
        return web_session(row)

    @_driver_errors
    async def delete_web_session(self, sid_hash: bytes) -> None:
        pool = await self._get_pool()
        await pool.execute("DELETE FROM web_sessions WHERE sid_hash = $1", sid_hash)

    @_driver_errors
    async def locked_until(self, key: str, now: float) -> float | None:
        pool = await self._get_pool()
        value = await pool.fetchval("SELECT locked_until FROM login_attempts WHERE attempt_key = $1", key)
        if value is None or float(value) <= now:
            return None
        return float(value)

    @_driver_errors
    async def record_failure(
        self, key: str, now: float, *, window: float, threshold: int, lock_seconds: float
    ) -> float | None:
        """One upsert: concurrent failures for one key each count (the row lock orders them)."""
        pool = await self._get_pool()
        value = await pool.fetchval(_SQL_RECORD_FAILURE, key, now, threshold, lock_seconds, window)
        return None if value is None else float(value)

    @_driver_errors
    async def clear_failures(self, key: str) -> None:
        pool = await self._get_pool()
        await pool.execute("DELETE FROM login_attempts WHERE attempt_key = $1", key)

    @_driver_errors
    async def purge_expired(self, now: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` expired rows of each kind, in one short transaction.

        One purger at a time per schema: the transaction first takes a transaction-scoped advisory lock
        (``pg_try_advisory_xact_lock``) and returns 0 at once if another process (a worker of this or another node)
        holds it. The lock ends with the transaction, also behind a transaction-pooling proxy and if the process
        dies.
        """
        pool = await self._get_pool()
        key = _lock_key("ssoidc-purge", self.url.schema or "")
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", key):
                return 0
            n = 0
            for (sql, age), (shared, _) in zip(_SQL_PURGE_ALL, _PURGE_ALL, strict=True):
                status = await conn.execute(sql, *purge_params(shared, now - age, limit))
                n += int(status.rsplit(" ", 1)[-1])
            status = await conn.execute(
                "DELETE FROM config_changes WHERE (version, n) IN (SELECT version, n FROM config_changes"
                " WHERE version <= (SELECT value::bigint FROM meta WHERE key = 'config_version') - $1 LIMIT $2)",
                CHANGE_RETENTION,
                limit,
            )
            return n + int(status.rsplit(" ", 1)[-1])
