"""Tests for ``ssoidc.aws.sigv4``: botocore signs, the verifier must agree; every rule has its own test.

Requests are signed by botocore's real ``SigV4Auth`` with its clock frozen (``get_current_datetime`` in
``botocore.auth`` is patched, as botocore's own signer tests do) and converted into a ``SignedRequest`` the
way an ASGI server receives them: the request target exactly as botocore's HTTP layer sends it, header names
lower-cased, values latin-1 encoded (as ``http.client`` sends them) with surrounding whitespace stripped (as
HTTP parsers do).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlparse

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ssoidc.aws import sigv4
from ssoidc.aws.sigv4 import Credential, SignedRequest, SigV4Verifier, VerifiedCaller
from ssoidc.errors import (
    AuthError,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)

REGION = "us-east-1"
SERVICE = "sso-oauth"
HOST = "oidc.us-east-1.amazonaws.com"
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
USER_ARN = "arn:aws:iam::123456789012:user/alice"
SESSION_AKID = "ASIAIOSFODNN7SESSION"
SESSION_SECRET = "sessionSecret/abcdefghijklmnopqrstuvwxyz0"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=="
SESSION_ARN = "arn:aws:sts::123456789012:assumed-role/Admin/alice"


def utc_naive(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime.datetime:
    """A naive datetime in UTC, which is what botocore's clock returns."""
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC).replace(tzinfo=None)


SIGNED_AT = utc_naive(2026, 11, 21, 12, 0, 0)
NOW = SIGNED_AT.replace(tzinfo=datetime.UTC).timestamp()
AMZ_DATE = "20261121T120000Z"

AUTH_ERRORS = (MissingAuthenticationToken, IncompleteSignature, InvalidSignature, UnrecognizedClient)

LONG_TERM = Credential(AKID, SECRET, USER_ARN)
SESSION = Credential(
    SESSION_AKID, SESSION_SECRET, SESSION_ARN, hashlib.sha256(SESSION_TOKEN.encode()).digest()
)


def make_verifier(*credentials: Credential, **kwargs: Any) -> SigV4Verifier:
    table = {c.access_key_id: c for c in (credentials or (LONG_TERM, SESSION))}
    options: dict[str, Any] = {"region": REGION, "service": SERVICE}
    options.update(kwargs)
    return SigV4Verifier(table.get, **options)


# ----------------------------------------------------------------------------------------------------
# botocore signing and the ASGI view of the result


def wire_target(url: str) -> tuple[bytes, bytes]:
    """Path and query exactly as botocore's HTTP layer sends them (``URLLib3Session._path_url``)."""
    parsed = urlparse(url)
    path = parsed.path or "/"
    return path.encode("ascii"), parsed.query.encode("ascii")


def to_asgi(request: AWSRequest) -> SignedRequest:
    prepared = request.prepare()
    raw_path, query = wire_target(prepared.url)
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1").strip(b" \t"))
        for name, value in request.headers.items()  # AWSRequest keeps repeated headers, each sent on the wire
    ]
    if "host" not in request.headers:
        headers.append((b"host", _host_from_url(prepared.url).encode("ascii")))
    if "Content-Length" in prepared.headers:
        headers.append((b"content-length", prepared.headers["Content-Length"].encode("ascii")))
    body = prepared.body or b""
    assert isinstance(body, bytes)
    return SignedRequest(
        method=prepared.method, raw_path=raw_path, query_string=query, headers=headers, body=body
    )


def sign(
    *,
    method: str = "POST",
    path: str = "/token",
    query: Sequence[tuple[str, str]] = (),
    query_in_params: bool = False,
    headers: Iterable[tuple[str, str]] = (("Content-Type", "application/json"),),
    body: bytes = b'{"clientId":"arn:aws:sso::123456789012:application/ssoins-1/apl-1"}',
    akid: str = AKID,
    secret: str = SECRET,
    token: str | None = None,
    region: str = REGION,
    service: str = SERVICE,
    when: datetime.datetime = SIGNED_AT,
    signer: type[SigV4Auth] = SigV4Auth,
    host: str = HOST,
) -> SignedRequest:
    url = f"https://{host}{path}"
    params: list[tuple[str, str]] = []
    if query and query_in_params:
        params = list(query)  # botocore puts these on the wire with urlencode (space as '+')
    elif query:
        url += "?" + percent_encode_sequence(list(query))  # as botocore's serializers build URLs
    request = AWSRequest(method=method, url=url, data=body, params=params)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer(Credentials(akid, secret, token), service, region).add_auth(request)
    return to_asgi(request)


def header(req: SignedRequest, name: bytes) -> bytes:
    values = [v for n, v in req.headers if n == name]
    assert len(values) == 1, name
    return values[0]


def with_header(req: SignedRequest, name: bytes, value: bytes | None) -> SignedRequest:
    """Replace every ``name`` header by one with ``value`` (or remove them all when ``value`` is None)."""
    kept = [(n, v) for n, v in req.headers if n != name]
    if value is not None:
        kept.append((name, value))
    return dataclasses.replace(req, headers=kept)


def with_added_header(req: SignedRequest, name: bytes, value: bytes) -> SignedRequest:
    return dataclasses.replace(req, headers=[*req.headers, (name, value)])


