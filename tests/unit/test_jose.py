"""Our compact JWS sign/verify agree with PyJWT in both directions and never raise on bad input."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from ssoidc.base64url import b64u_decode
from ssoidc.oauth import jose

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "ES384": ec.generate_private_key(ec.SECP384R1()),
    "ES512": ec.generate_private_key(ec.SECP521R1()),
    "RS256": RSA,
    "RS384": RSA,
    "RS512": RSA,
    "PS256": RSA,
    "PS384": RSA,
}
CLAIMS = {"sub": "u", "aud": "a", "n": 1, "nested": {"x": [1, 2]}}


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_pyjwt_accepts_our_signatures(alg: str) -> None:
    key = KEYS[alg]
    token = jose.sign({"alg": alg, "kid": "k", "typ": "JWT"}, CLAIMS, key, alg)
    assert jwt.decode(token, key.public_key(), algorithms=[alg], options={"verify_aud": False}) == CLAIMS
    assert jwt.get_unverified_header(token) == {"alg": alg, "kid": "k", "typ": "JWT"}


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_we_accept_pyjwt_signatures_and_reject_tampering(alg: str) -> None:
    key = KEYS[alg]
    token = jwt.encode(CLAIMS, key, algorithm=alg)
    signing_input, _, sig = token.rpartition(".")
    raw = b64u_decode(sig)
    assert jose.verify(signing_input.encode(), raw, key.public_key(), alg)
    assert not jose.verify(signing_input.encode() + b"x", raw, key.public_key(), alg)
    flipped = bytes([raw[0] ^ 1]) + raw[1:]
    assert not jose.verify(signing_input.encode(), flipped, key.public_key(), alg)


def test_algorithm_and_key_type_must_agree() -> None:
    token = jwt.encode(CLAIMS, RSA, algorithm="RS256")
    signing_input, _, sig = token.rpartition(".")
    raw = b64u_decode(sig)
    assert not jose.verify(signing_input.encode(), raw, RSA.public_key(), "ES256")
    assert not jose.verify(signing_input.encode(), raw, RSA.public_key(), "HS256")
    assert not jose.verify(signing_input.encode(), raw, RSA.public_key(), "none")
    assert not jose.verify(signing_input.encode(), raw, KEYS["ES256"].public_key(), "RS256")
    es = jwt.encode(CLAIMS, KEYS["ES384"], algorithm="ES384")
    si, _, s = es.rpartition(".")
    assert not jose.verify(si.encode(), b64u_decode(s), KEYS["ES256"].public_key(), "ES384")


@given(
    st.binary(max_size=200), st.binary(max_size=200), st.sampled_from([*sorted(KEYS), "HS256", "none", "X"])
)
def test_verify_never_raises(data: bytes, sig: bytes, alg: str) -> None:
    key = KEYS.get(alg, RSA)
    assert jose.verify(data, sig, key.public_key(), alg) is False
