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
from ssoidc.errors import ConfigError
from ssoidc.model import Configuration
from ssoidc.storage.base import (
    AlreadyExists,
    CodeRecord,
    IdempotencyRecord,
    JtiReplay,
    Redemption,
    SigningKey,
    StorageError,
    StoredCredential,
    TokenRecord,
    VersionConflict,
    WebSession,
)
from ssoidc.storage.common import (
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
    ROTATE_LOSER_SQL,
    SECRET_PURPOSE,
    SIGNING_KEY_PURPOSE,
    SIGNING_KEYS_SQL,
    SPENDABLE_REFRESH,
    TOKEN_COLS,
    Attempts,
    LostRedemption,
    LostRotation,
    code_params,
    code_record,
    config_from_rows,
    config_rows,
    credential,
    credential_params,
    idempotency_record,
    lost_redemption,
    lost_rotation,
    master_key_check,
    migrations,
    next_failure,
    purge_params,
    same_check,
    signing_key,
    statements,
    token_params,
    token_record,
    web_session,
)

log = logging.getLogger("ssoidc.storage")
T = TypeVar("T")

_CHECKPOINT_INTERVAL = 1.0
"""Seconds between the background WAL checkpoints of a serving process (``start_background``)."""
_SQL_INSERT_TOKENS = f"INSERT INTO tokens ({TOKEN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"


def _migrations() -> list[tuple[int, str, str]]:
    return migrations("sqlite")


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


@_driver_errors
class SqliteStore:
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
        self._secrets = Sealer(master_key, SECRET_PURPOSE)
        self._keys = Sealer(master_key, SIGNING_KEY_PURPOSE)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
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

        Request connections stop auto-checkpointing; a daemon thread with its own connection runs a PASSIVE
        checkpoint every ``_CHECKPOINT_INTERVAL`` seconds (PASSIVE never blocks readers or writers). A second call
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
            conn.execute("PRAGMA busy_timeout=10000")
            try:
                while not stop.wait(interval):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
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
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('config_version', '1') ON CONFLICT(key) DO UPDATE SET"
            " value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        )
        row = db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
        return int(row[0])

    async def config_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
        return 0 if row is None else int(row[0])

    async def load_configuration(self) -> tuple[Configuration | None, int]:
        # One read transaction so the version and the rows agree.
        self._db.execute("BEGIN")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
            version = 0 if row is None else int(row[0])
            rows = self._db.execute("SELECT kind, doc FROM config_resources ORDER BY rowid").fetchall()
        finally:
            self._db.execute("COMMIT")
        return config_from_rows(rows), version

    async def replace_configuration(
        self,
        config: Configuration,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyRecord | None = None,
        revoke_subjects: Sequence[str] = (),
        now: float = 0.0,
    ) -> int:
        """Replace the configuration, record ``idempotency`` and revoke subjects, in one write transaction.

        The writer holds the write lock from the version check to the commit, so the check-then-write is atomic.
        """
        rows = config_rows(config)
        with self._write() as db:
            if expected_version is not None:
                row = db.execute("SELECT value FROM meta WHERE key = 'config_version'").fetchone()
                if (0 if row is None else int(row[0])) != expected_version:
                    raise VersionConflict(f"configuration version is no longer {expected_version}")
            if idempotency is not None:
                n = db.execute(
                    "INSERT INTO idempotency (key, request_sha256, response, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (
                        idempotency.key,
                        idempotency.request_sha256,
                        idempotency.response,
                        idempotency.created_at,
                    ),
                ).rowcount
                if n != 1:
                    raise VersionConflict("idempotency key already used")
            db.executemany(
                "INSERT INTO revoked_subjects (subject, revoked_at) VALUES (?, ?) ON CONFLICT(subject)"
                " DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = NULL",
                [(s, now) for s in revoke_subjects],
            )
            db.execute("DELETE FROM config_resources")
            db.executemany(
                "INSERT INTO config_resources (kind, id, doc) VALUES (?, ?, ?)",
                rows,
            )
            return self._bump_version(db)

    # -- credentials ------------------------------------------------------------------------------------------
    async def load_credentials(self) -> list[StoredCredential]:
        return [credential(row, self._secrets) for row in self._db.execute(LOAD_CREDENTIALS_SQL)]

    async def create_credential(self, cred: StoredCredential) -> None:
        params = credential_params(cred, self._secrets)
        with self._write() as db:
            # Only a taken access key id inserts nothing; any other constraint raises (a StorageError).
            if db.execute(INSERT_CREDENTIAL_SQL, params).rowcount != 1:
                raise AlreadyExists(cred.access_key_id)
            self._bump_version(db)

    async def delete_credential(self, access_key_id: str) -> bool:
        with self._write() as db:
            n = db.execute("DELETE FROM credentials WHERE access_key_id = ?", (access_key_id,)).rowcount
            if n:
                self._bump_version(db)
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
        self, tokens: Sequence[TokenRecord], *, jti: tuple[str, str, float] | None = None
    ) -> None:
        rows = [token_params(t) for t in tokens]

        def op(db: sqlite3.Connection) -> None:
            if jti is not None:
                cur = db.execute(
                    "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    jti,
                )
                if cur.rowcount != 1:
                    raise JtiReplay(jti[0])
            db.executemany(_SQL_INSERT_TOKENS, rows)

        await self._submit(op)

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
        self, code_hash: bytes, application_arn: str, now: float, tokens: Sequence[TokenRecord]
    ) -> Redemption:
        rows = [token_params(t) for t in tokens]

        def op(db: sqlite3.Connection) -> Redemption:
            n = db.execute(
                "UPDATE auth_codes SET consumed_at = ? WHERE "
                + REDEEMABLE_CODE.format(t="auth_codes", hash="?", app="?", now="?"),
                (now, code_hash, application_arn, now),
            ).rowcount
            if n == 1:
                db.executemany(_SQL_INSERT_TOKENS, rows)
                return Redemption.OK
            lost = LostRedemption.of(db.execute(REDEEM_LOSER_SQL, (code_hash, application_arn)).fetchone())
            outcome, revoke = lost_redemption(lost)
            if revoke is not None:  # RFC 6749 4.1.2: revoke what the code issued
                self._revoke_family(db, revoke.family_id, now, revoke.expires_at)
            return outcome

        return await self._submit(op)

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

    async def purge_expired(self, now: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` expired rows of each kind; small batches keep the write lock short."""
        with self._write() as db:
            return sum(
                db.execute(sql, purge_params(sql, now - age, limit)).rowcount for sql, age in PURGE_SQL
            )
