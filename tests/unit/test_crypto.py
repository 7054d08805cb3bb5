"""``ssoidc.crypto.Sealer``: format 2 (AES-256-GCM-SIV) sealing, format 1 (AES-256-GCM) still opening, binding."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV

from ssoidc.crypto import Sealer, derive_key

MASTER = bytes(range(32))


def test_seals_with_gcm_siv_under_its_own_purpose_key() -> None:
    blob = Sealer(MASTER, "p").seal(b"secret", b"row-1")
    assert blob[:1] == b"\x02"
    siv = AESGCMSIV(derive_key(MASTER, "seal-siv:p"))
    assert siv.decrypt(blob[1:13], blob[13:], b"p\x00row-1") == b"secret"
    assert Sealer(MASTER, "p").open(blob, b"row-1") == b"secret"


def test_format_1_blobs_of_earlier_versions_still_open() -> None:
    nonce = secrets.token_bytes(12)
    gcm = AESGCM(derive_key(MASTER, "seal:p"))
    old = b"\x01" + nonce + gcm.encrypt(nonce, b"kept secret", b"p\x00row-1")
    assert Sealer(MASTER, "p").open(old, b"row-1") == b"kept secret"
    with pytest.raises(ValueError):
        Sealer(MASTER, "p").open(old, b"row-2")


@pytest.mark.parametrize(
    ("purpose", "aad", "master"),
    [("other", b"row-1", MASTER), ("p", b"row-2", MASTER), ("p", b"row-1", bytes(32))],
)
def test_bound_to_purpose_context_and_master_key(purpose: str, aad: bytes, master: bytes) -> None:
    blob = Sealer(MASTER, "p").seal(b"secret", b"row-1")
    with pytest.raises(ValueError, match="failed authentication"):
        Sealer(master, purpose).open(blob, aad)


def test_tampered_or_malformed_blobs_are_refused() -> None:
    sealer = Sealer(MASTER, "p")
    blob = sealer.seal(b"secret")
    for i in range(len(blob)):
        changed = bytearray(blob)
        changed[i] ^= 0x01
        with pytest.raises(ValueError):
            sealer.open(bytes(changed))
    for bad in (b"", b"\x02" + bytes(20), b"\x03" + blob[1:]):
        with pytest.raises(ValueError, match="malformed"):
            sealer.open(bad)


def test_every_seal_is_fresh() -> None:
    sealer = Sealer(MASTER, "p")
    assert len({sealer.seal(b"same") for _ in range(100)}) == 100
