"""What the SQLite and PostgreSQL stores share: migration files, row layouts, the master-key check value.

Only ``ssoidc.storage`` imports this module. The migrations of each dialect live in ``migrations/<dialect>/``
with the same version numbers (``NNNN_name.sql``), so a schema version means the same tables in both.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from importlib import resources
from typing import Any, Literal

import orjson

from ssoidc.crypto import b64u, derive_key
from ssoidc.model import Configuration
from ssoidc.storage import codec

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
)

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


def config_rows(config: Configuration) -> list[tuple[str, str, str]]:
    """``config_resources`` rows ``(kind, id, JSON document)`` of ``config``, in the order they are stored."""
    rows = [("instance", config.instance.instance_arn, codec.to_doc(config.instance))]
    rows += [("issuer", t.arn, codec.to_doc(t)) for t in config.trusted_token_issuers]
    rows += [("application", a.arn, codec.to_doc(a)) for a in config.applications]
    rows += [("user", u.user_id, codec.to_doc(u)) for u in config.users]
    rows += [("group", g.group_id, codec.to_doc(g)) for g in config.groups]
    rows += [
        ("assignment", f"{a.application_arn}|{a.principal_type}|{a.principal_id}", codec.to_doc(a))
        for a in config.assignments
    ]
    return [(k, i, orjson.dumps(d).decode()) for k, i, d in rows]


def config_from_rows(rows: Iterable[tuple[str, str | bytes]]) -> Configuration | None:
    """The configuration stored as ``(kind, JSON document)`` rows (in stored order); None if there is none."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for kind, doc in rows:
        by_kind.setdefault(kind, []).append(orjson.loads(doc))
    if not by_kind.get("instance"):
        return None
    return Configuration(
        instance=codec.instance_from_doc(by_kind["instance"][0]),
        trusted_token_issuers=tuple(codec.issuer_from_doc(d) for d in by_kind.get("issuer", [])),
        applications=tuple(codec.application_from_doc(d) for d in by_kind.get("application", [])),
        users=tuple(codec.user_from_doc(d) for d in by_kind.get("user", [])),
        groups=tuple(codec.group_from_doc(d) for d in by_kind.get("group", [])),
        assignments=tuple(codec.assignment_from_doc(d) for d in by_kind.get("assignment", [])),
    )
