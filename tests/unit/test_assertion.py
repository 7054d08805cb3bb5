"""Tests for ssoidc.oauth.assertion: JWT-bearer assertion parsing, signature and claim checks.

Keys come from a real :class:`JwksCache` whose HTTP transport is an in-memory ``httpx.MockTransport``
serving the issuer's discovery document and JWKS, so key selection and algorithm binding are exercised
end to end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssoidc.clock import FrozenClock
from ssoidc.oauth.assertion import (
    MAX_ASSERTION_LENGTH,
    AssertionInvalid,
    ParsedAssertion,
    VerifiedAssertion,
    peek_issuer,
    verify_assertion,
)
from ssoidc.oauth.jwks import IssuerKeyError, JwksCache, JwksSettings

ISSUER = "https://idp.example.com/tenant"
OTHER_ISSUER = "https://evil.example.com"
NOW = 1_800_000_000.0
LEEWAY = 60.0


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks() -> dict[str, Any]:
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True) | {"kid": "rsa-1"}
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True) | {"kid": "ec-1"}
    return {"keys": [rsa_jwk, ec_jwk]}


JWKS = _jwks()


def _issuer_transport() -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if str(request.url) == ISSUER + "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"})
        if str(request.url) == ISSUER + "/keys":
            return httpx.Response(200, json=JWKS)
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def new_cache() -> JwksCache:
    # allow_insecure only so the mock transport needs no DNS; the transport never leaves the process
    return JwksCache(JwksSettings(allow_insecure=True), clock=FrozenClock(NOW), transport=_issuer_transport())


@pytest.fixture
async def keys() -> AsyncIterator[JwksCache]:
    cache = new_cache()
    yield cache
    await cache.aclose()


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-123",
        "aud": "my-app",
        "exp": int(NOW) + 300,
        "iat": int(NOW) - 10,
        "nbf": int(NOW) - 10,
        "jti": "jti-0001",
        "email": "user@example.com",
    }
    for name, value in overrides.items():
        if value is DROP:
            base.pop(name, None)
        else:
            base[name] = value
    return base


DROP = object()


def rs256(payload: Mapping[str, Any] | None = None, **header: Any) -> str:
    return jwt.encode(
        dict(payload or claims()), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1", **header}
    )


def es256(payload: Mapping[str, Any] | None = None, **header: Any) -> str:
    return jwt.encode(dict(payload or claims()), EC_KEY, algorithm="ES256", headers={"kid": "ec-1", **header})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj).encode())


def sign_raw_rs256(header: Mapping[str, Any], payload_bytes: bytes) -> str:
    """An RS256 JWS over arbitrary payload bytes (e.g. JSON with duplicate names)."""
    signing_input = f"{b64json(dict(header))}.{b64(payload_bytes)}".encode()
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(signing_input, RSA_KEY)
    return f"{signing_input.decode()}.{b64(signature)}"


async def verify(
    token: str,
    keys: Any,
    *,
    now: float = NOW,
    allowed: Collection[str] = ("RS256", "ES256"),
    issuer_url: str = ISSUER,
    leeway: float = LEEWAY,
    max_lifetime: float = 86400.0,
    max_age: float = 86400.0,
) -> VerifiedAssertion:
    return await verify_assertion(
        peek_issuer(token),
        issuer_url=issuer_url,
        allowed_algorithms=allowed,
        keys=keys,
        now=now,
        leeway_seconds=leeway,
        max_lifetime_seconds=max_lifetime,
        max_age_seconds=max_age,
    )


async def rejected(token: str, keys: Any, **kw: Any) -> str:
    with pytest.raises(AssertionInvalid) as info:
        await verify(token, keys, **kw)
    message = info.value.message
    # never echo the assertion, or any of its parts
    for part in token.split("."):
        if len(part) > 8:
            assert part not in message
    return message


# -- happy paths ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_valid_rs256_assertion(keys: JwksCache) -> None:
    verified = await verify(rs256(typ="JWT"), keys)
    assert verified.claims["sub"] == "user-123"
    assert verified.claims["email"] == "user@example.com"
    assert verified.header == {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
    with pytest.raises(TypeError):
        verified.claims["sub"] = "x"  # type: ignore[index]


@pytest.mark.anyio
async def test_valid_es256_assertion(keys: JwksCache) -> None:
    verified = await verify(es256(claims(aud=["a", "my-app"])), keys)
    assert verified.claims["aud"] == ["a", "my-app"]


@pytest.mark.anyio
async def test_valid_without_kid_when_one_key_fits(keys: JwksCache) -> None:
    token = jwt.encode(claims(), EC_KEY, algorithm="ES256")
    assert "kid" not in jwt.get_unverified_header(token)
    await verify(token, keys)


@pytest.mark.anyio
@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "AT+JWT", "application/jwt", "application/at+JWT"])
async def test_accepted_typ_values(keys: JwksCache, typ: str) -> None:
    await verify(rs256(typ=typ), keys)


@pytest.mark.anyio
async def test_optional_nbf_and_iat_may_be_absent(keys: JwksCache) -> None:
    await verify(rs256(claims(nbf=DROP, iat=DROP)), keys)


@pytest.mark.anyio
async def test_float_times_are_accepted(keys: JwksCache) -> None:
    await verify(rs256(claims(exp=NOW + 0.5, iat=NOW - 0.5, nbf=NOW - 0.5)), keys)


# -- time claims ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_expired_inside_leeway_is_accepted(keys: JwksCache) -> None:
    await verify(rs256(claims(exp=int(NOW) - 59)), keys)


@pytest.mark.anyio
@pytest.mark.parametrize("exp_offset", [-60, -61, -3600])
async def test_expired_outside_leeway(keys: JwksCache, exp_offset: int) -> None:
    exp = int(NOW) + exp_offset
    message = await rejected(rs256(claims(exp=exp)), keys)
    assert message == f"assertion expired at {_iso(exp)} (leeway 60s)"


@pytest.mark.anyio
async def test_expired_with_zero_leeway(keys: JwksCache) -> None:
    token = rs256(claims(exp=int(NOW)))
    assert (await rejected(token, keys, leeway=0)).endswith("(leeway 0s)")
    await verify(rs256(claims(exp=int(NOW) + 1)), keys, leeway=0)


@pytest.mark.anyio
async def test_nbf_in_the_future(keys: JwksCache) -> None:
    await verify(rs256(claims(nbf=int(NOW) + 60)), keys)  # exactly at the leeway edge is fine
    message = await rejected(rs256(claims(nbf=int(NOW) + 61)), keys)
    assert message == f"assertion is not valid before {_iso(int(NOW) + 61)} (leeway 60s)"


@pytest.mark.anyio
async def test_iat_in_the_future(keys: JwksCache) -> None:
    await verify(rs256(claims(iat=int(NOW) + 60)), keys)
    message = await rejected(rs256(claims(iat=int(NOW) + 3600)), keys)
    assert message.startswith("assertion was issued in the future")


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["1900000000", True, None, [1], {"t": 1}])
async def test_time_claims_must_be_numbers(keys: JwksCache, value: Any) -> None:
    for name in ("exp", "nbf", "iat"):
        assert (
            await rejected(rs256(claims(**{name: value})), keys) == f"assertion {name} claim is not a number"
        )


@pytest.mark.anyio
async def test_absurd_exp_is_refused_without_crashing(keys: JwksCache) -> None:
    # a year-huge exp is refused by the maximum lifetime; an absurdly negative one is expired and formats safely
    assert "SSOIDC_ASSERTION_MAX_LIFETIME" in await rejected(rs256(claims(exp=10**20)), keys)
    assert (await rejected(rs256(claims(exp=-(10**20))), keys)).startswith("assertion expired at ")


@pytest.mark.anyio
async def test_integers_too_large_for_a_float(keys: JwksCache) -> None:
    def token(**overrides: Any) -> str:
        return sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims(**overrides)).encode())

    # 10**400 compares as infinity: never an OverflowError, always a refusal naming the check
    assert "SSOIDC_ASSERTION_MAX_LIFETIME" in await rejected(token(exp=10**400), keys)
    assert "SSOIDC_ASSERTION_MAX_LIFETIME" in await rejected(token(exp=10**400, iat=DROP), keys)
    assert "SSOIDC_ASSERTION_MAX_LIFETIME" in await rejected(token(iat=-(10**400)), keys)
    await verify(token(nbf=-(10**400)), keys)  # "valid since forever" is harmless
    assert (await rejected(token(exp=-(10**400)), keys)).startswith("assertion expired at ")
    assert (await rejected(token(nbf=10**400), keys)).startswith("assertion is not valid before ")
    assert (await rejected(token(iat=10**400), keys)).startswith("assertion was issued in the future")


@pytest.mark.anyio
@pytest.mark.parametrize("value", [1e50, 1.5e308, "1900000000", True, None, [1], {"a": 1}])
async def test_exp_of_any_shape_is_refused_cleanly(keys: JwksCache, value: Any) -> None:
    message = await rejected(rs256(claims(exp=value)), keys)
    assert "exp" in message or "SSOIDC_ASSERTION_MAX_LIFETIME" in message


@pytest.mark.anyio
async def test_lifetime_and_age_limits(keys: JwksCache) -> None:
    t = int(NOW)
    # exactly the maximum lifetime passes, one second more does not
    await verify(rs256(claims(iat=t - 10, exp=t - 10 + 86400)), keys)
    assert "lifetime" in await rejected(rs256(claims(iat=t - 10, exp=t - 10 + 86401)), keys)
    # without iat, exp - now is bounded (plus the leeway)
    await verify(rs256(claims(iat=DROP, exp=t + 86400)), keys)
    assert "no iat" in await rejected(rs256(claims(iat=DROP, exp=t + 86400 + int(LEEWAY) + 1)), keys)
    # a year-old iat with a fresh exp: refused by the lifetime, and by the age when the lifetime allows it
    year = 365 * 86400
    assert "lifetime" in await rejected(rs256(claims(iat=t - year, nbf=DROP)), keys)
    token = rs256(claims(iat=t - 7200, nbf=DROP, exp=t + 60))
    assert "SSOIDC_ASSERTION_MAX_AGE" in await rejected(token, keys, max_lifetime=float(year), max_age=3600.0)
    await verify(token, keys, max_lifetime=float(year), max_age=7200.0)


@pytest.mark.anyio
async def test_unpaired_surrogate_escapes_are_refused(keys: JwksCache) -> None:
    text = json.dumps(claims())[:-1] + ', "x": "\\ud800"}'  # JSON grammar, but no Unicode text
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, text.encode())
    assert "surrogate" in await rejected(token, keys)


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "latin-1"])
async def test_payloads_that_are_not_utf8_are_refused(keys: JwksCache, encoding: str) -> None:
    text = json.dumps({**claims(), "name": "Zoë"}, ensure_ascii=False)
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, text.encode(encoding))
    assert (await rejected(token, keys)) == "assertion payload is not UTF-8"


@pytest.mark.anyio
async def test_cesu8_surrogates_are_refused(keys: JwksCache) -> None:
    head = json.dumps(claims())[:-1].encode()
    cesu = head + b', "x": "' + "\ud83d\ude00".encode("utf-8", "surrogatepass") + b'"}'  # CESU-8, not UTF-8
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, cesu)
    assert (await rejected(token, keys)) == "assertion payload is not UTF-8"
    escaped = head + b', "x": "\\ud83d\\ude00"}'  # the escaped surrogate pair is a valid character
    await verify(sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, escaped), keys)


@pytest.mark.anyio
@pytest.mark.parametrize("kid", [None, 7, "", ["rsa-1"], True])
async def test_a_kid_header_must_be_a_non_empty_string(keys: JwksCache, kid: Any) -> None:
    token = sign_raw_rs256({"alg": "RS256", "kid": kid}, json.dumps(claims()).encode())
    assert (await rejected(token, keys)) == "assertion header kid is not a non-empty string"


def _iso(ts: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- required claims -----------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"exp": DROP}, "assertion has no exp claim"),
        ({"jti": DROP}, "assertion has no jti claim"),
        ({"sub": DROP}, "assertion has no sub claim"),
        ({"aud": DROP}, "assertion has no aud claim"),
        ({"iss": DROP}, "assertion has no iss claim"),
        ({"jti": ""}, "assertion jti claim is not a non-empty string"),
        ({"jti": 12345}, "assertion jti claim is not a non-empty string"),
        ({"jti": "j" * 1025}, "assertion jti claim is longer than 1024 characters"),
        ({"sub": ""}, "assertion sub claim is not a non-empty string"),
        ({"sub": 42}, "assertion sub claim is not a non-empty string"),
        ({"aud": ""}, "assertion aud claim is empty"),
        ({"aud": []}, "assertion aud claim is not a non-empty list of non-empty strings"),
        ({"aud": ["ok", 3]}, "assertion aud claim is not a non-empty list of non-empty strings"),
        ({"aud": {"x": 1}}, "assertion aud claim is not a string or a list of strings"),
        ({"iss": OTHER_ISSUER}, "assertion issuer does not match the trusted token issuer"),
        ({"iss": ISSUER + "/"}, "assertion issuer does not match the trusted token issuer"),
    ],
)
async def test_claim_checks(keys: JwksCache, overrides: dict[str, Any], expected: str) -> None:
    assert await rejected(rs256(claims(**overrides)), keys) == expected


@pytest.mark.anyio
async def test_non_string_iss(keys: JwksCache) -> None:
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims(iss=7)).encode())
    assert await rejected(token, keys) == "assertion iss claim is not a non-empty string"


@pytest.mark.anyio
async def test_jti_of_exactly_1024_characters_is_accepted(keys: JwksCache) -> None:
    await verify(rs256(claims(jti="j" * 1024)), keys)


@pytest.mark.anyio
async def test_wrong_issuer_url_passed_by_caller(keys: JwksCache) -> None:
    # a token from ISSUER checked against another trusted issuer: that issuer's keys are used, not ISSUER's
    with pytest.raises(IssuerKeyError):
        await verify(rs256(), keys, issuer_url=OTHER_ISSUER)


# -- header and algorithm checks -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_alg_none_is_rejected(keys: JwksCache) -> None:
    header_payload = f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(claims())}"
    # the classic form, with an empty signature
    assert "well-formed" in await rejected(header_payload + ".", keys, allowed=["RS256", "none"])
    # with some signature bytes, so the algorithm check itself is what refuses it
    for alg in ("none", "None", "NONE"):
        token = f"{b64json({'alg': alg})}.{b64json(claims())}.{b64(b'x' * 32)}"
        message = await rejected(token, keys, allowed=["RS256", "none", "None", "NONE"])
        assert message == f"assertion algorithm {alg} is not allowed for this issuer (allowed: RS256)"


@pytest.mark.anyio
async def test_hs256_with_the_public_key_as_secret_is_rejected(keys: JwksCache) -> None:
    """The classic RS256 -> HS256 key-confusion attack (RFC 8725 section 2.1)."""
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json({'alg': 'HS256', 'kid': 'rsa-1', 'typ': 'JWT'})}.{b64json(claims())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(signature)}"
    message = await rejected(token, keys, allowed=["RS256", "HS256"])  # even if misconfigured to allow it
    assert message == "assertion algorithm HS256 is not allowed for this issuer (allowed: RS256)"


@pytest.mark.anyio
async def test_algorithm_not_in_issuer_allow_list(keys: JwksCache) -> None:
    message = await rejected(es256(), keys, allowed=["RS256"])
    assert message == "assertion algorithm ES256 is not allowed for this issuer (allowed: RS256)"
    assert (await rejected(es256(), keys, allowed=[])).endswith("(allowed: none configured)")


@pytest.mark.anyio
async def test_header_alg_must_match_the_key_type(keys: JwksCache) -> None:
    # an ES256 signature relabelled RS256 and pointed at the EC key: the key cannot be used with RS256
    token = es256()
    _, payload, signature = token.split(".")
    forged = f"{b64json({'alg': 'RS256', 'kid': 'ec-1'})}.{payload}.{signature}"
    with pytest.raises(IssuerKeyError, match="cannot be used with RS256"):
        await verify(forged, keys)


@pytest.mark.anyio
async def test_rs256_signature_relabelled_ps256_fails(keys: JwksCache) -> None:
    token = rs256()
    _, payload, signature = token.split(".")
    forged = f"{b64json({'alg': 'PS256', 'kid': 'rsa-1'})}.{payload}.{signature}"
    assert await rejected(forged, keys, allowed=["RS256", "PS256"]) == "assertion signature is invalid"


@pytest.mark.anyio
async def test_crit_header_is_rejected(keys: JwksCache) -> None:
    message = await rejected(rs256(crit=["exp"]), keys)
    assert message == "assertion header has a crit parameter; no JWS extensions are supported"


@pytest.mark.anyio
async def test_b64_false_is_rejected(keys: JwksCache) -> None:
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1", "b64": False}, json.dumps(claims()).encode())
    assert await rejected(token, keys) == "assertion header has an unsupported b64 parameter"


@pytest.mark.anyio
@pytest.mark.parametrize("typ", ["logout+jwt", "secevent+jwt", "dpop+jwt", "JOSE", 7])
async def test_other_typ_values_are_rejected(keys: JwksCache, typ: Any) -> None:
    message = await rejected(rs256(typ=typ), keys)
    assert message.endswith("is not accepted (expected JWT or at+jwt)")


@pytest.mark.anyio
async def test_embedded_keys_in_the_header_are_ignored(keys: JwksCache) -> None:
    """A token signed by an attacker's key that it also embeds (jwk / x5c / jku) must not verify."""
    attacker_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(OTHER_RSA_KEY.public_key(), as_dict=True)
    token = jwt.encode(
        claims(),
        OTHER_RSA_KEY,
        algorithm="RS256",
        headers={"kid": "rsa-1", "jwk": attacker_jwk, "jku": "https://evil.example.com/jwks"},
    )
    assert await rejected(token, keys) == "assertion signature is invalid"
    token = jwt.encode(
        claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"jwk": attacker_jwk, "kid": "evil"}
    )
    with pytest.raises(IssuerKeyError, match="publishes no key with kid 'evil'"):
        await verify(token, keys)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"kid": "rsa-1"}, "assertion header has no alg"),
        ({"alg": 256, "kid": "rsa-1"}, "assertion header has no alg"),
        ({"alg": "RS256", "kid": 5}, "assertion header kid is not a non-empty string"),
        ({"alg": "RS256", "kid": ""}, "assertion header kid is not a non-empty string"),
        ({"alg": "<script>", "kid": "rsa-1"}, "assertion algorithm (unprintable) is not allowed"),
    ],
)
async def test_malformed_headers(keys: JwksCache, header: dict[str, Any], expected: str) -> None:
    token = f"{b64json(header)}.{b64json(claims())}.{b64(b'sig' * 20)}"
    assert (await rejected(token, keys)).startswith(expected)


