"""SQLite implementation of the storage contracts (``ssoidc.storage.base``).

* WAL journal, ``synchronous`` NORMAL (default: durable across process crashes) or FULL (fsync per group commit),
  ``busy_timeout`` so several worker processes can share one file.
* One connection per process, used from the event loop thread. Every transaction runs start to finish without an
  ``await`` inside it, so transactions of one process never interleave. Writers of different processes queue on
  an ``flock`` (woken by the kernel at release, unlike SQLite's sleeping busy handler), then ``BEGIN IMMEDIATE``.
* In a server, WAL checkpoints run in a background thread (``start_background``), keeping their fsyncs off the
  request path.
* Versioned migrations: ``migrations/sqlite/NNNN_name.sql`` applied in order under ``BEGIN IMMEDIATE``; the
  applied versions are recorded in ``schema_migrations``, so several processes starting at once apply each exactly
  once. At first start a master-key check value is stored in ``meta``; a store opened with another key is refused.
* Revoked subjects (``revoked_subjects``, a small table keyed by ``user:<id>`` / ``application:<arn>``) are
  consulted by primary-key lookups in the same statement that reads or redeems a token or code.
* Driver errors surface as ``StorageError`` with a fixed message, from every public method (one class decorator,
  ``_driver_errors``); the log names the operation, the error class and SQLite's error code, never SQL text or
  values. A database that cannot be opened (not a database, unreadable, corrupt) is a ``StorageError`` naming
  its path and SQLite's error name.
* Statements are hand-written SQL on the stdlib driver, one C call each on the hot path (an ORM or SQLAlchemy
  Core was not measured against it). Only this package knows SQL.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import inspect
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ssoidc.crypto import Sealer
from ssoidc.datadir import create_private
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
    FAMILY_RING_INSERT_SQL,
    FAMILY_RING_SQL,
    FAMILY_RING_UPDATE_SQL,
    FIND_CODE_SQL,
    FIND_TOKEN_SQL,
    INSERT_CODE_SQL,
    INSERT_CREDENTIAL_SQL,
    LOAD_CREDENTIALS_SQL,
    MASTER_KEY_CHECK_META,
    MASTER_KEY_MISMATCH,
    PURGE_SQL,
    REDEEM_LOSER_SQL,
    REDEEMABLE_CODE,
    REVOKE_FAMILY_SQL,
    RING_PURGE_SQL,
    RING_SWEEP_SQL,
    ROTATE_LOSER_SQL,
    SECRET_PURPOSE,
    SIGNING_KEY_PURPOSE,
    SIGNING_KEYS_SQL,
    SPENDABLE_REFRESH,
    TOKEN_COLS,
    Attempts,
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
    next_failure,
    purge_params,
    ring_push,
    same_check,
    signing_key,
    started_family,
    statements,
    token_params,
    token_record,
    user_attributes,
    user_doc,
    user_name_key,
    user_of,
    web_session,
)
from ssoidc.storage.revisions import REVISION_META, group_at, user_at
from ssoidc.storage.sqlite_access import SqliteAccountAccess, delete_access, insert_access
from ssoidc.storage.token_sql import REVOKE_TOKEN_SQL

log = logging.getLogger("ssoidc.storage")
T = TypeVar("T")

_CHECKPOINT_INTERVAL = 1.0
"""Seconds between the background WAL checkpoints of a serving process (``start_background``)."""
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024
"""A WAL file larger than this is truncated by the next background checkpoint (``checkpoint``)."""
_TRUNCATE_WAIT_MS = 10


def checkpoint(conn: sqlite3.Connection, wal: Path, limit: int = WAL_TRUNCATE_BYTES) -> str:
    """One background checkpoint on ``conn`` (its own connection); the mode it ran.

    PASSIVE (never blocks anyone) while the WAL file is at most ``limit`` bytes. Under continuous writes a
    PASSIVE checkpoint never catches up with the last frame, so SQLite never restarts the WAL from its beginning
    and the file grows without bound (measured: 0.9 GB at 30,000 users provisioned in one go). Past ``limit``,
    a PASSIVE pass first (it copies back nearly every frame without blocking anyone), then TRUNCATE: it waits at
    most ``_TRUNCATE_WAIT_MS`` for readers of older frames to finish (writers wait that long at most), copies the
    few frames written meanwhile and truncates the file to zero; if it cannot get there in time it gives up and is
    tried again at the next interval. (TRUNCATE alone held the write lock while it copied tens of MB: -17% tokens/s
    and twice the p99 under load, docs/benchmarks.md.)
    """
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        size = 0
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    if size <= limit:
        return "PASSIVE"
    # the PASSIVE pass just copied back nearly every frame without blocking anyone, so the TRUNCATE below holds
    # the write lock only for the frames written since, and for its short wait for readers
    conn.execute(f"PRAGMA busy_timeout={_TRUNCATE_WAIT_MS}")
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return "TRUNCATE" if not busy else "TRUNCATE (busy)"


_SQL_INSERT_TOKENS = f"INSERT INTO tokens ({TOKEN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"


def _migrations() -> list[tuple[int, str, str]]:
    return migrations("sqlite")


_REVOKE_SUBJECT = (
    "INSERT INTO revoked_subjects (subject, revoked_at) VALUES (?, ?) ON CONFLICT(subject)"
    " DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = NULL"
)
_IS_ASSIGNED = (
    "SELECT 1 FROM app_assignments WHERE application_arn = ? AND principal_type = 'USER' AND principal_id = ?"
    " UNION ALL SELECT 1 FROM dir_memberships m JOIN app_assignments a ON a.application_arn = ?"
    " AND a.principal_type = 'GROUP' AND a.principal_id = m.group_id WHERE m.user_id = ? LIMIT 1"
)
DIRECTORY_MIGRATION = 8
"""The migration that moves users, groups and assignments out of ``config_resources`` (``_move_directory``)."""
FAMILY_RING_MIGRATION = 16
"""The migration that keeps the refresh-family ring in ``family_starts`` (``_move_family_slots``)."""


def _move_family_slots(db: sqlite3.Connection) -> None:
    """Migration 0016's Python step: each (user, application)'s ring from its live ``family_slots`` rows, in the
    order their sessions end (the slots do not record the order they were taken in; sessions of one application
    last alike, so this is the order they started in), then drop migration 0011's ``family_slots`` and
    ``family_starts``."""
    now = time.time()
    rings: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for user, app, family_id, expires_at in db.execute(
        "SELECT user_id, application_arn, family_id, expires_at FROM family_slots WHERE expires_at > ?"
        " ORDER BY user_id, application_arn, expires_at, slot",
        (now,),
    ):
        rings.setdefault((str(user), str(app)), []).append((str(family_id), float(expires_at)))
    for (user, app), families in rings.items():
        ring, n = b"", 0
        for family_id, expires_at in families:
            ring, n, _ = ring_push(ring, n, family_id, expires_at, len(families), now)
        db.execute(FAMILY_RING_INSERT_SQL, (user, app, ring, n, max(e for _, e in families)))
    db.execute("DROP TABLE family_slots")
    db.execute("DROP TABLE family_starts")


def _move_directory(db: sqlite3.Connection) -> None:
    """Migration 8's data step: the directory documents of ``config_resources`` into the directory tables."""
    rows = db.execute(
        "SELECT kind, doc FROM config_resources WHERE kind IN ('user', 'group', 'assignment') ORDER BY rowid"
    ).fetchall()
    _insert_directory(db, *legacy_directory(rows))
    db.execute("DELETE FROM config_resources WHERE kind IN ('user', 'group', 'assignment')")


