"""Verification of a JWT-bearer assertion from a trusted token issuer (the signature and the time claims).

Specifications implemented:

* RFC 7523 section 3 (JWT profile for OAuth 2.0 authorization grants): the JWT must contain ``iss`` (here:
  equal to the trusted token issuer's URL, exactly), ``sub``, ``aud`` (present, a string or a non-empty list
  of strings; the caller checks its value against the application) and ``exp`` (the assertion is rejected at
  or after ``exp``, with a small clock-skew leeway); ``nbf`` and ``iat``, when present, are honoured; the
  JWT must be digitally signed (section 3, item 9) and the signature is verified with the issuer's key.
  ``jti`` is required here (a non-empty string of at most 1024 characters) so the caller can refuse replays.
* RFC 7515 (JWS) compact serialisation: exactly three base64url parts (a five-part JWE is refused); a
  ``crit`` header is refused outright (section 4.1.11: we understand no extensions), and so is ``b64`` other
  than ``true`` (RFC 7797). Duplicate member names in the header or the claims are refused (section 5.2)
  rather than resolved by "last wins"; ``NaN``/``Infinity`` are refused too.
* RFC 8725 (JWT BCP): the algorithm is checked against the issuer's allow-list, which is itself intersected
  with the asymmetric algorithms :data:`~ssoidc.oauth.jwks.SUPPORTED_ALGORITHMS` (section 3.1: never
  ``none``, never HMAC, even if the caller's list contains them, so a public key can never double as an HMAC
  secret); the key comes only from the issuer's published JWKS (``jwk``/``jku``/``x5u``/``x5c`` in the
  header are ignored) and is bound to the algorithm (section 3.2); the key type must fit the algorithm.
  Explicit typing (section 3.11): ``typ``, when present, must be ``JWT`` or ``at+jwt`` (with or without the
  ``application/`` prefix, compared case-insensitively, RFC 7515 section 4.1.9), which refuses other JWT
  kinds such as logout tokens, security event tokens or DPoP proofs; a missing ``typ`` is accepted because
  many identity providers omit it.

PyJWT verifies only the signature here: its own ``exp``/``nbf``/``iat``/``aud``/``iss`` checks are turned
off because they read the system clock, and this module checks the claims itself against the injected
``now``.

Error messages (:class:`AssertionInvalid`) name the failed check and never echo the assertion; header values
are only quoted when they are short and made of safe characters.

Bounded lifetimes (RFC 7523 section 3, item 4: "The authorization server MAY reject JWTs with an exp claim value
that is unreasonably far in the future"; item 6: "MAY reject JWTs with an iat claim value that is unreasonably far
in the past"): ``exp - iat`` (or ``exp - now`` when there is no ``iat``) may not exceed ``max_lifetime_seconds``,
and ``now - iat`` may not exceed ``max_age_seconds`` (plus the leeway); NumericDate claims must be JSON numbers
(never booleans or strings), and huge values (``1e50``, ``10**400``) are compared as numbers and refused, never
an overflow.

RFC 7519 section 7.2 / RFC 8259 section 8.1: the header and the claims must be UTF-8 JSON; other encodings
(UTF-16/32, which Python's ``json`` would detect and accept, CESU-8 surrogates) and ``\\uD800``-style unpaired
surrogate escapes are refused. A ``kid`` header, when present, must be a non-empty string (``"kid": null`` is not
"no kid").

Deliberately not done here: checking ``aud`` against the application (the caller does it), replay detection
by ``jti`` (the caller keeps the store), JWE (encrypted assertions) and nested JWTs.
"""

from __future__ import annotations

import binascii
import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Protocol

import jwt

from ssoidc.base64url import b64u_decode
from ssoidc.oauth import jose
from ssoidc.oauth.jwks import SUPPORTED_ALGORITHMS
from ssoidc.strict_json import reject_duplicates

__all__ = [
    "AssertionInvalid",
    "ParsedAssertion",
    "SigningKeySource",
    "VerifiedAssertion",
    "peek_issuer",
    "verify_assertion",
]

