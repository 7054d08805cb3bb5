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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ssoidc.crypto import Sealer
from ssoidc.errors import ConfigError
from ssoidc.model import Configuration
from ssoidc.storage.base import (
    IDEMPOTENCY_TTL_SECONDS,
    AlreadyExists,
    CodeRecord,
    IdempotencyRecord,
    JtiReplay,
    Redemption,
    SigningKey,
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
    code_params,
    code_record,
    config_from_rows,
    config_rows,
    credential,
    credential_params,
    lost_redemption,
    lost_rotation,
    master_key_check,
    next_failure,
    same_check,
    signing_key,
    token_params,
    token_record,
)

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
    """``(kind, JSON document)`` rows of the configuration, in stored order (``config_rows``)."""
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
    passwords: dict[str, tuple[str, float]] = field(default_factory=dict)
    web_sessions: dict[bytes, WebSession] = field(default_factory=dict)
    login_attempts: dict[str, Attempts] = field(default_factory=dict)

    def version(self) -> int:
        return int(self.meta.get("config_version", "0"))

    def bump_version(self) -> int:
        version = self.version() + 1
        self.meta["config_version"] = str(version)
        return version

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

    def insert_tokens(self, tokens: Sequence[TokenRecord]) -> None:
        """Insert new token rows, all or none: a hash already stored (or twice in ``tokens``) is a key clash."""
        rows = [token_params(t) for t in tokens]
        hashes = {r[0] for r in rows}
        if len(hashes) != len(rows) or any(h in self.tokens for h in hashes):
            raise StorageError("storage operation failed")
        for r in rows:
            self.tokens[r[0]] = _Token(r)


class MemoryStore:
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
        rows = [(kind, doc) for kind, _id, doc in config_rows(config)]
        with self._tx() as d:
            if expected_version is not None and d.version() != expected_version:
                raise VersionConflict(f"configuration version is no longer {expected_version}")
            if idempotency is not None:
                if idempotency.key in d.idempotency:
                    raise VersionConflict("idempotency key already used")
                d.idempotency[idempotency.key] = idempotency
            for subject in revoke_subjects:
                marker = d.revoked_subjects.get(subject)
                if marker is None:
                    d.revoked_subjects[subject] = _Subject(now)
                else:  # never earlier; unsettled again, so purge re-reads the latest expiry later
                    marker.revoked_at, marker.expires_at = max(marker.revoked_at, now), None
            d.config = rows
            return d.bump_version()

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
        self, tokens: Sequence[TokenRecord], *, jti: tuple[str, str, float] | None = None
    ) -> None:
        with self._tx() as d:
            if jti is not None and (jti[0], jti[1]) in d.used_jtis:
                raise JtiReplay(jti[0])
            d.insert_tokens(tokens)
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
        self, code_hash: bytes, application_arn: str, now: float, tokens: Sequence[TokenRecord]
    ) -> Redemption:
        with self._tx() as d:
            row = d.codes.get(code_hash)
            if row is None or row[_C_APP] != application_arn:
                return lost_redemption(None)[0]
            subject_revoked = d.subject_revocation(row[_C_USER], row[_C_APP], row[_C_ISSUED]) is not None
            if row[_C_CONSUMED] is None and row[_C_EXPIRES] > now and not subject_revoked:  # REDEEMABLE_CODE
                d.insert_tokens(tokens)
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
            n += drop(d.codes, lambda c: c[_C_EXPIRES] < now - CODE_PURGE_GRACE_SECONDS)
            n += drop(d.used_jtis, lambda expires_at: expires_at < now)
            n += drop(d.idempotency, lambda r: r.created_at < now - IDEMPOTENCY_TTL_SECONDS)
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
