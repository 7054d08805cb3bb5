"""Signing keys for idTokens (and the demo token issuer), and the JWKS that publishes them (RFC 7517).

Keys are made at first start, stored encrypted under the master key (``KeyStore``), and carry a ``kid`` so they
can be rotated: the JWKS publishes every key of a purpose, the newest active one signs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ssoidc.clock import Clock
from ssoidc.oauth import jose
from ssoidc.storage.base import KeyStore, SigningKey


def generate_private_pem(alg: str) -> bytes:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError(f"unsupported signing algorithm {alg}")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_kid(now: float) -> str:
    """A ``kid`` (RFC 7517 section 4.5) naming the key's creation second, plus randomness."""
    return f"key-{int(now)}-{secrets.token_hex(4)}"


class Signer:
    """Signs JWTs with one loaded private key."""

    def __init__(self, key: SigningKey) -> None:
        self.kid = key.kid
        self.alg = key.alg
        self._private: PrivateKeyTypes = serialization.load_pem_private_key(key.private_pem, password=None)
        self._headers = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jose.sign(self._headers, claims, self._private, self.alg)

    def public_jwk(self) -> dict[str, Any]:
        return public_jwk(self._private, self.kid, self.alg)


def public_jwk(private: PrivateKeyTypes, kid: str, alg: str) -> dict[str, Any]:
    pub = private.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(pub, as_dict=True)
    elif isinstance(pub, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(pub, as_dict=True)
    else:  # pragma: no cover - we only make EC and RSA keys
        raise ValueError("unsupported key type")
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


async def load_signer(
    store: KeyStore, purpose: str, alg: str, clock: Clock
) -> tuple[Signer, list[dict[str, Any]]]:
    """Ensure a key for ``purpose``/``alg`` exists (its ``kid`` names ``clock``'s time); return its signer and
    the JWKS of every key of the purpose."""
    active = await ensure_key(store, purpose, alg, clock)
    return Signer(active), public_jwks(await store.signing_keys(purpose))


async def ensure_key(store: KeyStore, purpose: str, alg: str, clock: Clock) -> SigningKey:
    """The active key for ``purpose``/``alg``, made (``kid`` named after ``clock``'s time) if there is none."""
    return await store.ensure_signing_key(
        purpose, alg, lambda: (new_kid(clock.now()), generate_private_pem(alg))
    )


def public_jwks(keys: Iterable[SigningKey]) -> list[dict[str, Any]]:
    """The public JWKs of ``keys``, in their order."""
    return [
        public_jwk(serialization.load_pem_private_key(k.private_pem, password=None), k.kid, k.alg)
        for k in keys
    ]