# -- signature -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tampered_payload(keys: JwksCache) -> None:
    header, _, signature = rs256().split(".")
    tampered = f"{header}.{b64json(claims(sub='admin'))}.{signature}"
    assert await rejected(tampered, keys) == "assertion signature is invalid"


@pytest.mark.anyio
async def test_tampered_header(keys: JwksCache) -> None:
    _, payload, signature = rs256().split(".")
    tampered = f"{b64json({'alg': 'RS256', 'kid': 'rsa-1', 'x': 1})}.{payload}.{signature}"
    assert await rejected(tampered, keys) == "assertion signature is invalid"


@pytest.mark.anyio
@pytest.mark.parametrize("make", [rs256, es256])
async def test_tampered_signature(keys: JwksCache, make: Any) -> None:
    header, payload, signature = make().split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    assert await rejected(f"{header}.{payload}.{b64(bytes(raw))}", keys) == "assertion signature is invalid"


@pytest.mark.anyio
async def test_signature_by_another_key(keys: JwksCache) -> None:
    token = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert await rejected(token, keys) == "assertion signature is invalid"


@pytest.mark.anyio
async def test_truncated_es256_signature(keys: JwksCache) -> None:
    header, payload, signature = es256().split(".")
    assert (await rejected(f"{header}.{payload}.{signature[:20]}", keys)).startswith("assertion signature")


