"""Opaque access and refresh tokens, and the sealed identity context.

* Access tokens look like AWS's: ``aoa`` + 43 base64url chars (256 random bits) + ``:`` + a 22-char MAC tag.
  The MAC (HMAC-SHA256 under a key derived from the master key, truncated to 128 bits) lets the server reject
  forged or mistyped tokens without a store lookup; the store keeps only SHA-256 hashes.
* Refresh tokens (``aor``) are sealed: ``aor`` + base64url(header || ciphertext) + ``:`` + base64url(SIV tag), where
  the 9-byte header is the issue time (big-endian u64 seconds, so tokens start ``aorAAAAAG`` as AWS's do) and a
  format byte, and the ciphertext is AES-256-SIV (RFC 5297, deterministic authenticated encryption: no nonce to
  reuse) of what the refresh grant needs to mint the next set (user, scopes, family, expiries, ``auth_time``,
  ``act``) plus 128 random bits. The header and the application ARN are associated data, so a token only opens for
  the application it was issued to. The refresh grant reads the token instead of the store and goes straight to
  the conditional rotation, which is still the authority on whether the token may be spent (single use, expiry,
  revocation of family, user or application): one store round trip per refresh instead of two. A refresh token
  that would not fit in ``REFRESH_MAX_CHARS``, and every refresh token minted before this format (``aor`` + 43
  chars + ``:`` + MAC, as access tokens), is read from the store as before.
* The identity context (``sts:identity_context`` and ``awsAdditionalDetails.identityContext``) is an opaque blob:
  base64 of AES-256-GCM-SIV over a small JSON document, sealed under a purpose key so ssoidc (or a companion STS
  emulator sharing the master key) can verify and read it later with ``open_identity_context``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from ssoidc.base64url import b64u, b64u_decode
from ssoidc.crypto import Sealer, derive_key

ACCESS_PREFIX = "aoa"
REFRESH_PREFIX = "aor"
MAC_TOKEN_BODY_CHARS = 3 + 43
"""Length of the part before ``:`` of an access token and of a refresh token of the MAC format."""
REFRESH_MAX_CHARS = 2048
"""Longest refresh token minted sealed (a longer one, from a deep ``act`` chain, is minted in the MAC format) and
longest accepted."""
_REFRESH_FORMAT = 1
_HEADER = struct.Struct(">QB")  # issued-at seconds, format: 9 bytes = exactly 12 base64url characters


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    """What a sealed refresh token carries: the immutable fields of its store row that the refresh grant needs."""

    user_id: str
    scopes: tuple[str, ...]
    family_id: str
    issued_at: float
    expires_at: float
    session_expires_at: float
    auth_time: float
    act: dict[str, Any] | None


class TokenMinter:
    def __init__(self, master_key: bytes, *, sealed_refresh: bool = True) -> None:
        """``sealed_refresh=False``: ``mint_refresh`` mints the MAC format (``SSOIDC_REFRESH_TOKEN_FORMAT=mac``)."""
        self._sealed_refresh = sealed_refresh
        self._mac_key = derive_key(master_key, "token-mac")
        self._ctx = Sealer(master_key, "identity-context")
        self._refresh = AESSIV(derive_key(master_key, "refresh-token", 64))

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

    def mint_refresh(self, application_arn: str, claims: RefreshClaims) -> tuple[str, bytes]:
        """Return ``(token, sha256(token))`` for a sealed refresh token (MAC format if it would be too long, or if
        this minter was made with ``sealed_refresh=False``)."""
        if not self._sealed_refresh:
            return self.mint("refresh")
        header = _HEADER.pack(max(0, int(claims.issued_at)), _REFRESH_FORMAT)
        doc: dict[str, Any] = {
            "u": claims.user_id,
            "s": list(claims.scopes),
            "f": claims.family_id,
            "i": claims.issued_at,
            "x": claims.expires_at,
            "e": claims.session_expires_at,
            "t": claims.auth_time,
            "n": secrets.token_urlsafe(16),
        }
        if claims.act is not None:
            doc["a"] = claims.act
        sealed = self._refresh.encrypt(
            orjson.dumps(doc), [REFRESH_PREFIX.encode(), header, application_arn.encode()]
        )
        token = f"{REFRESH_PREFIX}{b64u(header + sealed[16:])}:{b64u(sealed[:16])}"
        if len(token) > REFRESH_MAX_CHARS:
            return self.mint("refresh")
        return token, hashlib.sha256(token.encode()).digest()

    def open_refresh(self, token: str, application_arn: str) -> tuple[bytes, RefreshClaims | None] | None:
        """Check a refresh token presented by ``application_arn``; never raises.

        Returns None if it is malformed, forged, or sealed for another application; ``(hash, claims)`` for a sealed
        token; ``(hash, None)`` for a valid MAC-format token, whose fields only the store has.
        """
        if (
            not isinstance(token, str)
            or len(token) > REFRESH_MAX_CHARS
            or not token.startswith(REFRESH_PREFIX)
        ):
            return None
        body, sep, tag = token.rpartition(":")
        if not sep:
            return None
        if len(body) == MAC_TOKEN_BODY_CHARS:
            token_hash = self.check(token, "refresh")
            return None if token_hash is None else (token_hash, None)
        try:
            raw = b64u_decode(body[len(REFRESH_PREFIX) :])
            siv = b64u_decode(tag)
            if len(raw) <= _HEADER.size or len(siv) != 16 or raw[_HEADER.size - 1] != _REFRESH_FORMAT:
                return None
            if b64u(raw) != body[len(REFRESH_PREFIX) :] or b64u(siv) != tag:
                return None  # one spelling per token: the store knows the hash of exactly that one
            header = raw[: _HEADER.size]
            doc = orjson.loads(
                self._refresh.decrypt(
                    siv + raw[_HEADER.size :], [REFRESH_PREFIX.encode(), header, application_arn.encode()]
                )
            )
            if not isinstance(doc, dict):
                return None
            act = doc.get("a")
            claims = RefreshClaims(
                user_id=str(doc["u"]),
                scopes=tuple(str(s) for s in doc["s"]),
                family_id=str(doc["f"]),
                issued_at=float(doc["i"]),
                expires_at=float(doc["x"]),
                session_expires_at=float(doc["e"]),
                auth_time=float(doc["t"]),
                act=act if isinstance(act, dict) else None,
            )
        except (ValueError, TypeError, KeyError, InvalidTag, orjson.JSONDecodeError):
            return None
        return hashlib.sha256(token.encode()).digest(), claims

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
