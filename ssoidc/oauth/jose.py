"""Compact JWS signing and signature verification (RFC 7515 section 3.1, RFC 7518 section 3) on ``cryptography``.

PyJWT parses keys and JWKS for us, but on the hot path its ``encode``/``decode`` cost several times the
cryptographic work itself (measured: RS256 verify 126 µs through ``jwt.decode`` against 21 µs for the RSA
operation; ES256 sign 42 µs against 26 µs). These two functions do only what the callers need: the algorithm is
always chosen by the caller (never by a token header), and keys are ``cryptography`` key objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from ssoidc.base64url import b64u

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


def sign(header: Mapping[str, Any], claims: Mapping[str, Any], key: Any, alg: str) -> str:
    """A compact JWS of ``claims`` with ``header`` (which must already name ``alg``), signed with ``key``."""
    signing_input = f"{b64u(orjson.dumps(header))}.{b64u(orjson.dumps(claims))}".encode("ascii")
    h = _HASHES[alg[2:]]()
    if alg.startswith("ES"):
        der = key.sign(signing_input, ec.ECDSA(h))
        r, s = utils.decode_dss_signature(der)
        size = _EC_SIZES[alg]
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg.startswith("RS"):
        sig = key.sign(signing_input, padding.PKCS1v15(), h)
    elif alg.startswith("PS"):
        sig = key.sign(signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        raise ValueError(f"unsupported algorithm {alg}")
    return signing_input.decode("ascii") + "." + b64u(sig)


def verify(signing_input: bytes, signature: bytes, key: Any, alg: str) -> bool:
    """True if ``signature`` is valid for ``signing_input`` under ``key`` and ``alg``. Never raises on bad input."""
    digest = _HASHES.get(alg[2:])
    if digest is None:
        return False
    h = digest()
    try:
        if alg in _EC_SIZES and isinstance(key, ec.EllipticCurvePublicKey):
            size = _EC_SIZES[alg]
            if len(signature) != 2 * size or key.curve.key_size != {32: 256, 48: 384, 66: 521}[size]:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            key.verify(utils.encode_dss_signature(r, s), signing_input, ec.ECDSA(h))
        elif alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), h)
        elif alg.startswith("PS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(
                signature, signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h
            )
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
