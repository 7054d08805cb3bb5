"""Revocation of one token (RFC 7009 section 2.1, ``POST /revoke`` of an access token): the statement both SQL
stores run (``?`` placeholders; PostgreSQL numbers them with ``common.numbered``). No migration: ``tokens.revoked_at``
exists since 0001."""

from __future__ import annotations

REVOKE_TOKEN_SQL = "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL"  # noqa: S105 - SQL, not a secret
"""Revoke one token by hash; the first revocation stands (a second one changes nothing)."""
