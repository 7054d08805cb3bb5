"""Opaque access and refresh tokens, and the sealed identity context.

* Access tokens look like AWS's: ``aoa`` + 43 base64url chars (256 random bits) + ``:`` + a 22-char MAC tag.
  Refresh tokens use ``aor``. The MAC (HMAC-SHA256 under a key derived from the master key, truncated to 128 bits)
  lets the server reject forged or mistyped tokens without a store lookup; the store keeps only SHA-256 hashes.
* The identity context (``sts:identity_context`` and ``awsAdditionalDetails.identityContext``) is an opaque blob:
  base64 of AES-256-GCM over a small JSON document, sealed under a purpose key so ssoidc (or a companion STS
  emulator sharing the master key) can verify and read it later with ``open_identity_context``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from ssoidc.crypto import Sealer, b64u, derive_key

ACCESS_PREFIX = "aoa"
REFRESH_PREFIX = "aor"


class TokenMinter:
    def __init__(self, master_key: bytes) -> None:
        self._mac_key = derive_key(master_key, "token-mac")
        self._ctx = Sealer(master_key, "identity-context")

    def mint(self, kind: Literal["access", "refresh"]) -> tuple[str, bytes]:
        """Return ``(token, sha256(token))``."""
        prefix = ACCESS_PREFIX if kind == "access" else REFRESH_PREFIX
        body = prefix + secrets.token_urlsafe(32)
        tag = b64u(hmac.new(self._mac_key, body.encode(), hashlib.sha256).digest()[:16])
        token = f"{body}:{tag}"
        return token, hashlib.sha256(token.encode()).digest()

    def check(self, token: str, kind: Literal["access", "refresh"]) -> bytes | None:
        """Return the token's hash if it is well formed and carries our MAC, else None. Never raises."""
        prefix = ACCESS_PREFIX if kind == "access" else REFRESH_PREFIX
        if not isinstance(token, str) or len(token) > 200 or not token.startswith(prefix):
            return None
        body, sep, tag = token.rpartition(":")
        if not sep:
            return None
        want = b64u(hmac.new(self._mac_key, body.encode("utf-8", "replace"), hashlib.sha256).digest()[:16])
        if not hmac.compare_digest(want.encode(), tag.encode("utf-8", "replace")):
            return None
        return hashlib.sha256(token.encode()).digest()

    def seal_identity_context(self, context: Mapping[str, Any]) -> str:
        return base64.b64encode(self._ctx.seal(orjson.dumps(context), b"identity-context")).decode()

    def open_identity_context(self, blob: str) -> dict[str, Any]:
        """Verify and decrypt an identity context; raises ``ValueError`` if it is not one of ours."""
        try:
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, TypeError):
            raise ValueError("identity context is not base64") from None
        doc = orjson.loads(self._ctx.open(raw, b"identity-context"))
        if not isinstance(doc, dict):
            raise ValueError("identity context is malformed")
        return doc