@pytest.mark.anyio
async def test_duplicate_claim_names_are_rejected(keys: JwksCache) -> None:
    body = json.dumps(claims())[:-1] + ', "sub": "admin"}'
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, body.encode())
    assert await rejected(token, keys) == "assertion payload is not valid JSON"


@pytest.mark.anyio
async def test_nan_is_rejected(keys: JwksCache) -> None:
    body = json.dumps(claims())[:-1] + ', "exp2": NaN}'
    token = sign_raw_rs256({"alg": "RS256", "kid": "rsa-1"}, body.encode())
    assert await rejected(token, keys) == "assertion payload is not valid JSON"


# -- malformed tokens ----------------------------------------------------------------------------------------


DUPLICATE_HEADER = b64(b'{"alg": "RS256", "alg": "none"}')
RS256_HEADER = b64json({"alg": "RS256"})
MALFORMED = [
    pytest.param("", "assertion is not a well-formed JWT", id="empty"),
    pytest.param("garbage", "assertion is not a well-formed JWT", id="one-part"),
    pytest.param("a.b", "assertion is not a well-formed JWT", id="two-parts"),
    pytest.param("a.b.c.d", "assertion is not a well-formed JWT", id="four-parts"),
    pytest.param("a.b.c.d.e", "assertion is a JWE; encrypted assertions are not supported", id="jwe"),
    pytest.param("..", "assertion is not a well-formed JWT", id="empty-parts"),
    pytest.param("!!!.e30.c2ln", "assertion header is not base64url", id="header-alphabet"),
    pytest.param("e30=.e30.c2ln", "assertion header is not base64url", id="header-padding"),
    pytest.param("abcde.e30.c2ln", "assertion header is not base64url", id="header-length"),
    pytest.param(f"{b64(b'not json')}.e30.c2ln", "assertion header is not valid JSON", id="header-not-json"),
    pytest.param(f"{b64json([1])}.e30.c2ln", "assertion header is not a JSON object", id="header-array"),
    pytest.param(f"{b64(b'[' * 30_000)}.e30.c2ln", "assertion header is not valid JSON", id="header-deep"),
    pytest.param(f"{DUPLICATE_HEADER}.e30.c2ln", "assertion header is not valid JSON", id="header-duplicate"),
    pytest.param(
        f"{RS256_HEADER}.{b64(b'nope')}.c2ln", "assertion payload is not valid JSON", id="payload-not-json"
    ),
    pytest.param(
        f"{RS256_HEADER}.{b64json('s')}.c2ln", "assertion payload is not a JSON object", id="payload-str"
    ),
    pytest.param(
        f"{RS256_HEADER}.{b64json(claims())}.s!g", "assertion signature is not base64url", id="sig-alphabet"
    ),
    pytest.param(
        "x" * (MAX_ASSERTION_LENGTH + 1), "assertion is longer than 65536 characters", id="too-long"
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("token", "expected"), MALFORMED)
async def test_malformed_tokens(keys: JwksCache, token: str, expected: str) -> None:
    assert (await rejected(token, keys)).startswith(expected)


@pytest.mark.parametrize(("token", "expected"), MALFORMED)
def test_peek_issuer_malformed(token: str, expected: str) -> None:
    with pytest.raises(AssertionInvalid) as info:
        peek_issuer(token)
    assert info.value.message.startswith(expected)


def test_peek_issuer_returns_unverified_iss_and_header() -> None:
    token = rs256(typ="JWT")
    parsed = peek_issuer(token)
    assert (parsed.token, parsed.issuer) == (token, ISSUER)
    assert parsed.header == {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
    assert parsed.claims["iss"] == ISSUER
    with pytest.raises(TypeError):
        parsed.claims["iss"] = "https://elsewhere.example"  # type: ignore[index]  # read-only views
    # no verification at all: a forged signature still peeks fine
    h, p, _ = rs256().split(".")
    assert peek_issuer(f"{h}.{p}.{b64(b'forged')}").issuer == ISSUER


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"sub": "x"}, "assertion has no iss claim"),
        ({"iss": ""}, "assertion iss claim is not a non-empty string"),
        ({"iss": ["a"]}, "assertion iss claim is not a non-empty string"),
    ],
)
def test_peek_issuer_needs_iss(payload: dict[str, Any], expected: str) -> None:
    with pytest.raises(AssertionInvalid, match=expected):
        peek_issuer(f"{b64json({'alg': 'RS256'})}.{b64json(payload)}.{b64(b'sig')}")


