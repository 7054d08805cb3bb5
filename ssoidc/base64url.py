"""base64url without padding (RFC 4648 section 5; RFC 7515 section 2 "Base64url Encoding"): the one copy.

Used by JWS (``ssoidc.oauth.jose``, ``ssoidc.oauth.assertion``), PKCE S256 challenges (RFC 7636 section 4.2),
tokens and MACs (``ssoidc.oauth.tokens``, ``ssoidc.storage.common``, the sign-in CSRF token), the master key and
List* ``NextToken`` values (``ssoidc.admin.paging``).
"""

from __future__ import annotations

import base64

__all__ = ["b64u", "b64u_decode"]


def b64u(data: bytes) -> str:
    """``data`` in the URL-safe alphabet (``-`` and ``_``), without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """The bytes of unpadded (or padded) base64url ``text``; raises ``ValueError`` (``binascii.Error``) if it
    does not decode.

    As lenient as :func:`base64.urlsafe_b64decode`: characters outside the alphabet are discarded, not refused.
    A caller that must refuse them checks the text first (``ssoidc.oauth.assertion`` does).
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
