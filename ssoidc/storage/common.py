"""What the storage implementations share: migration files, row layouts, row <-> record mapping, the SQL both
dialects write the same way, what a lost single-use redemption means, the master-key check value.

Only ``ssoidc.storage`` imports this module. The migrations of each dialect live in ``migrations/<dialect>/``
with the same version numbers (``NNNN_name.sql``), so a schema version means the same tables in both.

Shared statements are written with ``?`` placeholders (SQLite's form); the PostgreSQL store renumbers them once,
at import, with ``numbered``. Row mappers take a row as either driver returns it (a ``sqlite3`` tuple or an
``asyncpg.Record``). Both drivers return ``bytes`` for BLOB/bytea, so the hot mappers (``token_record``,
``code_record``) take those values as they are; the cold ones pass them through ``bytes()`` (no copy for
``bytes``) before they reach the ``Sealer`` or a record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import struct
import time
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any, Literal, NamedTuple

import orjson

from ssoidc.base64url import b64u
from ssoidc.crypto import Sealer, derive_key
from ssoidc.ids import membership_id
from ssoidc.model import (
    AccountAssignment,
    Assignment,
    Configuration,
    Group,
    Membership,
    PermissionSet,
    User,
)
from ssoidc.storage import codec
from ssoidc.storage.base import (
    IDEMPOTENCY_TTL_SECONDS,
    CodeRecord,
    IdempotencyRecord,
    Redemption,
    SigningKey,
    StoredCredential,
    TokenRecord,
    WebSession,
    external_key,
)

Dialect = Literal["sqlite", "postgres"]

TOKEN_COLUMNS = (
    "token_hash",
    "kind",
    "family_id",
    "parent_hash",
    "application_arn",
    "user_id",
    "scopes",
    "issued_at",
    "expires_at",
    "session_expires_at",
    "grant_type",
    "context",
    "revoked_at",
)
"""The columns a new token row is written with, in this order (``retired_at`` starts NULL)."""

CODE_COLUMNS = (
    "code_hash",
    "application_arn",
    "user_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "scopes",
    "family_id",
    "issued_at",
    "expires_at",
    "session_expires_at",
    "auth_time",
    "consumed_at",
    "nonce",
)
"""The columns of an ``auth_codes`` row, in this order (``nonce``: migration 10)."""

TOKEN_COLS = ", ".join(TOKEN_COLUMNS)
"""``TOKEN_COLUMNS`` as an SQL column list."""
CODE_COLS = ", ".join(CODE_COLUMNS)
"""``CODE_COLUMNS`` as an SQL column list."""

# Revoked subjects of a token or code (alias {t}): two primary-key lookups in the small revoked_subjects table.
SUBJECT_JOINS = (
    " LEFT JOIN revoked_subjects su ON su.subject = 'user:' || {t}.user_id AND su.revoked_at >= {t}.issued_at"
    " LEFT JOIN revoked_subjects sa ON sa.subject = 'application:' || {t}.application_arn"
    " AND sa.revoked_at >= {t}.issued_at"
)
"""LEFT JOINs ``su`` / ``sa``: the revocation of the user / the application of row ``{t}``, if it covers it."""
SUBJECT_REVOKED = (
    "EXISTS (SELECT 1 FROM revoked_subjects s WHERE s.subject IN ('user:' || {t}.user_id,"
    " 'application:' || {t}.application_arn) AND s.revoked_at >= {t}.issued_at)"
)
"""True when the user or the application of row ``{t}`` was revoked at or after the row was issued."""

SPENDABLE_REFRESH = (
    "{t}.token_hash = {hash} AND {t}.kind = 'refresh' AND {t}.application_arn = {app} AND {t}.retired_at IS NULL"
    " AND {t}.revoked_at IS NULL AND {t}.expires_at > {now}"
    " AND NOT EXISTS (SELECT 1 FROM revoked_families f WHERE f.family_id = {t}.family_id) AND NOT "
    + SUBJECT_REVOKED
)
"""The WHERE of a refresh rotation: the token of row ``{t}`` may be spent now (``{hash}``, ``{app}``, ``{now}``:
each dialect's placeholders). Both stores' rotate statements use it, so they refuse exactly the same tokens."""
REDEEMABLE_CODE = (
    "{t}.code_hash = {hash} AND {t}.application_arn = {app} AND {t}.consumed_at IS NULL AND {t}.expires_at > {now}"
    " AND NOT " + SUBJECT_REVOKED
)
"""The WHERE of a code redemption, as ``SPENDABLE_REFRESH``."""
REVOKE_FAMILY_SQL = (
    "INSERT INTO revoked_families (family_id, revoked_at, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
"""Revoke a family (family_id, now, expires_at); a family revoked already keeps its first revocation."""
FAMILY_SLOT_SQL = (
    "INSERT INTO family_slots (user_id, application_arn, slot, family_id, expires_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, application_arn, slot) DO UPDATE SET prev_family_id = family_slots.family_id,"
    " prev_expires_at = family_slots.expires_at, family_id = excluded.family_id,"
    " expires_at = excluded.expires_at RETURNING prev_family_id, prev_expires_at"
)
"""PostgreSQL: put a new family in its ring slot (user_id, application_arn, slot, family_id, session end); RETURNs
the family the slot held (NULLs for a slot used for the first time), which the caller revokes if still live."""

RING_RECORD = struct.Struct("<dH")
"""SQLite's ring (migration 0016): each family is (session end, length of its id) then the id's UTF-8 bytes."""
FAMILY_RING_SQL = "SELECT rowid, ring, ring_n FROM family_rings WHERE user_id = ? AND application_arn = ?"
"""SQLite: the ring of (user_id, application_arn), oldest family first, and how many families it holds."""
FAMILY_RING_INSERT_SQL = (
    "INSERT INTO family_rings (user_id, application_arn, ring, ring_n, expires_at) VALUES (?, ?, ?, ?, ?)"
)
"""SQLite: a (user_id, application_arn)'s first ring."""
FAMILY_RING_UPDATE_SQL = (
    "UPDATE family_rings SET ring = ?, ring_n = ?, expires_at = max(expires_at, ?) WHERE rowid = ?"
)
"""SQLite: write a ring back (ring, ring_n, the new family's session end, rowid)."""


def ring_push(
    ring: bytes, n: int, family_id: str, expires_at: float, cap: int, now: float
) -> tuple[bytes, int, list[tuple[str, float]]]:
    """Append a new family to a ring of ``n`` families (oldest first): the new ring, its length, and the families it
    dropped, which the caller revokes if they are other families still live. Families at the front whose session
    has ended at ``now`` are dropped (they count no longer; this keeps a ring short), then the oldest until at
    most ``cap`` remain: with a constant cap, the family dropped live is the one started ``cap`` families earlier
    (``FAMILY_SLOT_SQL``'s slot ring); after the cap is lowered, the oldest go first."""
    dropped: list[tuple[str, float]] = []
    off = 0
    while off < len(ring):
        end, size = RING_RECORD.unpack_from(ring, off)
        if end > now and n < cap:
            break
        start = off + RING_RECORD.size
        dropped.append((ring[start : start + size].decode(), end))
        off = start + size
        n -= 1
    fid = family_id.encode()
    return ring[off:] + RING_RECORD.pack(expires_at, len(fid)) + fid, n + 1, dropped


def started_family(tokens: Sequence[TokenRecord]) -> TokenRecord | None:
    """The refresh token of ``tokens`` that starts a new family (no parent: a JWT-bearer assertion or an
    authorization code), or None (rotation and token exchange continue a family; no refresh token)."""
    for t in tokens:
        if t.kind == "refresh" and t.parent_hash is None:
            return t
    return None


FIND_TOKEN_SQL = (
    "SELECT " + ", ".join("t." + c for c in TOKEN_COLUMNS) + ", t.retired_at,"
    " COALESCE(f.revoked_at, su.revoked_at, sa.revoked_at) FROM tokens t"
    " LEFT JOIN revoked_families f ON f.family_id = t.family_id"
    + SUBJECT_JOINS.format(t="t")
    + " WHERE t.token_hash = ?"
)
"""A token by hash, with its retirement and the revocation of its family or subjects (see ``token_record``)."""
ROTATE_LOSER_SQL = (
    "SELECT t.family_id, t.retired_at, COALESCE(t.revoked_at, f.revoked_at, su.revoked_at, sa.revoked_at),"
    " t.session_expires_at FROM tokens t LEFT JOIN revoked_families f ON f.family_id = t.family_id"
    + SUBJECT_JOINS.format(t="t")
    + " WHERE t.token_hash = ? AND t.kind = 'refresh' AND t.application_arn = ?"
)
"""After a failed rotation: (family_id, retired_at, revoked_at of any kind, session_expires_at) of the old token."""
INSERT_CODE_SQL = f"INSERT INTO auth_codes ({CODE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
"""A new code (see ``code_params``)."""
FIND_CODE_SQL = f"SELECT {CODE_COLS} FROM auth_codes WHERE code_hash = ?"
"""A code by hash (see ``code_record``)."""
REDEEM_LOSER_SQL = (
    "SELECT a.family_id, a.consumed_at, a.session_expires_at, "
    + SUBJECT_REVOKED.format(t="a")
    + " FROM auth_codes a WHERE a.code_hash = ? AND a.application_arn = ?"
)
"""After a failed redemption: (family_id, consumed_at, session_expires_at, subject revoked) of the code."""


# -- a lost rotation or redemption ---------------------------------------------------------------------------------
class FamilyRevocation(NamedTuple):
    """A family the loser of a redemption must revoke (``revoke_family(family_id, now, expires_at)``)."""

    family_id: str
    expires_at: float
    """The family's session end: when the revocation marker may be purged."""


class LostRotation(NamedTuple):
    """The old refresh token of a rotation that did not win (a ``ROTATE_LOSER_SQL`` row)."""

    family_id: str
    retired_at: float | None
    revoked_at: float | None
    """The token's own revocation, its family's or its user's or application's, whichever is set."""
    session_expires_at: float

    @classmethod
    def of(cls, row: Any) -> LostRotation | None:
        return None if row is None else cls(str(row[0]), _opt(row[1]), _opt(row[2]), float(row[3]))


class LostRedemption(NamedTuple):
    """The code of a redemption that did not win (a ``REDEEM_LOSER_SQL`` row)."""

    family_id: str
    consumed_at: float | None
    session_expires_at: float
    subject_revoked: bool
    """The code's user or application was revoked at or after the code was issued."""

    @classmethod
    def of(cls, row: Any) -> LostRedemption | None:
        return None if row is None else cls(str(row[0]), _opt(row[1]), float(row[2]), bool(row[3]))


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def lost_rotation(
    old: LostRotation | None, now: float, grace_seconds: float
) -> tuple[Redemption, FamilyRevocation | None]:
    """What a rotation that changed no row means, and the family to revoke (in the same transaction) if any.

    Unknown, never retired (so expired or bound elsewhere) or revoked: INVALID. Retired within ``grace_seconds``:
    RETRY_IN_GRACE (a client's lost response, retried). Retired earlier: REUSED, and the family is revoked
    (refresh-token reuse detection, OAuth 2.0 Security BCP, RFC 9700 section 4.14.2).
    """
    if old is None or old.retired_at is None or old.revoked_at is not None:
        return Redemption.INVALID, None
    if now - old.retired_at <= grace_seconds:
        return Redemption.RETRY_IN_GRACE, None
    return Redemption.REUSED, FamilyRevocation(old.family_id, old.session_expires_at)


def lost_redemption(code: LostRedemption | None) -> tuple[Redemption, FamilyRevocation | None]:
    """What a code redemption that changed no row means, and the family to revoke if any.

    Unknown, unconsumed (so expired or bound elsewhere) or of a revoked subject: INVALID. Consumed already:
    REUSED, and what the code issued is revoked (RFC 6749 section 4.1.2).
    """
    if code is None or code.consumed_at is None or code.subject_revoked:
        return Redemption.INVALID, None
    return Redemption.REUSED, FamilyRevocation(code.family_id, code.session_expires_at)


# -- failed sign-in attempts ---------------------------------------------------------------------------------------
class Attempts(NamedTuple):
    """The failed sign-in attempts of one key (a ``login_attempts`` row)."""

    failures: int
    first_failure_at: float
    locked_until: float | None

    @classmethod
    def of(cls, row: Any) -> Attempts | None:
        return None if row is None else cls(int(row[0]), float(row[1]), _opt(row[2]))


def next_failure(
    previous: Attempts | None, now: float, *, window: float, threshold: int, lock_seconds: float
) -> Attempts:
    """The attempts after one more failure at ``now`` (``record_failure``).

    A new count starts when there was none, the first failure is more than ``window`` ago, or the previous lock
    has ended; the key is locked for ``lock_seconds`` once the count reaches ``threshold``. (PostgreSQL's
    ``record_failure`` is one upsert that says the same in SQL.)
    """
    if (
        previous is None
        or now - previous.first_failure_at > window
        or (previous.locked_until is not None and previous.locked_until <= now)
    ):
        failures, first = 1, now
    else:
        failures, first = previous.failures + 1, previous.first_failure_at
    return Attempts(failures, first, now + lock_seconds if failures >= threshold else None)


# -- purge -----------------------------------------------------------------------------------------------------
CODE_PURGE_GRACE_SECONDS = 86400.0
"""Codes are kept this long past their expiry, so a late replay still revokes its family (RFC 6749 4.1.2)."""

REVOCATION_SETTLE_SECONDS = 600.0
"""A revoked subject's marker gets its expiry this long after the revocation: longer than any request takes from
choosing its ``issued_at`` to committing, so every token or code it covers is in the tables when the latest expiry
is read (see migration 0007)."""

PURGE_FAMILY_SLOTS_SQL = (
    "DELETE FROM family_slots WHERE (user_id, application_arn, slot) IN"
    " (SELECT user_id, application_arn, slot FROM family_slots WHERE expires_at < ? LIMIT ?)",
    0.0,
)
"""PostgreSQL's ring slots whose family has ended (SQLite sweeps its rings instead: ``RING_SWEEP_SQL``)."""
RING_SWEEP_SQL = "SELECT count(*), max(r) FROM (SELECT rowid AS r FROM family_rings WHERE rowid > ? ORDER BY rowid LIMIT ?)"
"""SQLite: how many rings the next sweep step holds (the ones after a cursor) and its last rowid."""
RING_PURGE_SQL = "DELETE FROM family_rings WHERE rowid > ? AND rowid <= ? AND expires_at < ?"
"""SQLite: delete the rings of one sweep step whose every family has ended."""

PURGE_SQL: tuple[tuple[str, float], ...] = (
    (
        "DELETE FROM tokens WHERE token_hash IN (SELECT token_hash FROM tokens WHERE expires_at < ? LIMIT ?)",
        0.0,
    ),
    (
        "DELETE FROM web_sessions WHERE sid_hash IN (SELECT sid_hash FROM web_sessions WHERE expires_at < ? LIMIT ?)",
        0.0,
    ),
    (
        "DELETE FROM revoked_families WHERE family_id IN"
        " (SELECT family_id FROM revoked_families WHERE expires_at < ? LIMIT ?)",
        0.0,
    ),
    (
        "DELETE FROM auth_codes WHERE code_hash IN (SELECT code_hash FROM auth_codes WHERE expires_at < ? LIMIT ?)",
        CODE_PURGE_GRACE_SECONDS,
    ),
    (
        "DELETE FROM used_jtis WHERE (issuer, jti) IN (SELECT issuer, jti FROM used_jtis WHERE expires_at < ? LIMIT ?)",
        0.0,
    ),
    (
        "DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE created_at < ? LIMIT ?)",
        float(IDEMPOTENCY_TTL_SECONDS),
    ),
    # A revoked subject's marker: the outer WHERE repeats the subquery's condition, so a marker that a concurrent
    # second revocation just reset (expires_at NULL, a later revoked_at) is re-checked on its new version and left
    # alone; the subqueries take rows in key order, as replace_configuration does, so the two cannot deadlock.
    (  # settle: every token or code issued before the revocation is committed by now, so none outlives this
        "UPDATE revoked_subjects SET expires_at = COALESCE((SELECT MAX(m) FROM (SELECT MAX(expires_at) AS m FROM tokens"
        " UNION ALL SELECT MAX(expires_at) AS m FROM auth_codes) AS latest), 0) WHERE subject IN (SELECT subject"
        " FROM revoked_subjects WHERE expires_at IS NULL AND revoked_at < ? ORDER BY subject LIMIT ?)"
        " AND expires_at IS NULL AND revoked_at < ?",
        REVOCATION_SETTLE_SECONDS,
    ),
    (
        "DELETE FROM revoked_subjects WHERE subject IN"
        " (SELECT subject FROM revoked_subjects WHERE expires_at < ? ORDER BY subject LIMIT ?) AND expires_at < ?",
        0.0,
    ),
)
"""``purge_expired``'s batches: (statement, how long before now its cutoff is); see ``purge_params``. The ages
are named constants (``CODE_PURGE_GRACE_SECONDS``, ``IDEMPOTENCY_TTL_SECONDS``, ``REVOCATION_SETTLE_SECONDS``),
which the memory store's purge uses too."""


def purge_params(sql: str, cutoff: float, limit: int) -> tuple[float | int, ...]:
    """The parameters of a ``PURGE_SQL`` statement: (cutoff, limit), and the cutoff again where the statement
    re-checks it on the rows it changes."""
    return (cutoff, limit, cutoff) if sql.count("?") == 3 else (cutoff, limit)


LOAD_CREDENTIALS_SQL = (
    "SELECT access_key_id, secret_enc, principal_arn, session_token_sha256, policy, description, created_at"
    " FROM credentials ORDER BY created_at, access_key_id"
)
"""Every credential, oldest first (see ``credential``)."""
INSERT_CREDENTIAL_SQL = (
    "INSERT INTO credentials (access_key_id, secret_enc, principal_arn, session_token_sha256, policy,"
    " description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (access_key_id) DO NOTHING"
)
"""A new credential (see ``credential_params``); a taken access key id inserts nothing (the caller raises
``AlreadyExists``), any other constraint still fails the statement."""
SIGNING_KEYS_SQL = (
    "SELECT kid, purpose, alg, private_enc, created_at, active FROM signing_keys WHERE purpose = ?"
    " ORDER BY created_at DESC"
)
"""The signing keys of a purpose, newest first (see ``signing_key``)."""


def numbered(sql: str) -> str:
    """``sql`` with its ``?`` placeholders numbered ``$1``, ``$2``, ... in order (PostgreSQL's form).

    For the shared statements of this module, none of which has a ``?`` inside a literal.
    """
    parts = sql.split("?")
    return parts[0] + "".join(f"${i}{p}" for i, p in enumerate(parts[1:], 1))


# -- records <-> rows ----------------------------------------------------------------------------------------------
def token_params(t: TokenRecord) -> tuple[Any, ...]:
    """A new token's row in ``TOKEN_COLUMNS`` order: scopes space-separated, context as JSON (UTF-8 bytes)."""
    return (
        t.token_hash,
        t.kind,
        t.family_id,
        t.parent_hash,
        t.application_arn,
        t.user_id,
        " ".join(t.scopes),
        t.issued_at,
        t.expires_at,
        t.session_expires_at,
        t.grant_type,
        orjson.dumps(t.context),
        t.revoked_at,
    )


TOKEN_CONTEXT = TOKEN_COLUMNS.index("context")
"""Index of the context (JSON) in a ``token_params`` row."""


def token_record(row: Any) -> TokenRecord:
    """The token of a ``FIND_TOKEN_SQL`` row: a revoked family or subject counts as the token's own revocation."""
    return TokenRecord(
        token_hash=row[0],
        kind=row[1],
        family_id=row[2],
        parent_hash=row[3],
        application_arn=row[4],
        user_id=row[5],
        scopes=tuple(row[6].split()),
        issued_at=row[7],
        expires_at=row[8],
        session_expires_at=row[9],
        grant_type=row[10],
        context=orjson.loads(row[11]),
        revoked_at=row[12] if row[12] is not None else row[14],
        retired_at=row[13],
    )


def code_params(code: CodeRecord) -> tuple[Any, ...]:
    """A new code's row in ``CODE_COLUMNS`` order (scopes space-separated)."""
    return (
        code.code_hash,
        code.application_arn,
        code.user_id,
        code.redirect_uri,
        code.code_challenge,
        code.code_challenge_method,
        " ".join(code.scopes),
        code.family_id,
        code.issued_at,
        code.expires_at,
        code.session_expires_at,
        code.auth_time,
        code.consumed_at,
        code.nonce,
    )


def code_record(row: Any) -> CodeRecord:
    """The code of a ``FIND_CODE_SQL`` row."""
    return CodeRecord(
        code_hash=row[0],
        application_arn=row[1],
        user_id=row[2],
        redirect_uri=row[3],
        code_challenge=row[4],
        code_challenge_method=row[5],
        scopes=tuple(row[6].split()),
        family_id=row[7],
        issued_at=row[8],
        expires_at=row[9],
        session_expires_at=row[10],
        auth_time=row[11],
        consumed_at=row[12],
        nonce=row[13],
    )


def credential_params(cred: StoredCredential, secrets: Sealer) -> tuple[Any, ...]:
    """The ``INSERT_CREDENTIAL_SQL`` parameters of ``cred``.

    The secret is sealed with ``secrets`` (AAD: the access key id), the policy stored as JSON; a ``created_at`` of
    0 means now.
    """
    return (
        cred.access_key_id,
        secrets.seal(cred.secret_access_key.encode(), cred.access_key_id.encode()),
        cred.principal_arn,
        cred.session_token_sha256,
        orjson.dumps(cred.policy).decode() if cred.policy is not None else None,
        cred.description,
        cred.created_at or time.time(),
    )


def credential(row: Any, secrets: Sealer) -> StoredCredential:
    """The credential of a ``LOAD_CREDENTIALS_SQL`` row, its secret opened with ``secrets``."""
    akid, enc, arn, st, policy, desc, created = row
    return StoredCredential(
        akid,
        secrets.open(bytes(enc), akid.encode()).decode(),
        arn,
        None if st is None else bytes(st),
        orjson.loads(policy) if policy else None,
        desc,
        float(created),
    )


def signing_key(row: Any, keys: Sealer) -> SigningKey:
    """The key of a ``SIGNING_KEYS_SQL`` row, its private key opened with ``keys`` (AAD: the kid)."""
    kid, purpose, alg, enc, created, active = row
    return SigningKey(kid, purpose, alg, keys.open(bytes(enc), kid.encode()), float(created), bool(active))


def idempotency_record(row: Any) -> IdempotencyRecord | None:
    """The record of a ``(key, request_sha256, response, created_at)`` row; None for no row."""
    return None if row is None else IdempotencyRecord(row[0], bytes(row[1]), row[2], float(row[3]))


def web_session(row: Any) -> WebSession | None:
    """The session of a ``(user_id, auth_time, expires_at)`` row; None for no row."""
    return None if row is None else WebSession(row[0], float(row[1]), float(row[2]))


SECRET_PURPOSE = "credential-secret"  # noqa: S105 - a Sealer purpose label, not a secret
"""Sealer purpose of SigV4 secret access keys (AAD: the access key id)."""
SIGNING_KEY_PURPOSE = "signing-key"
"""Sealer purpose of private signing keys (AAD: the kid)."""

MASTER_KEY_CHECK_META = "master_key_check"
"""``meta`` key of the master-key check value, written at first start."""
MASTER_KEY_MISMATCH = (
    "the master key differs from the one this store was created with: every node sharing a database must use"
    " the same SSOIDC_MASTER_KEY"
)


def master_key_check(master_key: bytes) -> str:
    """A value that identifies the master key without revealing it: HMAC-SHA256 of a constant under a derived key."""
    mac = hmac.new(derive_key(master_key, "master-key-check"), b"ssoidc master key check v1", hashlib.sha256)
    return b64u(mac.digest())


def same_check(stored: str, expected: str) -> bool:
    return hmac.compare_digest(stored.encode(), expected.encode())


def migrations(dialect: Dialect) -> list[tuple[int, str, str]]:
    """``(version, file name, SQL)`` of every migration of ``dialect``, in version order."""
    out = []
    for entry in resources.files("ssoidc.storage").joinpath("migrations", dialect).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text()))
    return sorted(out)


