"""Key material at rest: the node's master key and authenticated encryption under keys derived from it.

* The master key is 32 random bytes, read from ``SSOIDC_MASTER_KEY`` (base64url) or from ``<data dir>/master.key``
  (created at first start with mode 0600). Every node sharing a store must share it.
* Purpose keys are derived with HKDF-SHA256 (RFC 5869) using the purpose as ``info``, so the key that seals SigV4
  secrets never equals the one that seals identity contexts.
* ``Sealer`` is AES-256-GCM-SIV (RFC 8452) with a random 96-bit nonce; the purpose and an optional caller-supplied
  context are bound as associated data, so a ciphertext cannot be moved between purposes or rows. GCM-SIV, not
  GCM, because one purpose key seals an identity context per token: a busy node would pass AES-GCM's limit of
  2^32 random nonces per key within weeks, and a repeated GCM nonce exposes the authentication key. Under
  GCM-SIV a repeated nonce reveals at most that two sealed messages were equal. Blobs of format 1 (AES-256-GCM,
  written by earlier versions) still open; everything new is format 2.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ssoidc.base64url import b64u, b64u_decode
from ssoidc.errors import ConfigError

MASTER_KEY_ENV = "SSOIDC_MASTER_KEY"
_GCM = b"\x01"  # format 1: AES-256-GCM (read only)
_GCM_SIV = b"\x02"  # format 2: AES-256-GCM-SIV


def load_or_create_master_key(data_dir: Path) -> bytes:
    """Return the master key from the environment or the data dir, creating the file on first start."""
    raw = os.environ.get(MASTER_KEY_ENV)
    if raw:
        try:
            key = b64u_decode(raw.strip())
        except (ValueError, TypeError):
            raise ConfigError(f"{MASTER_KEY_ENV}: not valid base64url") from None
        if len(key) != 32:
            raise ConfigError(f"{MASTER_KEY_ENV}: must decode to 32 bytes, got {len(key)}")
        return key
    path = data_dir / "master.key"
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            key = b64u_decode(path.read_text().strip())
        except (ValueError, TypeError):  # not base64url (or not text): never echoed, it may be a key
            key = b""
        if len(key) != 32:
            raise ConfigError(f"{path}: corrupt master key (expected 32 bytes)") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as f:
        f.write(b64u(key) + "\n")
    return key


def derive_key(master: bytes, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(master)


class Sealer:
    """AES-256-GCM-SIV under a purpose key. ``seal``/``open`` bind ``purpose`` and ``aad`` as associated data."""

    def __init__(self, master: bytes, purpose: str) -> None:
        self._siv = AESGCMSIV(derive_key(master, "seal-siv:" + purpose))
        self._gcm = AESGCM(derive_key(master, "seal:" + purpose))  # format 1, opened only
        self._purpose = purpose.encode()

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(12)
        return _GCM_SIV + nonce + self._siv.encrypt(nonce, plaintext, self._purpose + b"\x00" + aad)

    def open(self, blob: bytes, aad: bytes = b"") -> bytes:
        """Decrypt; raises ``ValueError`` if the blob is malformed, tampered with or sealed for something else."""
        if len(blob) < 1 + 12 + 16 or blob[:1] not in (_GCM_SIV, _GCM):
            raise ValueError("malformed sealed blob")
        aead = self._siv if blob[:1] == _GCM_SIV else self._gcm
        try:
            return aead.decrypt(blob[1:13], blob[13:], self._purpose + b"\x00" + aad)
        except Exception as exc:  # cryptography raises InvalidTag
            raise ValueError("sealed blob failed authentication") from exc
