"""What only the in-memory store has: its "database" object, shared by the stores opened on it.

The behaviour every store shares is the contract suite, tests/storage/test_contract.py (``memory`` ids)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from ssoidc.errors import ConfigError
from ssoidc.storage.base import StorageError, StoredCredential
from ssoidc.storage.memory import MemoryData, MemoryStore

KEY = bytes(range(32))


def test_secrets_are_sealed_in_the_data_as_in_a_database() -> None:
    data = MemoryData()
    s = MemoryStore(data, master_key=KEY)
    secret = "very-secret-value-" + secrets.token_hex(8)
    pem = b"-----BEGIN PRIVATE KEY----- " + secrets.token_hex(8).encode()
    asyncio.run(s.create_credential(StoredCredential("AKIAEXAMPLE12345678", secret, "arn:aws:iam::1:root")))
    key = asyncio.run(s.ensure_signing_key("id-token", "ES256", lambda: ("kid-1", pem)))
    assert key.private_pem == pem
    assert asyncio.run(s.load_credentials())[0].secret_access_key == secret
    dump = repr(vars(data))
    assert secret not in dump and pem.decode() not in dump and pem.hex() not in dump
    # Another node with the same key opens them; one with another key is refused, as a database would refuse it.
    assert asyncio.run(MemoryStore(data, master_key=KEY).load_credentials())[0].secret_access_key == secret
    with pytest.raises(ConfigError, match="SSOIDC_MASTER_KEY"):
        MemoryStore(data, master_key=bytes(32))


def test_each_data_is_its_own_database_and_closing_a_store_leaves_it() -> None:
    a, b = MemoryStore(master_key=KEY), MemoryStore(master_key=KEY)
    asyncio.run(a.put_meta_if_absent("k", "a"))
    assert asyncio.run(b.get_meta("k")) is None
    other = MemoryStore(a.data, master_key=KEY)
    asyncio.run(a.close())
    with pytest.raises(StorageError):
        asyncio.run(a.get_meta("k"))
    with pytest.raises(StorageError):
        asyncio.run(a.ping())
    assert asyncio.run(other.get_meta("k")) == "a"