def _insert_directory(
    db: sqlite3.Connection, users: Sequence[User], groups: Sequence[Group], assignments: Sequence[Assignment]
) -> None:
    """Insert users, groups with their memberships, and assignments (into empty tables), in order."""
    db.executemany(
        "INSERT INTO dir_users (user_id, user_name_key, seq, doc) VALUES (?, ?, ?, ?)",
        [(u.user_id, user_name_key(u.user_name), i, user_doc(u)) for i, u in enumerate(users)],
    )
    db.executemany(
        "INSERT INTO dir_user_attributes (attribute, value, user_id) VALUES (?, ?, ?)",
        [(a, v, u.user_id) for u in users for a, v in user_attributes(u)],
    )
    db.executemany(
        "INSERT INTO dir_groups (group_id, display_name, seq, doc) VALUES (?, ?, ?, ?)",
        [(g.group_id, g.display_name, i, group_doc(g)) for i, g in enumerate(groups)],
    )
    db.executemany(
        "INSERT INTO dir_group_attributes (attribute, value, group_id) VALUES (?, ?, ?)",
        [(a, v, g.group_id) for g in groups for a, v in group_attributes(g)],
    )
    db.executemany(
        "INSERT INTO dir_memberships (membership_id, group_id, user_id, seq) VALUES (?, ?, ?, ?)",
        [(m.membership_id, m.group_id, m.user_id, i) for i, m in enumerate(memberships_of(groups))],
    )
    db.executemany(_INSERT_ASSIGNMENT, [(*_assignment_params(a), i) for i, a in enumerate(assignments)])


_INSERT_ASSIGNMENT = (
    "INSERT INTO app_assignments (application_arn, principal_type, principal_id, user_id, group_id, seq)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _assignment_params(a: Assignment) -> tuple[str, str, str, str | None, str | None]:
    user = a.principal_id if a.principal_type == "USER" else None
    group = a.principal_id if a.principal_type == "GROUP" else None
    return (a.application_arn, a.principal_type, a.principal_id, user, group)


def _next_revisions(db: sqlite3.Connection, n: int) -> int:
    """Take ``n`` revisions from the store-wide counter (migration 0014); returns the first."""
    row = db.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT) WHERE key = ? RETURNING value",
        (n, REVISION_META),
    ).fetchone()
    return int(row[0]) - n + 1


def _renew_revisions(db: sqlite3.Connection) -> None:
    """Give every user and group row (just inserted by ``_insert_directory``: seq 0..n-1) a new revision."""
    users = db.execute("SELECT COUNT(*) FROM dir_users").fetchone()[0]
    groups = db.execute("SELECT COUNT(*) FROM dir_groups").fetchone()[0]
    first = _next_revisions(db, users + groups)
    db.execute("UPDATE dir_users SET revision = ? + seq", (first,))
    db.execute("UPDATE dir_groups SET revision = ? + seq", (first + users,))


def _conditional(
    db: sqlite3.Connection, table: str, column: str, key: str, kind: str, expected: int | None
) -> None:
    """A conditional write of ``table`` matched no row: ``Missing``, or ``StaleRevision`` if the row is there."""
    row = db.execute(f"SELECT revision FROM {table} WHERE {column} = ?", (key,)).fetchone()
    if row is None:
        raise Missing(kind, key)
    assert expected is not None and row[0] != expected
    raise StaleRevision(kind, key)


def _unique_violation(exc: sqlite3.IntegrityError) -> str | None:
    """Which ``AlreadyExists`` a UNIQUE/PRIMARY KEY violation of a directory or permission-set table is (None:
    another error)."""
    text = str(exc)
    for column, name in (
        ("dir_users.user_name_key", "user_name"),
        ("dir_users.user_id", "user_id"),
        ("dir_groups.display_name", "group_name"),
        ("dir_groups.group_id", "group_id"),
        ("dir_memberships.", "membership"),
        ("permission_sets.name_key", "permission_set_name"),
        ("permission_sets.arn", "permission_set"),
    ):
        if "UNIQUE constraint failed" in text and column in text:
            return name
    return None


def _storage_error(operation: str, exc: sqlite3.Error | OSError) -> StorageError:
    """The ``StorageError`` for a driver failure of ``operation``, logged by class and SQLite error code only."""
    code = getattr(exc, "sqlite_errorname", None)
    log.error("SQLite %s failed: %s%s", operation, type(exc).__name__, f" ({code})" if code else "")
    return StorageError("storage operation failed")