#: Longest assertion accepted at all (bounds the work done on input nobody has authenticated yet).
MAX_ASSERTION_LENGTH: Final = 64 * 1024
MAX_JTI_LENGTH: Final = 1024
#: Defaults of ``SSOIDC_ASSERTION_MAX_LIFETIME`` and ``SSOIDC_ASSERTION_MAX_AGE`` (seconds).
DEFAULT_MAX_LIFETIME: Final = 86400.0
DEFAULT_MAX_AGE: Final = 86400.0
_ACCEPTED_TYPES: Final = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_SAFE_VALUE: Final = re.compile(r"[A-Za-z0-9._~+/=:@-]{1,64}")


class AssertionInvalid(Exception):
    """The assertion failed a check. ``message`` is safe to show: it names the check, never the token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SigningKeySource(Protocol):
    """Where verification keys come from; :class:`~ssoidc.oauth.jwks.JwksCache` is the implementation."""

    async def get_signing_key(self, issuer_url: str, kid: str | None, alg: str) -> jwt.PyJWK: ...


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """A verified assertion's JOSE header and claims (read-only views)."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    expires_at: float = 0.0
    """``exp`` as a number (finite: checked against the maximum lifetime)."""
    issued_at: float | None = None
    """``iat`` as a number, if the assertion has one (finite: checked against the maximum age)."""


class ParsedAssertion:
    """An assertion split and decoded from its compact form; *nothing in it is verified yet*.

    The only way to make one is from the token (``ParsedAssertion(token)``, or :func:`peek_issuer`): the
    constructor parses it and the attributes are read-only, so ``header`` and ``claims`` are always the ones the
    signature of ``token`` covers. The JWT-bearer grant reads ``issuer`` to pick the trusted token issuer, then
    hands this object to :func:`verify_assertion`, so the token is parsed once. ``header`` and ``claims`` are
    read-only views.
    """

    __slots__ = ("_claims", "_header", "_issuer", "_token")

    def __init__(self, token: str) -> None:
        header, claims = _split(token)
        self._token = token
        self._issuer = _issuer_of(claims)
        self._header: Mapping[str, Any] = MappingProxyType(header)
        self._claims: Mapping[str, Any] = MappingProxyType(claims)

    @property
    def token(self) -> str:
        return self._token

    @property
    def issuer(self) -> str:
        """The unverified ``iss`` claim (RFC 7519 section 4.1.1), a non-empty string."""
        return self._issuer

    @property
    def header(self) -> Mapping[str, Any]:
        return self._header

    @property
    def claims(self) -> Mapping[str, Any]:
        return self._claims