def edit_auth(req: SignedRequest, edit: Callable[[str], str]) -> SignedRequest:
    old = header(req, b"authorization").decode("latin-1")
    new = edit(old)
    assert new != old, "the edit must change the Authorization header"
    return with_header(req, b"authorization", new.encode("latin-1"))


def signature_of(req: SignedRequest) -> str:
    return header(req, b"authorization").decode().rpartition("Signature=")[2]


def reject(
    verifier: SigV4Verifier, req: SignedRequest, exc_type: type[AuthError], now: float = NOW
) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier.verify(req, now)
    assert type(info.value) is exc_type, f"{type(info.value).__name__}: {info.value.message}"
    assert_message_is_safe(info.value, req)
    return info.value


def assert_message_is_safe(exc: AuthError, req: SignedRequest | None = None) -> None:
    assert exc.message
    for secret in (SECRET, SESSION_SECRET, SESSION_TOKEN):
        assert secret not in exc.message
    if req is not None:
        for name, value in req.headers:
            if name in (b"authorization", b"x-amz-security-token"):
                text = value.decode("latin-1")
                sig = text.rpartition("Signature=")[2]
                if len(sig) >= 16:
                    assert sig not in exc.message
                if name == b"x-amz-security-token" and len(text) >= 8:
                    assert text not in exc.message