@pytest.mark.anyio
async def test_negative_leeway_is_a_caller_error(keys: JwksCache) -> None:
    with pytest.raises(ValueError, match="leeway"):
        await verify(rs256(), keys, leeway=-1)


@pytest.mark.anyio
async def test_end_to_end_key_fetch_happens_once(keys: JwksCache) -> None:
    for _ in range(5):
        await verify(rs256(), keys)
        await verify(es256(), keys)


# -- property tests: only ever AssertionInvalid / IssuerKeyError --------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
header_strategy = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "ES256", "HS256", "none", "PS256", "ES512", ""]) | json_values,
        "kid": st.sampled_from(["rsa-1", "ec-1", "nope"]) | json_values,
        "typ": st.sampled_from(["JWT", "at+jwt", "x"]) | json_values,
        "crit": json_values,
        "b64": json_values,
        "jwk": json_values,
    },
)
claims_strategy = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.just(ISSUER) | json_values,
        "sub": json_values,
        "aud": json_values,
        "exp": st.integers(min_value=-(10**400), max_value=10**400)
        | st.floats(allow_nan=False)
        | json_values,
        "nbf": st.integers() | json_values,
        "iat": st.integers() | json_values,
        "jti": json_values,
    },
)
PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _run_verify(token: str, *, must_reject: bool = True) -> None:
    """Only domain errors come out; text that is not a signed token of ours must be rejected."""

    async def go() -> None:
        cache = new_cache()
        try:
            if must_reject:
                with pytest.raises((AssertionInvalid, IssuerKeyError)):
                    await verify(token, cache, allowed=["RS256", "ES256", "HS256", "none"])
                return
            with contextlib.suppress(AssertionInvalid, IssuerKeyError):
                await verify(token, cache, allowed=["RS256", "ES256", "HS256", "none"])
        finally:
            await cache.aclose()

    asyncio.run(go())


