"""PKCE (RFC 7636): verifier syntax (section 4.1) and the S256 challenge check (section 4.6).

Only ``S256`` is accepted: ``plain`` protects nothing once the authorization request is observed (RFC 9700
section 2.1.1: use S256, plain SHOULD NOT be used), and a request that names no ``code_challenge_method`` means
``plain`` (RFC 7636 section 4.3), so it is refused too. Discovery lists ``code_challenge_methods_supported:
["S256"]`` (RFC 8414 section 2), the way RFC 9700 section 2.1.1 asks a server to show its PKCE support.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ssoidc.base64url import b64u

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
METHODS = ("S256",)
"""The accepted ``code_challenge_method`` values."""


def s256(verifier: str) -> str:
    """The S256 ``code_challenge`` of ``verifier`` (RFC 7636 section 4.2): BASE64URL(SHA256(ASCII(verifier)))."""
    return b64u(hashlib.sha256(verifier.encode("ascii")).digest())


def verifier_is_well_formed(verifier: str) -> bool:
    """``code_verifier`` syntax (RFC 7636 section 4.1): 43 to 128 unreserved characters."""
    return _VERIFIER.fullmatch(verifier) is not None


def challenge_is_well_formed(challenge: str) -> bool:
    """``code_challenge`` syntax: the verifier's alphabet and length (RFC 7636 sections 4.2 and 4.3; an S256
    challenge is always 43 characters)."""
    return _VERIFIER.fullmatch(challenge) is not None


def verify(verifier: str, challenge: str, method: str) -> bool:
    """True if ``verifier`` matches ``challenge`` under ``method`` (S256 only); never raises."""
    if not verifier_is_well_formed(verifier) or method != "S256":
        return False
    computed = s256(verifier)
    return hmac.compare_digest(computed.encode(), challenge.encode("utf-8", "replace"))