def statements(sql: str) -> list[str]:
    """Split a migration file into statements (comment lines dropped; no ';' inside literals by convention)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


CATALOGUE_KINDS = ("instance", "issuer", "application", "account", "role")
"""The ``config_resources`` kinds: the catalogue, read whole into every worker's snapshot."""


def config_rows(config: Configuration) -> list[tuple[str, str, str]]:
    """``config_resources`` rows ``(kind, id, JSON document)`` of the catalogue of ``config`` (the instance,
    issuers, applications and IAM roles), in the order they are stored. The directory has tables of its own."""
    rows = [("instance", config.instance.instance_arn, codec.to_doc(config.instance))]
    rows += [("issuer", t.arn, codec.to_doc(t)) for t in config.trusted_token_issuers]
    rows += [("application", a.arn, codec.to_doc(a)) for a in config.applications]
    rows += [("account", a.account_id, codec.to_doc(a)) for a in config.accounts]
    rows += [("role", r.arn, codec.to_doc(r)) for r in config.roles]
    return [(k, i, orjson.dumps(d).decode()) for k, i, d in rows]


def config_from_rows(
    rows: Iterable[tuple[str, str | bytes]],
    users: Iterable[User] = (),
    groups: Iterable[Group] = (),
    assignments: Iterable[Assignment] = (),
    permission_sets: Iterable[PermissionSet] = (),
    account_assignments: Iterable[AccountAssignment] = (),
) -> Configuration | None:
    """The configuration of catalogue rows ``(kind, JSON document)`` (in stored order) and the directory;
    None if there is no instance."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for kind, doc in rows:
        by_kind.setdefault(kind, []).append(orjson.loads(doc))
    if not by_kind.get("instance"):
        return None
    return Configuration(
        instance=codec.instance_from_doc(by_kind["instance"][0]),
        trusted_token_issuers=tuple(codec.issuer_from_doc(d) for d in by_kind.get("issuer", [])),
        applications=tuple(codec.application_from_doc(d) for d in by_kind.get("application", [])),
        users=tuple(users),
        groups=tuple(groups),
        assignments=tuple(assignments),
        accounts=tuple(codec.account_from_doc(d) for d in by_kind.get("account", [])),
        permission_sets=tuple(permission_sets),
        account_assignments=tuple(account_assignments),
        roles=tuple(codec.role_from_doc(d) for d in by_kind.get("role", [])),
    )


# -- the directory: users, groups, memberships, assignments -------------------------------------------------------
def user_name_key(user_name: str) -> str:
    """The unique key of a UserName: the identity store compares names case-insensitively."""
    return user_name.lower()


def user_attributes(user: User) -> list[tuple[str, str]]:
    """The ``(attribute, value)`` index rows of a user (``DirectoryStore``'s lookup attributes but username)."""
    out = {("emails.value", e.value) for e in user.emails if e.value}
    for x in user.external_ids:
        out |= {
            ("externalids", x.id),
            (f"externalids.{x.issuer.lower()}", x.id),
            ("externalid", external_key(x)),
        }
    return sorted(out)


def group_attributes(group: Group) -> list[tuple[str, str]]:
    """The ``(attribute, value)`` index rows of a group (its external ids; displayname has its own column)."""
    return sorted({("externalid", external_key(x)) for x in group.external_ids})


def user_doc(user: User) -> str:
    return orjson.dumps(codec.to_doc(user)).decode()


def group_doc(group: Group) -> str:
    """A group's document, without its members (they are ``memberships`` rows)."""
    doc = codec.to_doc(group)
    doc["members"] = []
    return orjson.dumps(doc).decode()


def user_of(doc: str | bytes) -> User:
    return codec.user_from_doc(orjson.loads(doc))


def group_of(doc: str | bytes, members: Iterable[str] = ()) -> Group:
    group = codec.group_from_doc(orjson.loads(doc))
    return dataclasses.replace(group, member_user_ids=tuple(members))


def assignment_key(a: Assignment) -> str:
    """The change-feed key of an assignment."""
    return f"{a.application_arn}|{a.principal_type}|{a.principal_id}"


def principal_order(a: Assignment) -> str:
    """The order of an application's assignments (ListApplicationAssignments' pages)."""
    return f"{a.principal_type}/{a.principal_id}"


def memberships_of(groups: Iterable[Group]) -> list[Membership]:
    """Every membership ``groups`` list, in order."""
    return [
        Membership(membership_id(g.group_id, uid), g.group_id, uid)
        for g in groups
        for uid in g.member_user_ids
    ]


def legacy_directory(
    rows: Iterable[tuple[str, str | bytes]],
) -> tuple[list[User], list[Group], list[Assignment]]:
    """The directory stored as ``config_resources`` documents before migration 8 (kinds user, group, assignment,
    in stored order): what that migration moves into the directory tables."""
    users: list[User] = []
    groups: list[Group] = []
    assignments: list[Assignment] = []
    for kind, doc in rows:
        d = orjson.loads(doc)
        if kind == "user":
            users.append(codec.user_from_doc(d))
        elif kind == "group":
            groups.append(codec.group_from_doc(d))
        elif kind == "assignment":
            assignments.append(codec.assignment_from_doc(d))
    return users, groups, assignments


def catalogue_only(config: Configuration) -> Configuration:
    return dataclasses.replace(
        config, users=(), groups=(), assignments=(), permission_sets=(), account_assignments=()
    )


def clears_directory(stored: Configuration | None, new: Configuration) -> bool:
    """A catalogue write that replaces the instance, or leaves it not ACTIVE, empties the directory."""
    return new.instance.status != "ACTIVE" or (
        stored is not None and stored.instance.instance_arn != new.instance.instance_arn
    )
