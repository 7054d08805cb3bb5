"""Server-side verification of AWS Signature Version 4 (``AWS4-HMAC-SHA256``), Authorization-header form.

What this implements
    The verifier rebuilds the SigV4 canonical request from the request exactly as it arrived on the wire and
    compares signatures the way AWS does for non-S3 services (and the way ``botocore.auth.SigV4Auth`` signs):

    * canonical URI: the raw (already once percent-encoded) path, dot segments and repeated slashes removed
      (RFC 3986 5.2.4 as botocore does it), then percent-encoded again with only ``/`` and ``~`` kept;
    * canonical query: each ``key=value`` decoded (``+`` means space) and re-encoded with the unreserved set
      ``A-Z a-z 0-9 - _ . ~``, sorted by key then value; empty items and items without ``=`` are kept as
      botocore keeps them;
    * canonical headers: only the headers named in ``SignedHeaders``; repeated headers joined with ``,``;
      values decoded as latin-1, trimmed and with runs of whitespace collapsed to one space;
    * payload hash: SHA-256 of the bytes actually received (a signed ``x-amz-content-sha256`` must agree);
    * signing keys (the four-step HMAC chain) are cached per verifier in a small bounded LRU cache.

    Policy on top of the algorithm: ``host`` and ``x-amz-date`` must be signed; every ``x-amz-*`` header that
    is present must be signed, and so must ``Content-Type`` (it says how the body is read; botocore and the
    JS SDK sign it); the signed ``host`` must be one of the verifier's ``allowed_hosts`` (the deployment's own
    names: a request signed for another deployment sharing the key is not replayed here); the ``x-amz-date`` must fall within ``max_skew_seconds`` of now (compared at
    whole-second resolution, bounds inclusive) and match the credential-scope date; the scope must name the
    configured region and one of the configured services; session credentials must present their signed
    ``x-amz-security-token`` and long-term credentials must not send one; session credentials past their
    ``expires_at`` are refused (``ExpiredCredentials``) once the token and signature have been verified.

What this deliberately does not do
    * presigned (query-string) authentication, SigV4a (``AWS4-ECDSA-P256-SHA256``), SigV2, or the ``Date``
      header as an alternative to ``x-amz-date``;
    * S3 rules (no path normalisation exemption, no ``UNSIGNED-PAYLOAD``, no chunked/streaming payloads);
    * replay protection beyond the clock-skew window, and any authorization (IAM policy) decision.

Every failure raises an :class:`~ssoidc.errors.AuthError` subclass whose message is safe to return to the
caller: it never contains a secret key, signature, session token or an arbitrary echo of request input.
This module is pure (no I/O, no web framework); the caller supplies the clock via ``now``.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote_from_bytes, unquote_to_bytes

from ssoidc.errors import (
    ExpiredCredentials,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)

__all__ = [
    "Credential",
    "CredentialLookup",
    "ParsedRequest",
    "SigV4Verifier",
    "SignedRequest",
    "VerifiedCaller",
]


@dataclass(frozen=True, slots=True)
class Credential:
    """A SigV4 credential known to the server.

    ``principal_arn`` is ``arn:aws:iam::123456789012:user/x``, ``:role/x``, ``:root``, or
    ``arn:aws:sts::123456789012:assumed-role/R/s``. ``session_token_sha256`` is set for session credentials:
    the SHA-256 digest of the ``x-amz-security-token`` every request signed with them must carry.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a log line or a traceback's repr
    principal_arn: str
    session_token_sha256: bytes | None = None
    expires_at: float | None = None
    """Session credentials: when they stop working (a request signed with them from then on is
    ``ExpiredCredentials``); None for long-term credentials."""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as an ASGI server received it."""

    method: str
    raw_path: bytes  # path exactly as received on the wire (percent-encoded, no query)
    query_string: bytes  # raw query string exactly as received (without '?')
    headers: Sequence[tuple[bytes, bytes]]  # as received (ASGI style: lower-cased names, may repeat)
    body: bytes


@dataclass(frozen=True, slots=True)
class VerifiedCaller:
    """The authenticated signer of a request."""

    access_key_id: str
    principal_arn: str
    region: str
    service: str


CredentialLookup = Callable[[str], Credential | None]

_ALGORITHM = "AWS4-HMAC-SHA256"
_TERMINATOR = "aws4_request"
_SIGNING_KEY_CACHE_SIZE = 256

_HEX_LOWER = "0123456789abcdef"
_ECHO_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:+")
_PRESIGN_KEYS = frozenset((b"x-amz-algorithm", b"x-amz-credential", b"x-amz-signature"))
_OWS = b" \t"
_MUST_SIGN = frozenset((b"content-type",))
"""Headers that must be signed when present, besides every ``x-amz-*``: what the body means (AWS SDKs sign it)."""
_SINGLE = (b"host", b"content-type", b"x-amz-target")
"""Headers a request may carry at most once (RFC 9110 section 5.3: only list-valued fields may repeat): they
choose the deployment, the codec and the operation."""
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_UNRESERVED_OR_SLASH = _UNRESERVED + b"/"
_COMPONENTS = ("Credential", "Signature", "SignedHeaders")  # the order AWS reports missing ones in

_MSG_MISSING = "Missing Authentication Token"
_MSG_UNRECOGNIZED = "The security token included in the request is invalid."
_MSG_EXPIRED = "The security token included in the request is expired"
_MSG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)
_MSG_PRESIGNED = (
    "Presigned (query-string) requests are not supported for this operation; "
    "sign the request with an Authorization header instead."
)
_MSG_MALFORMED = "The request is malformed and its signature could not be verified."
_MSG_CREDENTIAL_SHAPE = (
    "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request."
)


def _echo(value: str) -> str:
    """Quote ``value`` for a message if it is a short harmless token, else return an empty string."""
    if 0 < len(value) <= 32 and _ECHO_SAFE.issuperset(value):
        return f" '{value}'"
    return ""


def _amz_timestamp(epoch_seconds: int) -> str:
    try:
        return datetime.datetime.fromtimestamp(epoch_seconds, datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    except (OverflowError, OSError, ValueError):
        return str(epoch_seconds)


@functools.lru_cache(maxsize=64)
def _day_start(yyyymmdd: str) -> int | None:
    """Seconds since the epoch at midnight UTC of an 8-digit ``YYYYMMDD`` date, or None if no such day."""
    try:
        day = datetime.datetime(
            int(yyyymmdd[0:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]), tzinfo=datetime.UTC
        )
    except ValueError:
        return None
    return int(day.timestamp())


def _parse_amz_date(value: str) -> int | None:
    """Seconds since the epoch for ``YYYYMMDD'T'HHMMSS'Z'``, or None if malformed."""
    if (
        len(value) != 16
        or value[8] != "T"
        or value[15] != "Z"
        or not value.isascii()
        or not value[:8].isdigit()
        or not value[9:15].isdigit()
    ):
        return None
    day = _day_start(value[:8])
    hours, minutes, seconds = int(value[9:11]), int(value[11:13]), int(value[13:15])
    if day is None or hours > 23 or minutes > 59 or seconds > 59:
        return None
    return day + hours * 3600 + minutes * 60 + seconds


def _remove_dot_segments(path: bytes) -> bytes:
    """``botocore.utils.normalize_url_path`` on bytes: RFC 3986 dot-segment removal, no empty segments."""
    if not path:
        return b"/"
    if b"//" not in path and b"/." not in path and not path.startswith(b"."):
        return path  # nothing to remove: the common case
    output: list[bytes] = []
    for segment in path.split(b"/"):
        if not segment or segment == b".":
            continue
        if segment == b"..":
            if output:
                output.pop()
        else:
            output.append(segment)
    first = b"/" if path.startswith(b"/") else b""
    last = b"/" if path.endswith(b"/") and output else b""
    return first + b"/".join(output) + last


def _canonical_uri(raw_path: bytes) -> str:
    path = _remove_dot_segments(raw_path)
    if not path.rstrip(_UNRESERVED_OR_SLASH):
        return path.decode("ascii")
    return quote_from_bytes(path, safe="/~")


def _decode_query_component(component: bytes) -> bytes:
    if b"+" in component:
        component = component.replace(b"+", b" ")
    if b"%" in component:
        component = unquote_to_bytes(component)
    return component


def _encode_query_component(component: bytes) -> str:
    if not component.rstrip(_UNRESERVED):
        return component.decode("ascii")
    return quote_from_bytes(component, safe="-_.~")


def _canonical_query(query_string: bytes) -> tuple[str, bool]:
    """The canonical query string, and whether the query carries presigned-URL authentication parameters."""
    if not query_string:
        return "", False
    presigned = False
    pairs: list[tuple[str, str]] = []
    for item in query_string.split(b"&"):
        raw_key, _, raw_value = item.partition(b"=")
        key = _decode_query_component(raw_key)
        if key.lower() in _PRESIGN_KEYS:
            presigned = True
        value = _decode_query_component(raw_value)
        pairs.append((_encode_query_component(key), _encode_query_component(value)))
    pairs.sort()
    return "&".join([f"{key}={value}" for key, value in pairs]), presigned


class _SigningKey:
    """A SigV4 signing key with its HMAC-SHA256 inner and outer pad states precomputed (RFC 2104).

    Starting each signature from copies of the two pad states halves the cost of ``hmac.digest``, which has
    to set up both states for every call.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = key.ljust(64, b"\0")  # a SigV4 signing key is 32 bytes, shorter than SHA-256's 64-byte block
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def hex_signature(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest().encode("ascii")


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _derive_signing_key(secret_access_key: str, date: str, region: str, service: str) -> _SigningKey:
    key = hmac.digest(f"AWS4{secret_access_key}".encode(), date.encode("ascii"), "sha256")
    key = hmac.digest(key, region.encode("utf-8"), "sha256")
    key = hmac.digest(key, service.encode("utf-8"), "sha256")
    return _SigningKey(hmac.digest(key, b"aws4_request", "sha256"))


class _Parsed(NamedTuple):
    """Everything about a request that can be established without its secret key."""

    access_key_id: str
    date: str
    region: str
    service: str
    string_to_sign: bytes
    signature: bytes
    security_token: bytes | None


ParsedRequest = _Parsed
"""A request's signature material, parsed (``SigV4Verifier.parse``), awaiting its credential."""


class SigV4Verifier:
    """Verifies SigV4 Authorization headers against credentials returned by ``lookup``.

    ``verify`` returns the caller on success and raises an :class:`~ssoidc.errors.AuthError` subclass on any
    failure; malformed input of any kind never raises anything else. ``lookup`` is called at most once per
    request, only after the request has been fully parsed; its own exceptions propagate unchanged.
    """

    __slots__ = (
        "_host_message",
        "_hosts",
        "_lookup",
        "_max_skew",
        "_region",
        "_service_message",
        "_services",
        "_signing_key",
    )

    def __init__(
        self,
        lookup: CredentialLookup,
        *,
        region: str,
        service: str | Collection[str],
        max_skew_seconds: int = 300,
        allowed_hosts: Collection[str] | None = None,
    ) -> None:
        """``allowed_hosts``: the ``Host`` values (``name[:port]``, compared case-insensitively) a signature may
        name; None accepts any (the verifier alone, in tests). A request signed for another deployment is refused
        as a signature mismatch."""
        services = (service,) if isinstance(service, str) else tuple(service)
        if not region:
            raise ValueError("region must not be empty")
        if not services or not all(services):
            raise ValueError("at least one non-empty service name is required")
        if max_skew_seconds < 0:
            raise ValueError("max_skew_seconds must not be negative")
        self._lookup = lookup
        self._region = region
        self._services = frozenset(services)
        self._service_message = (
            "Credential should be scoped to correct service: '" + "' or '".join(services) + "'."
        )
        self._max_skew = max_skew_seconds
        self._hosts = (
            None if allowed_hosts is None else frozenset(h.lower().encode("latin-1") for h in allowed_hosts)
        )
        first = next(iter(allowed_hosts or ()), "")
        self._host_message = "The request is signed for a host this server does not answer for" + (
            f": sign it for '{first}' (the host of its public URL)." if first else "."
        )
        self._signing_key = functools.lru_cache(maxsize=_SIGNING_KEY_CACHE_SIZE)(_derive_signing_key)

    def verify(self, req: SignedRequest, now: float) -> VerifiedCaller:
        """Authenticate ``req`` at time ``now`` (seconds since the epoch)."""
        parsed = self.parse(req, now)
        return self.check(parsed, self._lookup(parsed.access_key_id), now)

    def parse(self, req: SignedRequest, now: float) -> ParsedRequest:
        """The first half of ``verify``: everything that can be checked without the credential. A caller whose
        credential lookup is asynchronous (session credentials, read from the store) calls ``parse``, looks the
        credential of ``access_key_id`` up, then ``check``."""
        try:
            parsed = self._parse(req, now)
        except (ValueError, IndexError, KeyError, OverflowError, OSError) as exc:
            # Defence in depth: parsing is written not to raise these, but a malformed request must never
            # surface as a server error. UnicodeError is a ValueError.
            raise IncompleteSignature(_MSG_MALFORMED) from exc
        access_key_id = parsed.access_key_id
        if len(access_key_id) > 128 or not access_key_id.isascii() or not access_key_id.isprintable():
            raise UnrecognizedClient(_MSG_UNRECOGNIZED)
        return parsed

    def check(self, parsed: ParsedRequest, credential: Credential | None, now: float) -> VerifiedCaller:
        """The second half of ``verify``: the session token, the signature, then the expiry of session
        credentials (so only the holder of the secret learns that they expired)."""
        if credential is None:
            raise UnrecognizedClient(_MSG_UNRECOGNIZED)
        expected_token = credential.session_token_sha256
        if expected_token is None:
            if parsed.security_token is not None:
                raise UnrecognizedClient(_MSG_UNRECOGNIZED)
        elif parsed.security_token is None or not hmac.compare_digest(
            hashlib.sha256(parsed.security_token).digest(), expected_token
        ):
            raise UnrecognizedClient(_MSG_UNRECOGNIZED)

        key = self._signing_key(credential.secret_access_key, parsed.date, parsed.region, parsed.service)
        expected = key.hex_signature(parsed.string_to_sign)
        if not hmac.compare_digest(expected, parsed.signature):
            raise InvalidSignature(_MSG_MISMATCH)
        if credential.expires_at is not None and now >= credential.expires_at:
            raise ExpiredCredentials(_MSG_EXPIRED)
        return VerifiedCaller(
            access_key_id=parsed.access_key_id,
            principal_arn=credential.principal_arn,
            region=parsed.region,
            service=parsed.service,
        )

    def _parse(self, req: SignedRequest, now: float) -> _Parsed:
        headers: dict[bytes, list[bytes]] = {}
        for raw_name, raw_value in req.headers:
            name = raw_name.lower()
            values = headers.get(name)
            if values is None:
                headers[name] = [raw_value]
            else:
                values.append(raw_value)

        canonical_query, presigned = _canonical_query(req.query_string)
        if presigned:
            raise IncompleteSignature(_MSG_PRESIGNED)
        auth_values = headers.get(b"authorization")
        if auth_values is None:
            raise MissingAuthenticationToken(_MSG_MISSING)
        if len(auth_values) != 1:
            raise IncompleteSignature("Only one Authorization header may be sent.")

        # --- Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
        authorization = auth_values[0].strip(_OWS).decode("latin1")
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != _ALGORITHM:
            raise IncompleteSignature(
                f"Unsupported AWS 'algorithm'{_echo(algorithm)}: only {_ALGORITHM} is supported."
            )
        components: dict[str, str] = {}
        if rest.strip(" \t"):
            for component in rest.split(","):
                key, eq, value = component.strip(" \t").partition("=")
                if not eq:
                    raise IncompleteSignature(
                        "Authorization header contains a component that is not a valid key=value pair "
                        "(missing equal-sign)."
                    )
                if key not in _COMPONENTS:
                    raise IncompleteSignature(
                        f"Authorization header contains an unsupported component{_echo(key)}."
                    )
                if key in components:
                    raise IncompleteSignature(f"Authorization header contains '{key}' more than once.")
                components[key] = value
        if len(components) != len(_COMPONENTS):
            raise IncompleteSignature(
                " ".join(
                    f"Authorization header requires '{name}' parameter."
                    for name in _COMPONENTS
                    if name not in components
                )
            )
        credential = components["Credential"]
        signed_headers = components["SignedHeaders"]
        signature = components["Signature"]

        scope = credential.split("/")
        if len(scope) != 5 or not all(scope[:4]):
            raise IncompleteSignature(_MSG_CREDENTIAL_SHAPE)
        access_key_id, scope_date, region, service, terminator = scope
        if len(scope_date) != 8 or not scope_date.isascii() or not scope_date.isdigit():
            raise IncompleteSignature("Credential scope date must have the form YYYYMMDD.")

        if len(signature) != 64 or signature.strip(_HEX_LOWER):  # leaves a rest iff a char is not hex
            raise IncompleteSignature("Signature must be 64 lowercase hexadecimal characters.")

        signed_names = signed_headers.split(";")
        if signed_headers != signed_headers.lower() or "" in signed_names:
            raise IncompleteSignature("SignedHeaders must list non-empty, lowercase header names.")
        signed_set = frozenset(signed_names)
        if len(signed_set) != len(signed_names) or signed_names != sorted(signed_names):
            raise IncompleteSignature("SignedHeaders must be sorted and must not repeat a header name.")
        if "host" not in signed_set:
            raise IncompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        if "x-amz-date" not in signed_set:
            raise IncompleteSignature("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        for name in headers:
            if (name.startswith(b"x-amz-") or name in _MUST_SIGN) and name.decode("latin1") not in signed_set:
                shown = _echo(name.decode("latin1"))
                raise IncompleteSignature(f"Header{shown} must be a 'SignedHeader' in the AWS Authorization.")
        for name in _SINGLE:
            if len(headers.get(name, ())) > 1:  # which one would a proxy, a log or the dispatcher read?
                raise IncompleteSignature(f"Header '{name.decode()}' must not be repeated.")
        if self._hosts is not None:
            host_values = headers.get(b"host", [])
            host = host_values[0].strip(_OWS).lower() if len(host_values) == 1 else b""
            if host not in self._hosts:
                raise InvalidSignature(self._host_message)

        canonical_headers: list[str] = []
        for signed_name in signed_names:
            values = headers.get(signed_name.encode("latin1"))
            if values is None:
                raise IncompleteSignature(
                    f"SignedHeaders names a header{_echo(signed_name)} that is not present in the request."
                )
            if len(values) == 1:
                joined = " ".join(values[0].decode("latin1").split())
            else:
                joined = ",".join([" ".join(v.decode("latin1").split()) for v in values])
            canonical_headers.append(f"{signed_name}:{joined}\n")

        # --- date, scope and clock skew
        date_values = headers[b"x-amz-date"]
        amz_date = date_values[0].strip(_OWS).decode("latin1") if len(date_values) == 1 else ""
        signed_at = _parse_amz_date(amz_date)
        if signed_at is None:
            raise IncompleteSignature(
                "X-Amz-Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z')."
                + (f" Got{_echo(amz_date)}." if _echo(amz_date) else "")
            )
        if scope_date != amz_date[:8]:
            raise InvalidSignature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if region != self._region:
            raise InvalidSignature(
                "Credential should be scoped to a valid region: the credential scope names "
                + (f"region{_echo(region)}" if _echo(region) else "another region")
                + f"; this server serves region '{self._region}'."
            )
        if service not in self._services:
            raise InvalidSignature(self._service_message)
        if terminator != _TERMINATOR:
            raise InvalidSignature(f"Credential should be scoped with a valid terminator: '{_TERMINATOR}'.")
        now_s = math.floor(now)
        skew = self._max_skew
        if signed_at < now_s - skew:
            raise InvalidSignature(
                f"Signature expired: {amz_date} is now earlier than {_amz_timestamp(now_s - skew)} "
                f"({_amz_timestamp(now_s)} - {_describe_seconds(skew)})"
            )
        if signed_at > now_s + skew:
            raise InvalidSignature(
                f"Signature not yet current: {amz_date} is still later than {_amz_timestamp(now_s + skew)} "
                f"({_amz_timestamp(now_s)} + {_describe_seconds(skew)})"
            )

        # --- session token (checked against the credential once it has been looked up)
        token_values = headers.get(b"x-amz-security-token")
        security_token: bytes | None = None
        if token_values is not None:
            # Repeated tokens can never match a credential; an empty stand-in fails the comparison.
            security_token = token_values[0].strip(_OWS) if len(token_values) == 1 else b""

        # --- payload
        payload_hash = hashlib.sha256(req.body).hexdigest()
        claimed_hash = headers.get(b"x-amz-content-sha256")
        if claimed_hash is not None and (
            len(claimed_hash) != 1 or claimed_hash[0].strip(_OWS) != payload_hash.encode("ascii")
        ):
            raise InvalidSignature(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )

        canonical_request = "\n".join(
            (
                req.method,
                _canonical_uri(req.raw_path),
                canonical_query,
                "".join(canonical_headers),
                signed_headers,
                payload_hash,
            )
        )
        string_to_sign = (
            f"{_ALGORITHM}\n{amz_date}\n{scope_date}/{region}/{service}/{_TERMINATOR}\n"
            f"{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
        ).encode()
        return _Parsed(
            access_key_id=access_key_id,
            date=scope_date,
            region=region,
            service=service,
            string_to_sign=string_to_sign,
            signature=signature.encode("ascii"),
            security_token=security_token,
        )


def _describe_seconds(seconds: int) -> str:
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min."
    return f"{seconds} sec."