def _open_error(path: Path, exc: sqlite3.Error | OSError) -> StorageError:
    """The ``StorageError`` for a database that cannot be opened: the path (the operator's own) and SQLite's error
    name (or the OS error's class), never SQL text or values. Not logged here: whoever opens the store reports it
    (the CLI prints it once)."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return StorageError(f"cannot open the SQLite database {path} ({name})")


def _wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except (sqlite3.Error, OSError) as exc:
                raise _storage_error(fn.__name__, exc) from exc

        return wrapper

    @functools.wraps(fn)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            raise _storage_error(fn.__name__, exc) from exc

    return sync_wrapper


C = TypeVar("C", bound=type)


def _driver_errors(cls: C) -> C:
    """Turn ``sqlite3.Error`` (and the write lock's ``OSError``) into ``StorageError`` in every public method of
    ``cls`` and its constructor: the one place SQLite's driver errors are translated, so none reaches a caller raw.

    Signatures are unchanged (the wrappers pass everything through), so the class still type-checks as written.
    """
    for name, member in list(vars(cls).items()):
        if (name == "__init__" or not name.startswith("_")) and inspect.isfunction(member):
            setattr(cls, name, _wrap(member))
    return cls


_driver_errors(SqliteAccountAccess)


@_driver_errors
class SqliteStore(SqliteAccountAccess):
    """All storage contracts on one SQLite file."""

    kind = "sqlite"

    def __init__(self, path: Path, *, master_key: bytes, synchronous: str = "NORMAL") -> None:
        """Open (creating, migrating) the database at ``path``.

        ``StorageError`` naming the path and SQLite's error (``SQLITE_NOTADB`` for a file that is not a database)
        if it cannot; ``ConfigError`` if the store was created with another master key.
        """
        self.path = path
        self._queue: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self.group_commits = 0
        self.group_commit_ops = 0
        self._lock_fd = -1
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None
        self._ring_cursor = 0  # the rowid after which purge_expired's sweep of the family rings goes on
        self._secrets = Sealer(master_key, SECRET_PURPOSE)
        self._keys = Sealer(master_key, SIGNING_KEY_PURPOSE)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            create_private(path)  # SQLite gives the -wal and -shm files the database file's mode
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
        except (sqlite3.Error, OSError) as exc:
            raise _open_error(path, exc) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA foreign_keys=ON")
            # Reads through mmap: when another worker's commit invalidates this connection's page cache, pages
            # come back from the OS page cache without a pread each (measured: ~36 preads per token, 2 workers).
            self._db.execute("PRAGMA mmap_size=268435456")
            self._db.execute("PRAGMA temp_store=MEMORY")  # savepoint sub-journals in memory, not temp files
            self._lock_fd = os.open(f"{path}-writelock", os.O_RDWR | os.O_CREAT, 0o600)
            self._migrate()
            self._check_master_key(master_key)
        except BaseException as exc:
            self._db.close()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1
            if isinstance(exc, sqlite3.Error | OSError):
                raise _open_error(path, exc) from exc
            raise

    # -- plumbing ---------------------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # Writers of all processes queue on an flock first: the kernel wakes the next one the moment the lock is
        # released, where SQLite's own busy handler would sleep 1, 2, 5, 10... ms between retries (measured: it
        # made p99 seconds long with two workers). BEGIN IMMEDIATE then never waits.
        if self._lock_fd < 0:
            raise StorageError("the store is closed")
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    async def _submit(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write ``op`` in the next group commit and return its result (or raise its exception).

        Group commit: every op submitted while the event loop is busy with other requests joins one transaction,
        each in its own SAVEPOINT, so one op's failure rolls back only its own writes. Each caller gets its answer
        only after the COMMIT, so nothing is acknowledged before it is durable; the commit cost (locks, WAL
        frame headers, fsync with synchronous=FULL) is shared by the batch.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.append((op, fut))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._queue = self._queue, []
        self.group_commits += 1
        self.group_commit_ops += len(batch)
        outcomes: list[tuple[asyncio.Future[Any], Any, bool]] = []
        try:
            with self._write() as db:
                for op, fut in batch:
                    db.execute("SAVEPOINT op")
                    try:
                        value = op(db)
                    except Exception as exc:
                        db.execute("ROLLBACK TO op")
                        db.execute("RELEASE op")
                        outcomes.append((fut, exc, True))
                    else:
                        db.execute("RELEASE op")
                        outcomes.append((fut, value, False))
        except Exception as exc:
            log.exception("group commit of %d writes failed", len(batch))
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(StorageError("storage write failed"))
            del exc
            return
        for fut, value, failed in outcomes:
            if fut.done():  # the caller went away
                continue
            if failed:
                fut.set_exception(value)
            else:
                fut.set_result(value)

    def start_background(self) -> None:
        """In a server: move WAL checkpoints (and their fsyncs) off the request path, into a background thread.

        Request connections stop auto-checkpointing; a daemon thread with its own connection runs a checkpoint
        every ``_CHECKPOINT_INTERVAL`` seconds: PASSIVE (never blocks readers or writers), or TRUNCATE once the WAL
        file passes ``WAL_TRUNCATE_BYTES`` (``checkpoint``). A second call
        does nothing; ``close`` stops the thread.
        """
        if self._checkpointer is not None:
            return
        interval = _CHECKPOINT_INTERVAL
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        stop = threading.Event()

        def loop() -> None:
            conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            try:
                while not stop.wait(interval):
                    try:
                        checkpoint(conn, Path(f"{self.path}-wal"))
                    except sqlite3.Error:  # pragma: no cover - retried next interval
                        log.warning("WAL checkpoint failed; will retry")
            finally:
                conn.close()

        thread = threading.Thread(target=loop, name="sqlite-checkpointer", daemon=True)
        thread.start()
        self._checkpointer = (thread, stop)

    def migrate(self) -> list[int]:
        """Apply pending migrations; safe to call from several processes at once."""
        return self._migrate()

    def _migrate(self) -> list[int]:
        applied: list[int] = []
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at REAL NOT NULL)"
            )
            done = {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in _migrations():
                if version in done:
                    continue
                for stmt in statements(sql):
                    db.execute(stmt)
                if version == DIRECTORY_MIGRATION:
                    _move_directory(db)
                if version == FAMILY_RING_MIGRATION:
                    _move_family_slots(db)
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
                applied.append(version)
        return applied

    def _check_master_key(self, master_key: bytes) -> None:
        """Record the master key's check value at first start; refuse a store that was made with another key.

        A store that predates the check value is vouched for by one of its sealed signing keys, if it has one.
        """
        expected = master_key_check(master_key)
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (MASTER_KEY_CHECK_META,)).fetchone()
        if row is not None:  # the usual case: no write lock needed
            if not same_check(str(row[0]), expected):
                raise ConfigError(MASTER_KEY_MISMATCH)
            return
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (MASTER_KEY_CHECK_META,)).fetchone()
            if row is None:
                sample = db.execute("SELECT kid, private_enc FROM signing_keys LIMIT 1").fetchone()
                if sample is not None:
                    try:
                        self._keys.open(sample[1], str(sample[0]).encode())
                    except ValueError:
                        raise ConfigError(MASTER_KEY_MISMATCH) from None
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (MASTER_KEY_CHECK_META, expected))
            elif not same_check(str(row[0]), expected):
                raise ConfigError(MASTER_KEY_MISMATCH)

    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    async def ping(self) -> None:
        self._db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()  # reads the file

    async def close(self) -> None:
        if self.group_commits:
            log.info(
                "group commit: %d writes in %d transactions (%.1f per commit)",
                self.group_commit_ops,
                self.group_commits,
                self.group_commit_ops / self.group_commits,
            )
        if self._checkpointer is not None:
            thread, stop = self._checkpointer
            stop.set()
            thread.join(5)
            self._checkpointer = None
        self._db.close()
        fd, self._lock_fd = self._lock_fd, -1  # a later write fails, never locks a reused descriptor
        if fd >= 0:
            os.close(fd)

    # -- meta and configuration -------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def put_meta_if_absent(self, key: str, value: str) -> str:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    async def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        row = self._db.execute(
            "SELECT key, request_sha256, response, created_at FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return idempotency_record(row)

    def _bump_version(self, db: sqlite3.Connection) -> int:
        """Bump the version alone (callers record the change: ``_bump``)."""
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('config_version', '1') ON CONFLICT(key) DO UPDATE SET"
            " value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        )
        row = db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
        return int(row[0])

    async def config_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
        return 0 if row is None else int(row[0])

    def _bump(self, db: sqlite3.Connection, *changes: tuple[str, str]) -> int:
        """Bump the version and record what it changed in the change feed."""
        version = self._bump_version(db)
        db.executemany(
            "INSERT INTO config_changes (version, kind, key) VALUES (?, ?, ?)",
            [(version, kind, key) for kind, key in changes],
        )
        return version

    def _bump_catalogue(self, db: sqlite3.Connection, *changes: tuple[str, str]) -> int:
        """``_bump`` for a catalogue write: the new version is also the catalogue's (``load_catalogue``)."""
        version = self._bump(db, *changes)
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('catalogue_version', ?) ON CONFLICT(key) DO UPDATE"
            " SET value = excluded.value",
            (str(version),),
        )
        return version

    async def load_configuration(self) -> tuple[Configuration | None, int]:
        # One read transaction so the version and the rows agree.
        self._db.execute("BEGIN")
        try:
            version = self._read_version()
            rows = self._catalogue_rows()
            users = [user_of(r[0]) for r in self._db.execute("SELECT doc FROM dir_users ORDER BY seq")]
            members: dict[str, list[str]] = {}
            for gid, uid in self._db.execute("SELECT group_id, user_id FROM dir_memberships ORDER BY seq"):
                members.setdefault(gid, []).append(uid)
            groups = [
                group_of(doc, members.get(gid, ()))
                for gid, doc in self._db.execute("SELECT group_id, doc FROM dir_groups ORDER BY seq")
            ]
            assignments = [
                Assignment(a, t, p)
                for a, t, p in self._db.execute(
                    "SELECT application_arn, principal_type, principal_id FROM app_assignments ORDER BY seq"
                )
            ]
            permission_sets = [
                aq.permission_set_of(r[0])
                for r in self._db.execute("SELECT doc FROM permission_sets ORDER BY seq")
            ]
            account_assignments = [
                aq.assignment_of(r)
                for r in self._db.execute(
                    f"SELECT {aq.ASSIGNMENT_COLS} FROM account_assignments ORDER BY seq"
                )
            ]
        finally:
            self._db.execute("COMMIT")
        config = config_from_rows(rows, users, groups, assignments, permission_sets, account_assignments)
        return config, version

    async def load_catalogue(self) -> tuple[Configuration | None, int]:
        self._db.execute("BEGIN")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'catalogue_version'").fetchone()
            rows = self._catalogue_rows()
        finally:
            self._db.execute("COMMIT")
        return config_from_rows(rows), 0 if row is None else int(row[0])

    def _read_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
        return 0 if row is None else int(row[0])

    def _catalogue_rows(self) -> list[tuple[str, str]]:
        return self._db.execute("SELECT kind, doc FROM config_resources ORDER BY seq, rowid").fetchall()

    def _begin_config_write(
        self,
        db: sqlite3.Connection,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None,
        revoke_subjects: Sequence[str],
        now: float,
        versioned: str = "config_version",
    ) -> None:
        if expected_version is not None:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (versioned,)).fetchone()
            if (0 if row is None else int(row[0])) != expected_version:
                raise VersionConflict(f"configuration version is no longer {expected_version}")
        if idempotency is not None:
            n = db.execute(
                "INSERT INTO idempotency (key, request_sha256, response, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (idempotency.key, idempotency.request_sha256, idempotency.response, idempotency.created_at),
            ).rowcount
            if n != 1:
                raise VersionConflict("idempotency key already used")
        db.executemany(_REVOKE_SUBJECT, [(s, now) for s in revoke_subjects])

    def _write_catalogue(self, db: sqlite3.Connection, config: Configuration) -> None:
        """Make the catalogue rows those of ``config``: rows that are gone are deleted (an application's
        assignments with it), the others upserted in place, so unchanged rows and their references stay."""
        rows = config_rows(config)
        keep = {(k, i) for k, i, _ in rows}
        stored = db.execute("SELECT kind, id FROM config_resources").fetchall()
        db.executemany(
            "DELETE FROM config_resources WHERE kind = ? AND id = ?",
            [r for r in stored if tuple(r) not in keep],
        )
        db.executemany(
            "INSERT INTO config_resources (kind, id, seq, doc) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq, doc = excluded.doc"
            " WHERE seq IS NOT excluded.seq OR doc IS NOT excluded.doc",
            [(k, i, n, doc) for n, (k, i, doc) in enumerate(rows)],
        )

    def _clear_directory(self, db: sqlite3.Connection, now: float) -> None:
        db.execute(
            "INSERT INTO revoked_subjects (subject, revoked_at) SELECT 'user:' || user_id, ? FROM dir_users WHERE 1"
            " ON CONFLICT(subject) DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = NULL",
            (now,),
        )
        for table in ("app_assignments", "dir_memberships", "dir_group_attributes", "dir_groups"):
            db.execute(f"DELETE FROM {table}")
        db.execute("DELETE FROM dir_user_attributes")
        db.execute("DELETE FROM dir_users")
        delete_access(db)

    async def edit_catalogue(
        self, change: Callable[[Configuration | None], CatalogueWrite], *, now: float = 0.0
    ) -> int:
        """Read, change and write the catalogue under the write lock (the one writer of every process)."""
        with self._write() as db:
            stored = config_from_rows(self._catalogue_rows())
            w = change(stored)
            self._begin_config_write(db, None, w.idempotency, w.revoke_subjects, now)
            self._write_catalogue(db, w.config)
            if clears_directory(stored, w.config):
                self._clear_directory(db, now)
                return self._bump_catalogue(db, ("catalogue", ""), ("directory", ""))
            return self._bump_catalogue(db, ("catalogue", ""))

    async def replace_configuration(
        self,
        config: Configuration,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyRecord | None = None,
        revoke_subjects: Sequence[str] = (),
        now: float = 0.0,
    ) -> int:
        """Replace catalogue and directory, record ``idempotency`` and revoke subjects, in one write transaction."""
        with self._write() as db:
            self._begin_config_write(db, expected_version, idempotency, revoke_subjects, now)
            for table in ("app_assignments", "dir_memberships", "dir_group_attributes", "dir_groups"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM dir_user_attributes")
            db.execute("DELETE FROM dir_users")
            delete_access(db)
            self._write_catalogue(db, config)
            _insert_directory(db, config.users, config.groups, config.assignments)
            insert_access(db, config.permission_sets, config.account_assignments)
            _renew_revisions(db)
            return self._bump_catalogue(db, ("catalogue", ""), ("directory", ""))

    # -- the directory ----------------------------------------------------------------------------------------
    @contextmanager
    def _dir_write(self) -> Iterator[sqlite3.Connection]:
        """A directory write: a constraint the store enforces is reported as ``AlreadyExists``."""
        try:
            with self._write() as db:
                yield db
        except sqlite3.IntegrityError as exc:
            which = _unique_violation(exc)
            if which is None:
                raise
            raise AlreadyExists(which) from None

    async def get_user(self, user_id: str) -> User | None:
        row = self._db.execute("SELECT doc, revision FROM dir_users WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else user_at(*row)

    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]:
        if attribute == "username":
            rows = self._db.execute(
                "SELECT doc, revision FROM dir_users WHERE user_name_key = ? LIMIT ?",
                (user_name_key(value), limit),
            )
        else:
            rows = self._db.execute(
                "SELECT u.doc, u.revision FROM dir_user_attributes a JOIN dir_users u ON u.user_id = a.user_id"
                " WHERE a.attribute = ? AND a.value = ? ORDER BY a.user_id LIMIT ?",
                (attribute, value, limit),
            )
        return [user_at(*r) for r in rows]

    async def list_users(self, *, after: str = "", limit: int = 100) -> list[User]:
        rows = self._db.execute(
            "SELECT doc, revision FROM dir_users WHERE user_id > ? ORDER BY user_id LIMIT ?", (after, limit)
        )
        return [user_at(*r) for r in rows]

    async def create_user(self, user: User) -> int:
        with self._dir_write() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM dir_users").fetchone()[0]
            revision = _next_revisions(db, 1)
            db.execute(
                "INSERT INTO dir_users (user_id, user_name_key, seq, doc, revision) VALUES (?, ?, ?, ?, ?)",
                (user.user_id, user_name_key(user.user_name), seq, user_doc(user), revision),
            )
            db.executemany(
                "INSERT INTO dir_user_attributes (attribute, value, user_id) VALUES (?, ?, ?)",
                [(a, v, user.user_id) for a, v in user_attributes(user)],
            )
            self._bump(db, ("user", user.user_id))
            return revision

    async def update_user(self, user: User, *, expected_revision: int | None = None) -> int:
        with self._dir_write() as db:
            revision = _next_revisions(db, 1)
            n = db.execute(
                "UPDATE dir_users SET user_name_key = ?, doc = ?, revision = ?"
                " WHERE user_id = ? AND (? IS NULL OR revision = ?)",
                (
                    user_name_key(user.user_name),
                    user_doc(user),
                    revision,
                    user.user_id,
                    expected_revision,
                    expected_revision,
                ),
            ).rowcount
            if n != 1:
                _conditional(db, "dir_users", "user_id", user.user_id, "user", expected_revision)
            db.execute("DELETE FROM dir_user_attributes WHERE user_id = ?", (user.user_id,))
            db.executemany(
                "INSERT INTO dir_user_attributes (attribute, value, user_id) VALUES (?, ?, ?)",
                [(a, v, user.user_id) for a, v in user_attributes(user)],
            )
            self._bump(db, ("user", user.user_id))
            return revision

    async def delete_user(self, user_id: str, *, now: float, expected_revision: int | None = None) -> bool:
        try:
            with self._write() as db:
                # memberships, attributes and assignments go with it (ON DELETE CASCADE)
                n = db.execute(
                    "DELETE FROM dir_users WHERE user_id = ? AND (? IS NULL OR revision = ?)",
                    (user_id, expected_revision, expected_revision),
                ).rowcount
                if n != 1:
                    _conditional(db, "dir_users", "user_id", user_id, "user", expected_revision)
                db.execute(_REVOKE_SUBJECT, (f"user:{user_id}", now))
                self._bump(db, ("user", user_id))
                return True
        except Missing:
            return False

    async def get_group(self, group_id: str) -> Group | None:
        row = self._db.execute(
            "SELECT doc, revision FROM dir_groups WHERE group_id = ?", (group_id,)
        ).fetchone()
        return None if row is None else group_at(*row)

    async def find_groups(self, attribute: str, value: str, *, limit: int = 2) -> list[Group]:
        if attribute == "displayname":
            rows = self._db.execute(
                "SELECT doc, revision FROM dir_groups WHERE display_name = ? LIMIT ?", (value, limit)
            )
        else:
            rows = self._db.execute(
                "SELECT g.doc, g.revision FROM dir_group_attributes a JOIN dir_groups g"
                " ON g.group_id = a.group_id WHERE a.attribute = ? AND a.value = ? ORDER BY a.group_id LIMIT ?",
                (attribute, value, limit),
            )
        return [group_at(*r) for r in rows]

    async def list_groups(self, *, after: str = "", limit: int = 100) -> list[Group]:
        rows = self._db.execute(
            "SELECT doc, revision FROM dir_groups WHERE group_id > ? ORDER BY group_id LIMIT ?",
            (after, limit),
        )
        return [group_at(*r) for r in rows]

    async def create_group(self, group: Group) -> int:
        with self._dir_write() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM dir_groups").fetchone()[0]
            revision = _next_revisions(db, 1)
            db.execute(
                "INSERT INTO dir_groups (group_id, display_name, seq, doc, revision) VALUES (?, ?, ?, ?, ?)",
                (group.group_id, group.display_name, seq, group_doc(group), revision),
            )
            db.executemany(
                "INSERT INTO dir_group_attributes (attribute, value, group_id) VALUES (?, ?, ?)",
                [(a, v, group.group_id) for a, v in group_attributes(group)],
            )
            self._bump(db, ("group", group.group_id))
            return revision

    async def update_group(self, group: Group, *, expected_revision: int | None = None) -> int:
        with self._dir_write() as db:
            revision = _next_revisions(db, 1)
            n = db.execute(
                "UPDATE dir_groups SET display_name = ?, doc = ?, revision = ?"
                " WHERE group_id = ? AND (? IS NULL OR revision = ?)",
                (
                    group.display_name,
                    group_doc(group),
                    revision,
                    group.group_id,
                    expected_revision,
                    expected_revision,
                ),
            ).rowcount
            if n != 1:
                _conditional(db, "dir_groups", "group_id", group.group_id, "group", expected_revision)
            db.execute("DELETE FROM dir_group_attributes WHERE group_id = ?", (group.group_id,))
            db.executemany(
                "INSERT INTO dir_group_attributes (attribute, value, group_id) VALUES (?, ?, ?)",
                [(a, v, group.group_id) for a, v in group_attributes(group)],
            )
            self._bump(db, ("group", group.group_id))
            return revision

    async def delete_group(self, group_id: str, *, expected_revision: int | None = None) -> bool:
        try:
            with self._write() as db:
                n = db.execute(
                    "DELETE FROM dir_groups WHERE group_id = ? AND (? IS NULL OR revision = ?)",
                    (group_id, expected_revision, expected_revision),
                ).rowcount
                if n != 1:
                    _conditional(db, "dir_groups", "group_id", group_id, "group", expected_revision)
                self._bump(db, ("group", group_id))
                return True
        except Missing:
            return False

    async def get_membership(self, membership_id: str) -> Membership | None:
        row = self._db.execute(
            "SELECT membership_id, group_id, user_id FROM dir_memberships WHERE membership_id = ?",
            (membership_id,),
        ).fetchone()
        return None if row is None else Membership(*row)

    async def find_membership(self, group_id: str, user_id: str) -> Membership | None:
        row = self._db.execute(
            "SELECT membership_id, group_id, user_id FROM dir_memberships WHERE group_id = ? AND user_id = ?",
            (group_id, user_id),
        ).fetchone()
        return None if row is None else Membership(*row)

    async def list_memberships(
        self, *, group_id: str | None = None, user_id: str | None = None, after: str = "", limit: int = 100
    ) -> list[Membership]:
        column, value = ("group_id", group_id) if group_id is not None else ("user_id", user_id)
        rows = self._db.execute(
            f"SELECT membership_id, group_id, user_id FROM dir_memberships WHERE {column} = ?"
            " AND membership_id > ? ORDER BY membership_id LIMIT ?",
            (value, after, limit),
        )
        return [Membership(*r) for r in rows]

    async def member_groups(self, user_id: str, group_ids: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(group_ids))
        if not wanted:
            return set()
        marks = ", ".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT group_id FROM dir_memberships WHERE user_id = ? AND group_id IN ({marks})",
            (user_id, *wanted),
        )
        return {r[0] for r in rows}

    async def create_membership(self, membership: Membership) -> None:
        with self._dir_write() as db:
            if (
                db.execute("SELECT 1 FROM dir_groups WHERE group_id = ?", (membership.group_id,)).fetchone()
                is None
            ):
                raise Missing("group", membership.group_id)
            if (
                db.execute("SELECT 1 FROM dir_users WHERE user_id = ?", (membership.user_id,)).fetchone()
                is None
            ):
                raise Missing("user", membership.user_id)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM dir_memberships").fetchone()[0]
            db.execute(
                "INSERT INTO dir_memberships (membership_id, group_id, user_id, seq) VALUES (?, ?, ?, ?)",
                (membership.membership_id, membership.group_id, membership.user_id, seq),
            )
            self._bump(db, ("membership", f"{membership.group_id}|{membership.user_id}"))

    async def delete_membership(self, membership_id: str) -> bool:
        with self._write() as db:
            row = db.execute(
                "DELETE FROM dir_memberships WHERE membership_id = ? RETURNING group_id, user_id",
                (membership_id,),
            ).fetchone()
            if row is None:
                return False
            self._bump(db, ("membership", f"{row[0]}|{row[1]}"))
            return True

    async def is_assigned(self, application_arn: str, user_id: str) -> bool:
        row = self._db.execute(_IS_ASSIGNED, (application_arn, user_id, application_arn, user_id)).fetchone()
        return row is not None

    async def has_assignment(self, assignment: Assignment) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM app_assignments WHERE application_arn = ? AND principal_type = ? AND principal_id = ?",
            (assignment.application_arn, assignment.principal_type, assignment.principal_id),
        ).fetchone()
        return row is not None

    async def list_assignments(
        self,
        *,
        application_arn: str | None = None,
        principal: tuple[str, str] | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[Assignment]:
        if application_arn is not None:
            rows = self._db.execute(
                "SELECT application_arn, principal_type, principal_id FROM app_assignments"
                " WHERE application_arn = ? AND principal_type || '/' || principal_id > ?"
                " ORDER BY principal_type || '/' || principal_id LIMIT ?",
                (application_arn, after, limit),
            )
        else:
            assert principal is not None
            rows = self._db.execute(
                "SELECT application_arn, principal_type, principal_id FROM app_assignments"
                " WHERE principal_type = ? AND principal_id = ? AND application_arn > ?"
                " ORDER BY application_arn LIMIT ?",
                (*principal, after, limit),
            )
        return [Assignment(a, t, p) for a, t, p in rows]

    async def create_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        with self._write() as db:
            app = db.execute(
                "SELECT 1 FROM config_resources WHERE kind = 'application' AND id = ?", (a.application_arn,)
            ).fetchone()
            if app is None:
                raise Missing("application", a.application_arn)
            table, column = (
                ("dir_users", "user_id") if a.principal_type == "USER" else ("dir_groups", "group_id")
            )
            found = db.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (a.principal_id,)).fetchone()
            if found is None:
                raise Missing(a.principal_type.lower(), a.principal_id)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM app_assignments").fetchone()[0]
            n = db.execute(
                _INSERT_ASSIGNMENT + " ON CONFLICT DO NOTHING", (*_assignment_params(a), seq)
            ).rowcount
            if n != 1:
                return False
            self._bump(db, ("assignment", assignment_key(a)))
            return True

    async def delete_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        with self._write() as db:
            n = db.execute(
                "DELETE FROM app_assignments WHERE application_arn = ? AND principal_type = ? AND principal_id = ?",
                (a.application_arn, a.principal_type, a.principal_id),
            ).rowcount
            if n != 1:
                return False
            self._bump(db, ("assignment", assignment_key(a)))
            return True

    async def changes_since(self, version: int, *, limit: int = 1000) -> list[Change] | None:
        self._db.execute("BEGIN")
        try:
            current = self._read_version()
            if current <= version:
                return []
            oldest = self._db.execute("SELECT MIN(version) FROM config_changes").fetchone()[0]
            if oldest is None or oldest > version + 1:
                return None
            rows = self._db.execute(
                "SELECT version, kind, key FROM config_changes WHERE version > ? ORDER BY version, rowid LIMIT ?",
                (version, limit + 1),
            ).fetchall()
        finally:
            self._db.execute("COMMIT")
        return None if len(rows) > limit else [Change(*r) for r in rows]

    # -- credentials ------------------------------------------------------------------------------------------
    async def load_credentials(self) -> list[StoredCredential]:
        return [credential(row, self._secrets) for row in self._db.execute(LOAD_CREDENTIALS_SQL)]

    async def create_credential(self, cred: StoredCredential) -> None:
        params = credential_params(cred, self._secrets)
        with self._write() as db:
            # Only a taken access key id inserts nothing; any other constraint raises (a StorageError).
            if db.execute(INSERT_CREDENTIAL_SQL, params).rowcount != 1:
                raise AlreadyExists(cred.access_key_id)
            self._bump(db, ("credential", cred.access_key_id))

    async def delete_credential(self, access_key_id: str) -> bool:
        with self._write() as db:
            n = db.execute("DELETE FROM credentials WHERE access_key_id = ?", (access_key_id,)).rowcount
            if n:
                self._bump(db, ("credential", access_key_id))
        return bool(n)

    # -- signing keys -----------------------------------------------------------------------------------------
    async def signing_keys(self, purpose: str) -> list[SigningKey]:
        return [signing_key(row, self._keys) for row in self._db.execute(SIGNING_KEYS_SQL, (purpose,))]

    async def ensure_signing_key(
        self, purpose: str, alg: str, make: Callable[[], tuple[str, bytes]]
    ) -> SigningKey:
        """Return the active key for ``purpose``/``alg``, creating it exactly once across processes."""
        with self._write() as db:
            row = db.execute(
                "SELECT kid FROM signing_keys WHERE purpose = ? AND alg = ? AND active = 1 ORDER BY created_at DESC",
                (purpose, alg),
            ).fetchone()
            if row is None:
                kid, pem = make()
                db.execute(
                    "INSERT INTO signing_keys (kid, purpose, alg, private_enc, created_at, active)"
                    " VALUES (?, ?, ?, ?, ?, 1)",
                    (kid, purpose, alg, self._keys.seal(pem, kid.encode()), time.time()),
                )
        keys = [k for k in await self.signing_keys(purpose) if k.alg == alg and k.active]
        return keys[0]

    # -- tokens -----------------------------------------------------------------------------------------------
    async def issue(
        self,
        tokens: Sequence[TokenRecord],
        *,
        jti: tuple[str, str, float] | None = None,
        family_cap: int = 0,
    ) -> None:
        rows = [token_params(t) for t in tokens]
        started = started_family(tokens) if family_cap > 0 else None

        def op(db: sqlite3.Connection) -> None:
            if jti is not None:
                cur = db.execute(
                    "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    jti,
                )
                if cur.rowcount != 1:
                    raise JtiReplay(jti[0])
            db.executemany(_SQL_INSERT_TOKENS, rows)
            if started is not None:
                self._cap_families(db, started, family_cap)

        await self._submit(op)

    def _cap_families(self, db: sqlite3.Connection, started: TokenRecord, cap: int) -> None:
        """The new family ``started`` joins its (user, application)'s ring; the families the ring drops (the one
        started ``cap`` families earlier) are revoked if still live (migration 0016: one row per pair, so one page
        per commit). Runs in the caller's savepoint, so all of it or nothing is written; SQLite has one writer."""
        user, app = started.user_id, started.application_arn
        row = db.execute(FAMILY_RING_SQL, (user, app)).fetchone()
        ring, n = (bytes(row[1]), int(row[2])) if row is not None else (b"", 0)
        ring, n, dropped = ring_push(ring, n, started.family_id, started.expires_at, cap, started.issued_at)
        if row is None:
            db.execute(FAMILY_RING_INSERT_SQL, (user, app, ring, n, started.expires_at))
        else:
            db.execute(FAMILY_RING_UPDATE_SQL, (ring, n, started.expires_at, row[0]))
        now = started.issued_at
        for family_id, expires_at in dropped:
            if family_id != started.family_id and expires_at > now:
                self._revoke_family(db, family_id, now, expires_at)

    async def find_token(self, token_hash: bytes) -> TokenRecord | None:
        row = self._db.execute(FIND_TOKEN_SQL, (token_hash,)).fetchone()
        return None if row is None else token_record(row)

    def _revoke_family(self, db: sqlite3.Connection, family_id: str, now: float, expires_at: float) -> int:
        return int(
            db.execute(
                REVOKE_FAMILY_SQL,
                (family_id, now, expires_at),
            ).rowcount
        )

    async def revoke_family(self, family_id: str, now: float, expires_at: float) -> int:
        """Revoke every token of ``family_id`` (they all end with their session, at ``expires_at``)."""
        with self._write() as db:
            return self._revoke_family(db, family_id, now, expires_at)

    async def revoke_token(self, token_hash: bytes, now: float) -> bool:
        with self._write() as db:
            return db.execute(REVOKE_TOKEN_SQL, (now, token_hash)).rowcount == 1

    async def rotate_refresh(
        self,
        old_hash: bytes,
        application_arn: str,
        now: float,
        grace_seconds: float,
        tokens: Sequence[TokenRecord],
    ) -> Redemption:
        rows = [token_params(t) for t in tokens]

        def op(db: sqlite3.Connection) -> Redemption:
            n = db.execute(
                "UPDATE tokens SET retired_at = ? WHERE "
                + SPENDABLE_REFRESH.format(t="tokens", hash="?", app="?", now="?"),
                (now, old_hash, application_arn, now),
            ).rowcount
            if n == 1:
                db.executemany(_SQL_INSERT_TOKENS, rows)
                return Redemption.OK
            old = LostRotation.of(db.execute(ROTATE_LOSER_SQL, (old_hash, application_arn)).fetchone())
            outcome, revoke = lost_rotation(old, now, grace_seconds)
            if revoke is not None:
                self._revoke_family(db, revoke.family_id, now, revoke.expires_at)
            return outcome

        return await self._submit(op)

    # -- authorization codes ----------------------------------------------------------------------------------
    async def create_code(self, code: CodeRecord) -> None:
        with self._write() as db:
            db.execute(INSERT_CODE_SQL, code_params(code))

    async def find_code(self, code_hash: bytes) -> CodeRecord | None:
        row = self._db.execute(FIND_CODE_SQL, (code_hash,)).fetchone()
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
        rows = [token_params(t) for t in tokens]
        started = started_family(tokens) if family_cap > 0 else None

        def op(db: sqlite3.Connection) -> Redemption:
            n = db.execute(
                "UPDATE auth_codes SET consumed_at = ? WHERE "
                + REDEEMABLE_CODE.format(t="auth_codes", hash="?", app="?", now="?"),
                (now, code_hash, application_arn, now),
            ).rowcount
            if n == 1:
                db.executemany(_SQL_INSERT_TOKENS, rows)
                if started is not None:
                    self._cap_families(db, started, family_cap)
                return Redemption.OK
            lost = LostRedemption.of(db.execute(REDEEM_LOSER_SQL, (code_hash, application_arn)).fetchone())
            outcome, revoke = lost_redemption(lost)
            if revoke is not None:  # RFC 6749 4.1.2: revoke what the code issued
                self._revoke_family(db, revoke.family_id, now, revoke.expires_at)
            return outcome

        return await self._submit(op)

    # -- public clients and device authorizations (RFC 8628) --------------------------------------------------
    async def create_client(self, client: ClientRecord) -> None:
        def op(db: sqlite3.Connection) -> None:
            if db.execute(ps.INSERT_CLIENT_SQL, ps.client_params(client)).rowcount != 1:
                raise AlreadyExists("client_id")

        await self._submit(op)

    async def get_client(self, client_id: str) -> ClientRecord | None:
        row = self._db.execute(ps.GET_CLIENT_SQL, (client_id,)).fetchone()
        return None if row is None else ps.client_record(row)

    async def create_device(self, device: DeviceRecord) -> None:
        def op(db: sqlite3.Connection) -> None:
            if db.execute(ps.INSERT_DEVICE_SQL, ps.device_params(device)).rowcount != 1:
                raise AlreadyExists("device")

        await self._submit(op)

    async def find_device_by_user_code(self, user_code_hash: bytes, now: float) -> DeviceRecord | None:
        row = self._db.execute(ps.FIND_DEVICE_BY_USER_CODE_SQL, (user_code_hash, now)).fetchone()
        return None if row is None else ps.device_record(row)

    async def decide_device(
        self, user_code_hash: bytes, now: float, *, approve: bool, user_id: str, auth_time: float
    ) -> DeviceRecord | None:
        status = DEVICE_APPROVED if approve else DEVICE_DENIED

        def op(db: sqlite3.Connection) -> DeviceRecord | None:
            row = db.execute(
                ps.DECIDE_DEVICE_SQL, (status, user_id, auth_time, now, user_code_hash, now)
            ).fetchone()
            return None if row is None else ps.device_record(row)

        return await self._submit(op)

    async def poll_device(
        self, device_hash: bytes, client_id: str, now: float, *, leeway: float, max_interval: float
    ) -> DevicePoll | None:
        params = ps.poll_params(device_hash, client_id, now, leeway, max_interval)

        def op(db: sqlite3.Connection) -> DevicePoll | None:
            row = db.execute(ps.POLL_DEVICE_SQL, params).fetchone()
            return None if row is None else ps.device_poll(row)

        return await self._submit(op)

    async def redeem_device(
        self,
        device_hash: bytes,
        client_id: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> bool:
        rows = [token_params(t) for t in tokens]
        started = started_family(tokens) if family_cap > 0 else None

        def op(db: sqlite3.Connection) -> bool:
            if db.execute(ps.REDEEM_DEVICE_SQL, (device_hash, client_id, now)).rowcount != 1:
                return False
            db.executemany(_SQL_INSERT_TOKENS, rows)
            if started is not None:
                self._cap_families(db, started, family_cap)
            return True

        return await self._submit(op)

    # -- session credentials (migration 0015) ----------------------------------------------------------------
    async def create_session_credential(self, cred: SessionCredentialRecord) -> None:
        params = ss.session_params(cred, self._secrets)

        def op(db: sqlite3.Connection) -> None:
            if db.execute(ss.INSERT_SESSION_SQL, params).rowcount != 1:
                raise AlreadyExists(cred.access_key_id)

        await self._submit(op)

    async def get_session_credential(self, access_key_id: str) -> SessionCredentialRecord | None:
        row = self._db.execute(ss.GET_SESSION_SQL, (access_key_id,)).fetchone()
        return None if row is None else ss.session_record(row, self._secrets)

    # -- sign-in ----------------------------------------------------------------------------------------------
    async def set_password_hash(self, user_id: str, password_hash: str, now: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO user_passwords (user_id, password_hash, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash,"
                " updated_at = excluded.updated_at",
                (user_id, password_hash, now),
            )

    async def get_password_hash(self, user_id: str) -> str | None:
        row = self._db.execute(
            "SELECT password_hash FROM user_passwords WHERE user_id = ?", (user_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    async def create_web_session(self, sid_hash: bytes, session: WebSession) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO web_sessions (sid_hash, user_id, auth_time, expires_at) VALUES (?, ?, ?, ?)",
                (sid_hash, session.user_id, session.auth_time, session.expires_at),
            )

    async def get_web_session(self, sid_hash: bytes, now: float) -> WebSession | None:
        row = self._db.execute(
            "SELECT user_id, auth_time, expires_at FROM web_sessions WHERE sid_hash = ? AND expires_at > ?",
            (sid_hash, now),
        ).fetchone()
        return web_session(row)

    async def delete_web_session(self, sid_hash: bytes) -> None:
        with self._write() as db:
            db.execute("DELETE FROM web_sessions WHERE sid_hash = ?", (sid_hash,))

    async def locked_until(self, key: str, now: float) -> float | None:
        row = self._db.execute(
            "SELECT locked_until FROM login_attempts WHERE attempt_key = ?", (key,)
        ).fetchone()
        if row is None or row[0] is None or float(row[0]) <= now:
            return None
        return float(row[0])

    async def record_failure(
        self, key: str, now: float, *, window: float, threshold: int, lock_seconds: float
    ) -> float | None:
        with self._write() as db:
            row = db.execute(
                "SELECT failures, first_failure_at, locked_until FROM login_attempts WHERE attempt_key = ?",
                (key,),
            ).fetchone()
            a = next_failure(
                Attempts.of(row), now, window=window, threshold=threshold, lock_seconds=lock_seconds
            )
            db.execute(
                "INSERT INTO login_attempts (attempt_key, failures, first_failure_at, locked_until)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(attempt_key) DO UPDATE SET failures = excluded.failures,"
                " first_failure_at = excluded.first_failure_at, locked_until = excluded.locked_until",
                (key, *a),
            )
        return a.locked_until

    async def clear_failures(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM login_attempts WHERE attempt_key = ?", (key,))

    def _sweep_rings(self, db: sqlite3.Connection, now: float, limit: int) -> int:
        """One step of the rolling sweep over the family rings (migration 0016; they have no expiry index, which
        would cost every new family two more pages): of the next ``limit`` rings by rowid after this process's
        cursor, those whose every session has ended are deleted; the cursor wraps at the end."""
        after = self._ring_cursor
        count, last = db.execute(RING_SWEEP_SQL, (after, limit)).fetchone()
        self._ring_cursor = int(last) if count == limit else 0
        if not count:
            return 0
        return int(db.execute(RING_PURGE_SQL, (after, last, now)).rowcount)

    async def purge_expired(self, now: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` expired rows of each kind; small batches keep the write lock short."""
        with self._write() as db:
            n = sum(
                db.execute(sql, purge_params(sql, now - age, limit)).rowcount
                for sql, age in (
                    *PURGE_SQL,
                    *ps.PURGE_PUBLIC_SQL,
                    *aq.PURGE_ACCESS_SQL,
                    *ss.PURGE_SESSION_SQL,
                )
            )
            n += self._sweep_rings(db, now, limit)
            return (
                n
                + db.execute(
                    "DELETE FROM config_changes WHERE rowid IN (SELECT rowid FROM config_changes WHERE version <="
                    " (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'config_version') - ? LIMIT ?)",
                    (CHANGE_RETENTION, limit),
                ).rowcount
            )