def _show(value: object) -> str:
    """A header value fit for an error message, or a placeholder."""
    return value if isinstance(value, str) and _SAFE_VALUE.fullmatch(value) else "(unprintable)"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _b64url_json(part: str, what: str) -> dict[str, Any]:
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise AssertionInvalid(f"assertion {what} is not base64url")
    try:
        raw = b64u_decode(part)
    except (binascii.Error, ValueError):
        raise AssertionInvalid(f"assertion {what} is not base64url") from None
    try:
        text = raw.decode(
            "utf-8"
        )  # strict: RFC 7519 section 7.2 (json.loads(bytes) would also take UTF-16/32)
    except UnicodeDecodeError:
        raise AssertionInvalid(f"assertion {what} is not UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=reject_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise AssertionInvalid(f"assertion {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise AssertionInvalid(f"assertion {what} is not a JSON object")
    try:  # an escaped unpaired surrogate ("\\ud800") is valid JSON grammar but no Unicode text (RFC 8259 8.2)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise AssertionInvalid(f"assertion {what} contains an unpaired surrogate escape") from None
    except (ValueError, RecursionError):  # pragma: no cover - what json.loads built, json.dumps can write
        raise AssertionInvalid(f"assertion {what} is not valid JSON") from None
    return value


def _split(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse a compact JWS (RFC 7515 section 7.1) into its header and claims; the signature is only checked to be
    base64url."""
    if not isinstance(token, str) or not token:
        raise AssertionInvalid("assertion is not a well-formed JWT")
    if len(token) > MAX_ASSERTION_LENGTH:
        raise AssertionInvalid(f"assertion is longer than {MAX_ASSERTION_LENGTH} characters")
    parts = token.split(".")
    if len(parts) == 5:
        raise AssertionInvalid("assertion is a JWE; encrypted assertions are not supported")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
        raise AssertionInvalid("assertion is not a well-formed JWT (expected three non-empty parts)")
    header = _b64url_json(parts[0], "header")
    claims = _b64url_json(parts[1], "payload")
    if not _B64URL.fullmatch(parts[2]) or len(parts[2]) % 4 == 1:
        raise AssertionInvalid("assertion signature is not base64url")
    return header, claims


def _issuer_of(claims: Mapping[str, Any]) -> str:
    iss = claims.get("iss")
    if iss is None:
        raise AssertionInvalid("assertion has no iss claim")
    if not isinstance(iss, str) or not iss:
        raise AssertionInvalid("assertion iss claim is not a non-empty string")
    return iss


def peek_issuer(token: str) -> ParsedAssertion:
    """Parse the assertion and read its *unverified* ``iss`` claim, to pick the trusted token issuer before
    verification (RFC 7523 section 3, item 1).

    Nothing returned here is authenticated: pass the result to :func:`verify_assertion`.
    """
    return ParsedAssertion(token)


def _utc(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{timestamp}"


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """An RFC 7519 NumericDate claim as a float (huge integers become +/-inf), or None when absent."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssertionInvalid(f"assertion {name} claim is not a number")
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if not math.isfinite(value):  # the parser already refuses NaN and Infinity; kept for safety
        raise AssertionInvalid(f"assertion {name} claim is not a number")
    return value


def _check_header(header: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, str | None]:
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise AssertionInvalid("assertion header has no alg")
    if alg not in allowed:
        shown = ", ".join(sorted(allowed)) or "none configured"
        raise AssertionInvalid(
            f"assertion algorithm {_show(alg)} is not allowed for this issuer (allowed: {shown})"
        )
    if "crit" in header:
        raise AssertionInvalid("assertion header has a crit parameter; no JWS extensions are supported")
    if "b64" in header and header["b64"] is not True:
        raise AssertionInvalid("assertion header has an unsupported b64 parameter")
    if "typ" in header:
        typ = header["typ"]
        if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
            raise AssertionInvalid(f"assertion typ {_show(typ)} is not accepted (expected JWT or at+jwt)")
    kid = header.get("kid")
    if "kid" in header and (not isinstance(kid, str) or not kid):  # "kid": null is not "no kid"
        raise AssertionInvalid("assertion header kid is not a non-empty string")
    return alg, kid


def _check_signature(token: str, key: jwt.PyJWK, alg: str) -> None:
    signing_input, _, sig = token.rpartition(".")
    try:
        signature = b64u_decode(sig)
    except (binascii.Error, ValueError):
        raise AssertionInvalid("assertion signature is not base64url") from None
    if not jose.verify(signing_input.encode("ascii", "replace"), signature, key.key, alg):
        raise AssertionInvalid("assertion signature is invalid")


def _check_claims(
    claims: Mapping[str, Any],
    *,
    issuer_url: str,
    now: float,
    leeway: float,
    max_lifetime: float,
    max_age: float,
) -> tuple[float, float | None]:
    """Check the claims; returns ``(exp, iat)`` as numbers (both finite once checked)."""
    if _issuer_of(claims) != issuer_url:
        raise AssertionInvalid("assertion issuer does not match the trusted token issuer")

    leeway_text = f"{leeway:g}s"
    exp = _numeric_date(claims, "exp")
    if exp is None:
        raise AssertionInvalid("assertion has no exp claim")
    if not now < exp + leeway:
        raise AssertionInvalid(f"assertion expired at {_utc(exp)} (leeway {leeway_text})")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and now < nbf - leeway:
        raise AssertionInvalid(f"assertion is not valid before {_utc(nbf)} (leeway {leeway_text})")
    iat = _numeric_date(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise AssertionInvalid(f"assertion was issued in the future, at {_utc(iat)} (leeway {leeway_text})")
    # RFC 7523 section 3, items 4 and 6: no unreasonably long-lived or old assertions
    if iat is not None:
        if not exp - iat <= max_lifetime:
            raise AssertionInvalid(
                f"assertion lifetime (exp - iat) is longer than the {max_lifetime:g}s allowed"
                " (SSOIDC_ASSERTION_MAX_LIFETIME)"
            )
        if not now - iat <= max_age + leeway:
            raise AssertionInvalid(
                f"assertion was issued at {_utc(iat)}, more than the {max_age:g}s allowed ago"
                " (SSOIDC_ASSERTION_MAX_AGE)"
            )
    elif not exp - now <= max_lifetime + leeway:
        raise AssertionInvalid(
            f"assertion has no iat and expires more than the {max_lifetime:g}s allowed from now"
            " (SSOIDC_ASSERTION_MAX_LIFETIME)"
        )

    if "jti" not in claims:
        raise AssertionInvalid("assertion has no jti claim")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise AssertionInvalid("assertion jti claim is not a non-empty string")
    if "\x00" in jti:
        raise AssertionInvalid("assertion jti claim contains the character U+0000")
    if len(jti) > MAX_JTI_LENGTH:
        raise AssertionInvalid(f"assertion jti claim is longer than {MAX_JTI_LENGTH} characters")

    if "sub" not in claims:
        raise AssertionInvalid("assertion has no sub claim")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise AssertionInvalid("assertion sub claim is not a non-empty string")

    if "aud" not in claims:
        raise AssertionInvalid("assertion has no aud claim")
    aud = claims["aud"]
    if isinstance(aud, str):
        if not aud:
            raise AssertionInvalid("assertion aud claim is empty")
    elif isinstance(aud, list):
        if not aud or not all(isinstance(a, str) and a for a in aud):
            raise AssertionInvalid("assertion aud claim is not a non-empty list of non-empty strings")
    else:
        raise AssertionInvalid("assertion aud claim is not a string or a list of strings")
    return exp, iat


async def verify_assertion(
    assertion: ParsedAssertion,
    *,
    issuer_url: str,
    allowed_algorithms: Collection[str],
    keys: SigningKeySource,
    now: float,
    leeway_seconds: float,
    max_lifetime_seconds: float = DEFAULT_MAX_LIFETIME,
    max_age_seconds: float = DEFAULT_MAX_AGE,
) -> VerifiedAssertion:
    """Verify the assertion's header, signature and claims (except the ``aud`` value and replay); its form was
    checked when ``assertion`` was parsed (:func:`peek_issuer`), and its header and claims are the token's own.

    Raises :class:`AssertionInvalid` for a bad assertion and lets :class:`~ssoidc.oauth.jwks.IssuerKeyError`
    through when the issuer's key cannot be obtained.
    """
    for name, value in (
        ("leeway_seconds", leeway_seconds),
        ("max_lifetime_seconds", max_lifetime_seconds),
        ("max_age_seconds", max_age_seconds),
    ):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number >= 0")
    allowed = frozenset(a for a in allowed_algorithms if a in SUPPORTED_ALGORITHMS)
    alg, kid = _check_header(assertion.header, allowed)
    key = await keys.get_signing_key(issuer_url, kid, alg)
    _check_signature(assertion.token, key, alg)
    exp, iat = _check_claims(
        assertion.claims,
        issuer_url=issuer_url,
        now=now,
        leeway=leeway_seconds,
        max_lifetime=max_lifetime_seconds,
        max_age=max_age_seconds,
    )
    return VerifiedAssertion(header=assertion.header, claims=assertion.claims, expires_at=exp, issued_at=iat)