class SignWithout(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, told to leave some headers out of SignedHeaders (they are still sent)."""

    UNSIGNED: frozenset[str] = frozenset()

    def headers_to_sign(self, request: AWSRequest) -> Any:
        selected = super().headers_to_sign(request)
        for name in self.UNSIGNED:
            del selected[name]
        return selected


def signer_without(*names: str) -> type[SigV4Auth]:
    return type("SignWithoutSome", (SignWithout,), {"UNSIGNED": frozenset(names)})


# ----------------------------------------------------------------------------------------------------
# Strategies

_LATIN1_FIELD_CHARS = (
    " \t" + "".join(chr(c) for c in range(0x21, 0x7F)) + "".join(chr(c) for c in range(0x80, 0x100))
)
_PCHAR_RAW = "abcXYZ0189-._~!$&'()*+,=:@"  # legal unencoded in a path; ';' is left out (urlparse drops it)

_unicode_text = st.text(st.characters(codec="utf-8"), max_size=8)

_segment = st.one_of(
    _unicode_text.map(percent_encode),  # a URI label as botocore's rest serializers encode it
    st.text(_PCHAR_RAW, max_size=6),  # characters a client may leave unencoded
).filter(lambda s: s not in (".", ".."))

paths = st.builds(
    lambda segments, trailing: "/" + "/".join(segments) + ("/" if trailing and segments else ""),
    st.lists(_segment, max_size=5),
    st.booleans(),
)

queries = st.lists(st.tuples(_unicode_text, _unicode_text), max_size=5)

_HEADER_NAMES = [
    "Content-Type",
    "X-Custom",
    "x-custom",
    "X-Other-Header",
    "Accept",
    "X-Amz-Target",
    "x-amz-meta-thing",
    "X-Amz-User-Agent",
    "User-Agent",  # botocore never signs it
    "X-Amzn-Trace-Id",  # botocore never signs it; not an x-amz- header
]
header_lists = st.lists(
    st.tuples(st.sampled_from(_HEADER_NAMES), st.text(_LATIN1_FIELD_CHARS, max_size=16)), max_size=6
)


@st.composite
def signed_requests(draw: st.DrawFn) -> tuple[SignedRequest, bool]:
    """A botocore-signed request and whether it carries a session token."""
    body = draw(st.binary(max_size=200))
    headers, seen = [], set()
    for name, value in draw(
        header_lists
    ):  # Content-Type and X-Amz-Target at most once (the verifier's policy)
        if name.lower() in ("content-type", "x-amz-target"):
            if name.lower() in seen:
                continue
            seen.add(name.lower())
        headers.append((name, value))
    if draw(st.booleans()):
        headers.append(("X-Amz-Content-SHA256", hashlib.sha256(body).hexdigest()))
    session = draw(st.booleans())
    req = sign(
        method=draw(st.sampled_from(["POST", "GET", "PUT"])),
        path=draw(paths),
        query=draw(queries),
        query_in_params=draw(st.booleans()),
        headers=headers,
        body=body,
        akid=SESSION_AKID if session else AKID,
        secret=SESSION_SECRET if session else SECRET,
        token=SESSION_TOKEN if session else None,
    )
    return req, session


# ----------------------------------------------------------------------------------------------------
# Differential: whatever botocore signs, the verifier accepts


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed_requests())
def test_verifier_accepts_whatever_botocore_signs(signed: tuple[SignedRequest, bool]) -> None:
    req, session = signed
    caller = make_verifier().verify(req, NOW)
    expected_akid, expected_arn = (SESSION_AKID, SESSION_ARN) if session else (AKID, USER_ARN)
    assert caller == VerifiedCaller(expected_akid, expected_arn, REGION, SERVICE)


@settings(max_examples=60, deadline=None)
@given(
    secret=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    akid=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=20),
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"]),
    when=st.datetimes(min_value=utc_naive(2000, 1, 1), max_value=utc_naive(2100, 1, 1)),
)
def test_verifier_accepts_any_secret_region_and_time(
    secret: str, akid: str, region: str, when: datetime.datetime
) -> None:
    when = when.replace(microsecond=0)
    req = sign(akid=akid, secret=secret, region=region, when=when)
    verifier = make_verifier(Credential(akid, secret, USER_ARN), region=region)
    now = when.replace(tzinfo=datetime.UTC).timestamp()
    assert verifier.verify(req, now) == VerifiedCaller(akid, USER_ARN, region, SERVICE)


# ----------------------------------------------------------------------------------------------------
# Any one-byte change to a signed part is rejected

_WHITESPACE_BYTES = frozenset(b for b in range(256) if chr(b).isspace())  # what str.split() trims in latin-1
_HEX_BYTES = frozenset(b"0123456789abcdef")


def _query_meaning(query: bytes) -> list[tuple[str, str]]:
    """What a query string means once decoded (stdlib parser, lossless via latin-1)."""
    return sorted(parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1"))


def _replace_byte(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1 :]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed=signed_requests(), choice=st.data())
def test_any_one_byte_change_to_a_signed_part_is_rejected(
    signed: tuple[SignedRequest, bool], choice: st.DataObject
) -> None:
    req, _ = signed
    verifier = make_verifier()
    assert verifier.verify(req, NOW)  # the unmodified request is good

    auth = header(req, b"authorization")
    signed_names = set(auth.decode().split("SignedHeaders=")[1].split(",")[0].split(";"))
    parts: list[tuple[str, int]] = [("method", 0), ("signature", 0), ("authorization", 0)]
    parts += [("path", 0)] if req.raw_path else []
    parts += [("query", 0)] if req.query_string else []
    parts += [("body", 0)] if req.body else []
    parts += [
        ("header", i) for i, (n, v) in enumerate(req.headers) if n.decode("latin-1") in signed_names and v
    ]
    part, index = choice.draw(st.sampled_from(parts), label="part")

    def pick(data: bytes, excluded: Iterable[int] = (), start: int = 0) -> tuple[bytes, int]:
        position = choice.draw(st.integers(start, len(data) - 1), label="position")
        banned = {data[position], *excluded}
        value = choice.draw(st.integers(0, 255).filter(lambda b: b not in banned), label="new byte")
        return _replace_byte(data, position, value), value

    allowed: tuple[type[AuthError], ...] = (InvalidSignature,)
    if part == "method":
        method, _ = pick(req.method.encode("latin-1"))
        mutated = dataclasses.replace(req, method=method.decode("latin-1"))
    elif part == "path":
        # '/' and '.' could create or merge dot segments and empty segments, which normalisation removes;
        # the generated paths have no dot segments, so any other change alters the canonical URI.
        path, _ = pick(req.raw_path, excluded=b"/.")
        mutated = dataclasses.replace(req, raw_path=path)
    elif part == "query":
        query, _ = pick(req.query_string)
        # '%2f' and '%2F' (or '+' and ' ') mean the same thing, and AWS decodes before it canonicalises.
        assume(_query_meaning(query) != _query_meaning(req.query_string))
        mutated = dataclasses.replace(req, query_string=query)
        if any(
            k.lower() in ("x-amz-signature", "x-amz-credential", "x-amz-algorithm")
            for k, _ in _query_meaning(query)
        ):
            allowed = (IncompleteSignature,)
    elif part == "body":
        body, _ = pick(req.body)
        mutated = dataclasses.replace(req, body=body)
    elif part == "signature":
        start = auth.index(b"Signature=") + len(b"Signature=")
        new_auth, new_byte = pick(auth, start=start)
        mutated = with_header(req, b"authorization", new_auth)
        allowed = (InvalidSignature,) if new_byte in _HEX_BYTES else (IncompleteSignature,)
    elif part == "authorization":
        new_auth, _ = pick(auth, excluded=_WHITESPACE_BYTES)
        mutated = with_header(req, b"authorization", new_auth)
        allowed = (IncompleteSignature, InvalidSignature, UnrecognizedClient)
    else:
        name, old_value = req.headers[index]
        new_value, _ = pick(
            old_value, excluded=_WHITESPACE_BYTES
        )  # whitespace changes can be canonically equal
        headers = list(req.headers)
        headers[index] = (name, new_value)
        mutated = dataclasses.replace(req, headers=headers)
        if name == b"x-amz-date":
            allowed = (IncompleteSignature, InvalidSignature)
        elif name == b"x-amz-security-token":
            allowed = (UnrecognizedClient,)

    with pytest.raises(AuthError) as info:
        verifier.verify(mutated, NOW)
    assert type(info.value) in allowed, f"{part}: {type(info.value).__name__}: {info.value.message}"
    assert_message_is_safe(info.value, req)


# ----------------------------------------------------------------------------------------------------
# Canonicalisation agrees with botocore's own functions


@settings(max_examples=300, deadline=None)
@given(st.text("/.ab%~", max_size=14))
def test_canonical_uri_matches_botocore(path: str) -> None:
    botocore_signer = SigV4Auth(Credentials(AKID, SECRET), SERVICE, REGION)
    assert sigv4._canonical_uri(path.encode()) == botocore_signer._normalize_url_path(path)


@settings(max_examples=200, deadline=None)
@given(queries)
def test_canonical_query_matches_botocore_for_both_wire_forms(query: list[tuple[str, str]]) -> None:
    botocore_signer = SigV4Auth(Credentials(AKID, SECRET), SERVICE, REGION)
    expected = botocore_signer._canonical_query_string_params(query)
    from urllib.parse import urlencode

    assert sigv4._canonical_query(percent_encode_sequence(query).encode()) == (expected, False)
    assert sigv4._canonical_query(urlencode(query).encode()) == (expected, False)


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300))
def test_precomputed_hmac_matches_stdlib_hmac(key: bytes, message: bytes) -> None:
    expected = hmac.new(key, message, hashlib.sha256).hexdigest().encode()
    signing_key = sigv4._SigningKey(key)
    assert signing_key.hex_signature(message) == expected
    assert signing_key.hex_signature(message) == expected  # the pad states are not consumed


def test_query_percent_escapes_are_case_insensitive_and_plus_is_space() -> None:
    verifier = make_verifier()
    req = sign(query=[("next", "a/b c")])
    assert req.query_string == b"next=a%2Fb%20c"
    assert verifier.verify(dataclasses.replace(req, query_string=b"next=a%2fb+c"), NOW)
    reject(verifier, dataclasses.replace(req, query_string=b"next=a%2fb%2Bc"), InvalidSignature)


def test_path_is_normalised_then_encoded_twice() -> None:
    verifier = make_verifier()
    req = sign(path="/a/./b/../c//d%20e/~x/")
    assert req.raw_path == b"/a/./b/../c//d%20e/~x/"
    assert verifier.verify(req, NOW)
    # The same canonical URI (dot segments and repeated slashes removed) signs the same.
    assert verifier.verify(dataclasses.replace(req, raw_path=b"/a/c/d%20e/~x/"), NOW)
    # A decoded path is a different path: the wire form is encoded once more, not decoded.
    reject(verifier, dataclasses.replace(req, raw_path=b"/a/c/d e/~x/"), InvalidSignature)
    reject(verifier, dataclasses.replace(req, raw_path=b"/a/c/d%20e/%7Ex/"), InvalidSignature)


def test_repeated_headers_are_joined_in_order() -> None:
    verifier = make_verifier()
    req = sign(headers=[("X-Custom", "  one   two "), ("x-custom", "three")])
    assert [v for n, v in req.headers if n == b"x-custom"] == [b"one   two", b"three"]
    assert verifier.verify(req, NOW)
    swapped = [(n, v) for n, v in req.headers if n != b"x-custom"] + [
        (b"x-custom", b"three"),
        (b"x-custom", b"one two"),
    ]
    reject(verifier, dataclasses.replace(req, headers=swapped), InvalidSignature)


def test_method_is_case_sensitive() -> None:
    req = sign(method="POST")
    reject(make_verifier(), dataclasses.replace(req, method="post"), InvalidSignature)


# ----------------------------------------------------------------------------------------------------
# Rule 1: header auth only; the Authorization header must be well formed


def test_missing_authorization_header() -> None:
    req = with_header(sign(), b"authorization", None)
    exc = reject(make_verifier(), req, MissingAuthenticationToken)
    assert exc.message == "Missing Authentication Token"


def test_no_headers_at_all() -> None:
    req = SignedRequest(method="GET", raw_path=b"/", query_string=b"", headers=[], body=b"")
    reject(make_verifier(), req, MissingAuthenticationToken)


def _presigned() -> SignedRequest:
    request = AWSRequest(method="GET", url=f"https://{HOST}/token?x=1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        SigV4QueryAuth(Credentials(AKID, SECRET), SERVICE, REGION, expires=300).add_auth(request)
    return to_asgi(request)


def test_presigned_query_string_is_not_supported() -> None:
    req = _presigned()
    assert b"X-Amz-Signature=" in req.query_string
    assert not any(n == b"authorization" for n, _ in req.headers)
    exc = reject(make_verifier(), req, IncompleteSignature)
    assert "Presigned" in exc.message and "not supported" in exc.message


@pytest.mark.parametrize(
    "param", [b"X-Amz-Signature", b"x-amz-signature", b"X-Amz-Credential", b"X-Amz-Algorithm"]
)
def test_presign_parameter_alongside_authorization_header_is_rejected(param: bytes) -> None:
    req = sign(query=[("a", "1")])
    reject(
        make_verifier(),
        dataclasses.replace(req, query_string=req.query_string + b"&" + param + b"=x"),
        IncompleteSignature,
    )


@pytest.mark.parametrize(
    "algorithm", ["AWS4-HMAC-SHA512", "AWS4-ECDSA-P256-SHA256", "aws4-hmac-sha256", "AWS", "Bearer", ""]
)
def test_other_algorithms_are_rejected(algorithm: str) -> None:
    req = edit_auth(sign(), lambda a: a.replace("AWS4-HMAC-SHA256", algorithm, 1))
    reject(make_verifier(), req, IncompleteSignature)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda a: a.split(" ", 1)[0], "requires 'Credential' parameter"),
        (lambda a: a.replace("Credential=", "Cred="), "unsupported component 'Cred'"),
        (lambda a: a.replace(", SignedHeaders=content-type;host;x-amz-date", ""), "requires 'SignedHeaders'"),
        (lambda a: a.rpartition(", Signature=")[0], "requires 'Signature' parameter"),
        (
            lambda a: a.replace(
                "Credential=", "Credential=AKIDX/20261121/us-east-1/sso-oauth/aws4_request, Credential="
            ),
            "'Credential' more than once",
        ),
        (lambda a: a + ", Signature=" + "0" * 64, "'Signature' more than once"),
        (lambda a: a + ", SignedHeaders=host", "'SignedHeaders' more than once"),
        (lambda a: a.replace("Signature=", "Signature "), "missing equal-sign"),
        (lambda a: a + ",", "missing equal-sign"),
        (lambda a: a.replace(", ", ",, "), "missing equal-sign"),
        (lambda a: a.replace("/aws4_request", ""), "Credential must have the form"),
        (lambda a: a.replace("/aws4_request", "/aws4_request/x"), "Credential must have the form"),
        (lambda a: a.replace(f"Credential={AKID}", "Credential="), "Credential must have the form"),
        (lambda a: a.replace("/us-east-1/", "//"), "Credential must have the form"),
        (lambda a: a.replace("/20261121/", "/2026112/"), "YYYYMMDD"),
        (lambda a: a.replace("/20261121/", "/2026-1121/"), "YYYYMMDD"),
        (lambda a: a.replace("/20261121/", "/\xb2\xb2261121/"), "YYYYMMDD"),
        (lambda a: a[:-1], "64 lowercase hexadecimal"),
        (lambda a: a + "0", "64 lowercase hexadecimal"),
        (lambda a: a[:-64] + a[-64:].upper().replace("0", "A"), "64 lowercase hexadecimal"),
        (lambda a: a[:-1] + "g", "64 lowercase hexadecimal"),
        (lambda a: a[:-1] + "é", "64 lowercase hexadecimal"),
        (lambda a: a.replace("SignedHeaders=content-type;host", "SignedHeaders=host;content-type"), "sorted"),
        (
            lambda a: a.replace("SignedHeaders=content-type;host", "SignedHeaders=content-type;host;host"),
            "sorted",
        ),
        (lambda a: a.replace("SignedHeaders=content-type", "SignedHeaders=Content-Type"), "lowercase"),
        (lambda a: a.replace("SignedHeaders=content-type;", "SignedHeaders=;"), "non-empty"),
        (
            lambda a: a.replace("content-type;host;", "content-type;"),
            "'Host' must be a 'SignedHeader'",
        ),
    ],
)
def test_malformed_authorization_header(edit: Callable[[str], str], expected: str) -> None:
    req = sign()
    assert b"SignedHeaders=content-type;host;x-amz-date," in header(req, b"authorization")
    exc = reject(make_verifier(), edit_auth(req, edit), IncompleteSignature)
    assert expected in exc.message


def test_all_missing_components_are_named() -> None:
    exc = reject(make_verifier(), edit_auth(sign(), lambda a: "AWS4-HMAC-SHA256 "), IncompleteSignature)
    assert exc.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter."
    )


def test_components_may_be_separated_without_spaces() -> None:
    req = edit_auth(sign(), lambda a: a.replace(", ", ","))
    assert make_verifier().verify(req, NOW)


def test_two_authorization_headers_are_rejected() -> None:
    req = sign()
    req = with_added_header(req, b"authorization", header(req, b"authorization"))
    reject(make_verifier(), req, IncompleteSignature)


# ----------------------------------------------------------------------------------------------------
# Rule 3: what must be signed


def test_host_must_be_signed() -> None:
    req = sign(signer=signer_without("host"))
    assert b"SignedHeaders=content-type;x-amz-date," in header(req, b"authorization")
    exc = reject(make_verifier(), req, IncompleteSignature)
    assert "'Host' must be a 'SignedHeader'" in exc.message


def test_x_amz_date_must_be_signed() -> None:
    req = sign(signer=signer_without("x-amz-date"))
    assert b"SignedHeaders=content-type;host," in header(req, b"authorization")
    exc = reject(make_verifier(), req, IncompleteSignature)
    assert "'X-Amz-Date' must be a 'SignedHeader'" in exc.message


@pytest.mark.parametrize("name", ["x-amz-target", "x-amz-content-sha256", "x-amz-meta-anything"])
def test_every_x_amz_header_must_be_signed(name: str) -> None:
    req = sign(headers=[("Content-Type", "application/json"), (name, "value")], signer=signer_without(name))
    assert name.encode() not in header(req, b"authorization")
    exc = reject(make_verifier(), req, IncompleteSignature)
    assert f"Header '{name}' must be a 'SignedHeader'" in exc.message


def test_unsigned_x_amz_header_added_in_transit_is_rejected() -> None:
    req = with_added_header(sign(), b"x-amz-foo", b"bar")
    exc = reject(make_verifier(), req, IncompleteSignature)
    assert "'x-amz-foo'" in exc.message


def test_unsigned_ordinary_headers_are_allowed() -> None:
    req = sign(headers=[("User-Agent", "Boto3/1.43"), ("X-Amzn-Trace-Id", "Root=1-abc")])
    auth = header(req, b"authorization")
    assert b"user-agent" not in auth and b"x-amzn-trace-id" not in auth
    req = with_added_header(req, b"accept-encoding", b"gzip")
    assert make_verifier().verify(req, NOW)


def test_signed_header_absent_from_request() -> None:
    req = sign(headers=[("Content-Type", "application/json"), ("X-Custom", "1")])
    exc = reject(make_verifier(), with_header(req, b"x-custom", None), IncompleteSignature)
    assert "'x-custom'" in exc.message and "not present" in exc.message


def test_unsigned_security_token_is_rejected() -> None:
    req = sign(
        akid=SESSION_AKID,
        secret=SESSION_SECRET,
        token=SESSION_TOKEN,
        signer=signer_without("x-amz-security-token"),
    )
    reject(make_verifier(), req, IncompleteSignature)


# ----------------------------------------------------------------------------------------------------
# Rule 4: the date


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300, 300.999])
def test_clock_skew_within_five_minutes_is_accepted(offset: float) -> None:
    assert make_verifier().verify(sign(), NOW + offset)


def test_signature_expired() -> None:
    exc = reject(make_verifier(), sign(), InvalidSignature, now=NOW + 301)
    assert exc.message == (
        "Signature expired: 20261121T120000Z is now earlier than 20261121T120001Z (20261121T120501Z - 5 min.)"
    )


def test_signature_not_yet_current() -> None:
    exc = reject(make_verifier(), sign(), InvalidSignature, now=NOW - 301)
    assert exc.message == (
        "Signature not yet current: 20261121T120000Z is still later than 20261121T115959Z "
        "(20261121T115459Z + 5 min.)"
    )


def test_custom_skew_window() -> None:
    verifier = make_verifier(max_skew_seconds=30)
    assert verifier.verify(sign(), NOW + 30)
    assert verifier.verify(sign(), NOW - 30)
    exc = reject(verifier, sign(), InvalidSignature, now=NOW + 31)
    assert exc.message.endswith("(20261121T120031Z - 30 sec.)")
    reject(verifier, sign(), InvalidSignature, now=NOW - 31)


def test_skew_far_away_and_absurd_clocks() -> None:
    verifier = make_verifier()
    reject(verifier, sign(), InvalidSignature, now=NOW + 86400 * 365 * 10)
    reject(verifier, sign(), InvalidSignature, now=0.0)
    reject(verifier, sign(), InvalidSignature, now=1e18)  # message formatting must not blow up
    reject(verifier, sign(), InvalidSignature, now=-1e18)


@pytest.mark.parametrize(
    "value",
    [
        b"2026-11-21T12:00:00Z",
        b"20261121T120000",
        b"20261121 120000Z",
        b"20261321T120000Z",
        b"20261131T120000Z",
        b"20261121T240000Z",
        b"20261121T126000Z",
        b"20261121T120060Z",
        b"2026112lT120000Z",
        b"\xb2\xb2261121T120000Z",
        b"20261121T120000Z,20261121T120000Z",
        b"",
        b"Sat, 21 Nov 2026 12:00:00 GMT",
    ],
)
def test_malformed_x_amz_date(value: bytes) -> None:
    req = with_header(sign(), b"x-amz-date", value)
    exc = reject(make_verifier(), req, IncompleteSignature)
    assert "ISO-8601" in exc.message


def test_repeated_x_amz_date_is_rejected() -> None:
    req = with_added_header(sign(), b"x-amz-date", AMZ_DATE.encode())
    reject(make_verifier(), req, IncompleteSignature)


def test_x_amz_date_must_match_credential_scope_date() -> None:
    req = with_header(sign(), b"x-amz-date", b"20261122T000000Z")
    exc = reject(make_verifier(), req, InvalidSignature, now=NOW + 12 * 3600)
    assert exc.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20261121' != '20261122', from '20261122T000000Z'."
    )


def test_leap_day_and_midnight_are_valid() -> None:
    for when in (utc_naive(2028, 2, 29, 23, 59, 59), utc_naive(2027, 1, 1, 0, 0, 0)):
        now = when.replace(tzinfo=datetime.UTC).timestamp()
        assert make_verifier().verify(sign(when=when), now)


# ----------------------------------------------------------------------------------------------------
# Rule 5: the credential scope


def test_wrong_region() -> None:
    """The message names both regions (issue 16: a first run with another AWS_REGION); the code is unchanged."""
    exc = reject(make_verifier(), sign(region="eu-west-1"), InvalidSignature)
    assert exc.message == (
        "Credential should be scoped to a valid region: the credential scope names region 'eu-west-1';"
        " this server serves region 'us-east-1'."
    )


def test_wrong_service() -> None:
    exc = reject(make_verifier(), sign(service="sts"), InvalidSignature)
    assert exc.message == "Credential should be scoped to correct service: 'sso-oauth'."


def test_several_services_may_be_allowed() -> None:
    verifier = make_verifier(service=["sso-oauth", "sso"])
    assert verifier.verify(sign(service="sso"), NOW).service == "sso"
    assert verifier.verify(sign(service="sso-oauth"), NOW).service == "sso-oauth"
    exc = reject(verifier, sign(service="sts"), InvalidSignature)
    assert exc.message == "Credential should be scoped to correct service: 'sso-oauth' or 'sso'."


def test_wrong_terminator() -> None:
    req = edit_auth(sign(), lambda a: a.replace("/aws4_request", "/aws4_requesT"))
    exc = reject(make_verifier(), req, InvalidSignature)
    assert exc.message == "Credential should be scoped with a valid terminator: 'aws4_request'."


def test_constructor_rejects_nonsense() -> None:
    lookup = {AKID: LONG_TERM}.get
    with pytest.raises(ValueError, match="region"):
        SigV4Verifier(lookup, region="", service=SERVICE)
    with pytest.raises(ValueError, match="service"):
        SigV4Verifier(lookup, region=REGION, service=[])
    with pytest.raises(ValueError, match="service"):
        SigV4Verifier(lookup, region=REGION, service="")
    with pytest.raises(ValueError, match="skew"):
        SigV4Verifier(lookup, region=REGION, service=SERVICE, max_skew_seconds=-1)


# ----------------------------------------------------------------------------------------------------
# Rule 6: credentials and session tokens


def test_unknown_access_key() -> None:
    exc = reject(make_verifier(), sign(akid="AKIAUNKNOWNKEY000000"), UnrecognizedClient)
    assert exc.message == "The security token included in the request is invalid."


@pytest.mark.parametrize("akid", ["A" * 129, "AKIDé", "AKID\x00X"])
def test_implausible_access_key_ids_never_reach_the_lookup(akid: str) -> None:
    looked_up: list[str] = []

    def lookup(key: str) -> Credential | None:
        looked_up.append(key)
        return LONG_TERM

    req = edit_auth(sign(), lambda a: a.replace(f"Credential={AKID}/", f"Credential={akid}/"))
    reject(SigV4Verifier(lookup, region=REGION, service=SERVICE), req, UnrecognizedClient)
    assert looked_up == []


def test_wrong_secret() -> None:
    exc = reject(make_verifier(), sign(secret=SECRET + "x"), InvalidSignature)
    assert exc.message == (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    )


def test_session_credentials_accepted_with_their_token() -> None:
    req = sign(akid=SESSION_AKID, secret=SESSION_SECRET, token=SESSION_TOKEN)
    assert header(req, b"x-amz-security-token") == SESSION_TOKEN.encode()
    assert make_verifier().verify(req, NOW) == VerifiedCaller(SESSION_AKID, SESSION_ARN, REGION, SERVICE)


def test_session_token_required() -> None:
    req = sign(akid=SESSION_AKID, secret=SESSION_SECRET, token=None)
    reject(make_verifier(), req, UnrecognizedClient)


def test_session_token_wrong() -> None:
    req = sign(akid=SESSION_AKID, secret=SESSION_SECRET, token=SESSION_TOKEN + "x")
    exc = reject(make_verifier(), req, UnrecognizedClient)
    assert exc.message == "The security token included in the request is invalid."


def test_session_token_repeated() -> None:
    req = sign(akid=SESSION_AKID, secret=SESSION_SECRET, token=SESSION_TOKEN)
    req = with_added_header(req, b"x-amz-security-token", SESSION_TOKEN.encode())
    reject(make_verifier(), req, UnrecognizedClient)


def test_session_token_unexpected_for_long_term_credentials() -> None:
    req = sign(token=SESSION_TOKEN)
    reject(make_verifier(), req, UnrecognizedClient)


def test_lookup_errors_propagate_unchanged() -> None:
    def lookup(key: str) -> Credential | None:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        SigV4Verifier(lookup, region=REGION, service=SERVICE).verify(sign(), NOW)


def test_rotated_secret_is_not_served_from_the_signing_key_cache() -> None:
    table = {AKID: LONG_TERM}
    verifier = SigV4Verifier(table.get, region=REGION, service=SERVICE)
    old = sign()
    assert verifier.verify(old, NOW)
    assert verifier.verify(old, NOW)  # warm cache
    table[AKID] = Credential(AKID, "rotated-secret", USER_ARN)
    reject(verifier, old, InvalidSignature)
    assert verifier.verify(sign(secret="rotated-secret"), NOW)


def test_signing_key_cache_is_bounded() -> None:
    verifier = make_verifier()
    for day in range(1, 400):
        when = SIGNED_AT + datetime.timedelta(days=day)
        verifier.verify(sign(when=when, body=b""), when.replace(tzinfo=datetime.UTC).timestamp())
    info = verifier._signing_key.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize < 400


# ----------------------------------------------------------------------------------------------------
# Payload hash


def test_matching_content_sha256_is_accepted() -> None:
    body = b"payload"
    req = sign(headers=[("X-Amz-Content-SHA256", hashlib.sha256(body).hexdigest())], body=body)
    assert make_verifier().verify(req, NOW)


@pytest.mark.parametrize(
    "claimed",
    [
        hashlib.sha256(b"other").hexdigest(),
        hashlib.sha256(b"payload").hexdigest().upper(),
        "UNSIGNED-PAYLOAD",
    ],
)
def test_content_sha256_mismatch(claimed: str) -> None:
    # botocore signs with the header's value as the payload hash, so the signature itself is right.
    req = sign(headers=[("X-Amz-Content-SHA256", claimed)], body=b"payload")
    exc = reject(make_verifier(), req, InvalidSignature)
    assert "x-amz-content-sha256" in exc.message


def test_body_is_hashed_as_received() -> None:
    req = sign(body=b"payload")
    reject(make_verifier(), dataclasses.replace(req, body=b"payload "), InvalidSignature)
    reject(make_verifier(), dataclasses.replace(req, body=b""), InvalidSignature)


# ----------------------------------------------------------------------------------------------------
# Rule 7: odd bytes and garbage never escape as anything but AuthError


def test_non_ascii_signed_header_values_verify_as_latin1() -> None:
    req = sign(headers=[("X-Custom", "café ÿ\xa0end"), ("Content-Type", "text/plain; charset=\xe9")])
    assert header(req, b"x-custom") == "café ÿ\xa0end".encode("latin-1")
    assert make_verifier().verify(req, NOW)


def test_non_ascii_unsigned_header_is_harmless() -> None:
    req = with_added_header(sign(), b"x-\xff\xfe", b"\xff\x00\x80")
    assert make_verifier().verify(req, NOW)


def test_non_ascii_in_authorization() -> None:
    reject(
        make_verifier(),
        edit_auth(sign(), lambda a: a.replace("Credential=AKIA", "Credential=\xc0KIA")),
        UnrecognizedClient,
    )
    reject(
        make_verifier(), edit_auth(sign(), lambda a: a.replace("us-east-1", "us-\xe9ast-1")), InvalidSignature
    )
    reject(make_verifier(), edit_auth(sign(), lambda a: a.replace("host", "h\xf6st")), IncompleteSignature)


def test_non_ascii_x_amz_date() -> None:
    reject(make_verifier(), with_header(sign(), b"x-amz-date", b"20261121T12\xb2000Z"), IncompleteSignature)


def test_non_ascii_and_odd_methods() -> None:
    reject(make_verifier(), dataclasses.replace(sign(), method="PÖST"), InvalidSignature)
    reject(make_verifier(), dataclasses.replace(sign(), method="PO\udcffST"), IncompleteSignature)


_AUTH_FRAGMENTS = [
    "AWS4-HMAC-SHA256",
    " ",
    ", ",
    ",",
    "=",
    "/",
    ";",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    AKID,
    "20261121",
    REGION,
    SERVICE,
    "aws4_request",
    "host",
    "x-amz-date",
    "content-type",
    "0" * 64,
    "\xff",
    "\x00",
]

near_valid_authorizations = st.lists(
    st.one_of(st.sampled_from(_AUTH_FRAGMENTS), st.text(max_size=4)), max_size=20
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300), near_valid_authorizations.map(lambda s: s.encode("utf-8", "surrogatepass"))
    )
)
def test_garbage_authorization_only_raises_auth_errors(value: bytes) -> None:
    req = with_header(sign(), b"authorization", value)
    with pytest.raises(AuthError) as info:
        make_verifier().verify(req, NOW)
    assert type(info.value) in AUTH_ERRORS
    assert_message_is_safe(info.value)


def _everyone(key: str) -> Credential | None:
    return Credential(key, SECRET, USER_ARN)


@settings(max_examples=300, deadline=None)
@given(
    method=st.text(max_size=8),
    raw_path=st.binary(max_size=40),
    query=st.binary(max_size=40),
    headers=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(
                    [
                        b"authorization",
                        b"host",
                        b"x-amz-date",
                        b"x-amz-security-token",
                        b"x-amz-content-sha256",
                    ]
                ),
                st.binary(max_size=12),
            ),
            st.one_of(
                st.binary(max_size=60),
                near_valid_authorizations.map(lambda s: s.encode("utf-8", "surrogatepass")),
            ),
        ),
        max_size=8,
    ),
    body=st.binary(max_size=40),
)
def test_arbitrary_requests_only_raise_auth_errors(
    method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    verifier = SigV4Verifier(_everyone, region=REGION, service=SERVICE)
    req = SignedRequest(method=method, raw_path=raw_path, query_string=query, headers=headers, body=body)
    with pytest.raises(AuthError) as info:
        verifier.verify(req, NOW)
    assert type(info.value) in AUTH_ERRORS
    assert_message_is_safe(info.value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed=signed_requests(), garbage=st.binary(max_size=40), choice=st.data())
def test_garbage_in_any_header_of_a_valid_request_only_raises_auth_errors(
    signed: tuple[SignedRequest, bool], garbage: bytes, choice: st.DataObject
) -> None:
    req, _ = signed
    index = choice.draw(st.integers(0, len(req.headers) - 1))
    headers = list(req.headers)
    headers[index] = (headers[index][0], garbage)
    mutated = dataclasses.replace(req, headers=headers)
    try:
        make_verifier().verify(mutated, NOW)
    except AuthError as exc:
        assert type(exc) in AUTH_ERRORS
        assert_message_is_safe(exc, req)
    else:
        # Only an unsigned, non-x-amz header (or an equivalent value) may be replaced without notice.
        name = headers[index][0]
        signed_part = header(req, b"authorization").split(b"SignedHeaders=")[1].split(b",")[0].split(b";")
        original = req.headers[index][1]
        assert (
            name not in signed_part or garbage.decode("latin-1").split() == original.decode("latin-1").split()
        )