def _peek(token: str) -> None:
    with contextlib.suppress(AssertionInvalid):
        peek_issuer(token)


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_property_arbitrary_text(token: str) -> None:
    _peek(token)
    _run_verify(token)


@PROPERTY_SETTINGS
@given(st.text(alphabet="abcXYZ019-_.=+/ ", max_size=120))
def test_property_jwt_alphabet(token: str) -> None:
    _peek(token)
    _run_verify(token)


@PROPERTY_SETTINGS
@given(header=header_strategy, payload=claims_strategy, signature=st.binary(max_size=300), sign=st.booleans())
def test_property_structured_tokens(
    header: dict[str, Any], payload: dict[str, Any], signature: bytes, sign: bool
) -> None:
    if sign:
        # a genuinely signed token with arbitrary header/claims: reaches every claim check
        token = sign_raw_rs256({**header, "alg": "RS256", "kid": "rsa-1"}, json.dumps(payload).encode())
    else:
        token = f"{b64json(header)}.{b64json(payload)}.{b64(signature)}"
    _peek(token)
    _run_verify(token, must_reject=not sign)  # a signed token with arbitrary claims may happen to be valid


@pytest.mark.anyio
async def test_claims_that_reach_verification_are_the_signed_ones(keys: JwksCache) -> None:
    """A ParsedAssertion is made from a token only: its header and claims cannot be swapped after the parse, so
    what ``verify_assertion`` returns is what the signature covers (and the token is parsed once)."""
    token = rs256()
    parsed = peek_issuer(token)
    forged = {**parsed.claims, "sub": "admin", "email": "admin@example.com"}
    with pytest.raises(TypeError):
        dataclasses.replace(parsed, claims=forged)  # type: ignore[type-var]
    with pytest.raises(AttributeError):
        parsed.claims = forged  # type: ignore[misc]
    with pytest.raises(TypeError):
        ParsedAssertion(token, claims=forged)  # type: ignore[call-arg]
    verified = await verify_assertion(
        parsed, issuer_url=ISSUER, allowed_algorithms=("RS256",), keys=keys, now=NOW, leeway_seconds=LEEWAY
    )
    assert verified.claims is parsed.claims
    assert dict(verified.claims) == jwt.decode(token, options={"verify_signature": False})
    head, _, sig = token.split(".")
    with pytest.raises(
        AssertionInvalid, match="signature is invalid"
    ):  # the forged claims in a token of their own
        await verify_assertion(
            ParsedAssertion(f"{head}.{b64json(forged)}.{sig}"),
            issuer_url=ISSUER,
            allowed_algorithms=("RS256",),
            keys=keys,
            now=NOW,
            leeway_seconds=LEEWAY,
        )
