"""What the SQL stores share for session credentials (migration 0015): the statements (``?`` placeholders;
PostgreSQL numbers them with ``common.numbered``) and the row <-> record mappers.

A session credential is one row, read by its primary key (the access key id) when a request signed with it
arrives; the secret access key is sealed under the master key (AAD: ``session:`` + the access key id), the
session token is kept only as its SHA-256.
"""

from __future__ import annotations

from typing import Any

import orjson

from ssoidc.crypto import Sealer
from ssoidc.storage.base import SESSION_PURGE_GRACE_SECONDS, SessionCredentialRecord

SESSION_COLUMNS = (
    "access_key_id",
    "secret_enc",
    "session_token_sha256",
    "principal_arn",
    "source",
    "issued_at",
    "expires_at",
    "role_arn",
    "on_behalf_of_user_id",
    "on_behalf_of_identity_store_arn",
    "session_policy",
)
SESSION_COLS = ", ".join(SESSION_COLUMNS)
INSERT_SESSION_SQL = (
    f"INSERT INTO session_credentials ({SESSION_COLS}) VALUES ({', '.join('?' * len(SESSION_COLUMNS))})"
    " ON CONFLICT (access_key_id) DO NOTHING"
)
GET_SESSION_SQL = f"SELECT {SESSION_COLS} FROM session_credentials WHERE access_key_id = ?"

PURGE_SESSION_SQL: tuple[tuple[str, float], ...] = (
    (
        "DELETE FROM session_credentials WHERE access_key_id IN"
        " (SELECT access_key_id FROM session_credentials WHERE expires_at < ? LIMIT ?)",
        SESSION_PURGE_GRACE_SECONDS,
    ),
)
"""``(statement, age)``, as ``common.PURGE_SQL``: session credentials an hour after they expired."""


def _aad(access_key_id: str) -> bytes:
    return b"session:" + access_key_id.encode()


def session_params(c: SessionCredentialRecord, secrets: Sealer) -> tuple[Any, ...]:
    """The ``INSERT_SESSION_SQL`` parameters of ``c``: the secret sealed, the session policy as JSON."""
    return (
        c.access_key_id,
        secrets.seal(c.secret_access_key.encode(), _aad(c.access_key_id)),
        c.session_token_sha256,
        c.principal_arn,
        c.source,
        c.issued_at,
        c.expires_at,
        c.role_arn,
        c.on_behalf_of_user_id,
        c.on_behalf_of_identity_store_arn,
        None if c.session_policy is None else orjson.dumps(c.session_policy).decode(),
    )


def session_record(row: Any, secrets: Sealer) -> SessionCredentialRecord:
    """The record of a ``GET_SESSION_SQL`` row (or of ``session_params``), its secret opened."""
    akid = str(row[0])
    return SessionCredentialRecord(
        access_key_id=akid,
        secret_access_key=secrets.open(bytes(row[1]), _aad(akid)).decode(),
        session_token_sha256=bytes(row[2]),
        principal_arn=row[3],
        source=row[4],
        issued_at=float(row[5]),
        expires_at=float(row[6]),
        role_arn=row[7],
        on_behalf_of_user_id=row[8],
        on_behalf_of_identity_store_arn=row[9],
        session_policy=None if row[10] is None else orjson.loads(row[10]),
    )
