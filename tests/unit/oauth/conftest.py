"""One grant at a time, without HTTP: a real store, a real token issuer, a frozen clock (``tests.helpers.grants``).

``store`` is a ``MemoryStore`` (the storage contract suite proves it behaves as the SQL stores do), so each grant
test runs in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssoidc.clock import FrozenClock
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.grants.base import GrantDeps
from ssoidc.oauth.issuer import TokenIssuer
from ssoidc.oauth.keys import Signer, generate_private_pem
from ssoidc.oauth.tokens import TokenMinter
from ssoidc.storage.base import SigningKey
from ssoidc.storage.memory import MemoryStore
from tests.helpers.grants import DEFAULT_SCOPES, MASTER_KEY, NOW, StaticKeys, World, configuration


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(master_key=MASTER_KEY)


@pytest.fixture
def world(store: MemoryStore) -> Iterator[World]:
    clock = FrozenClock(NOW)
    minter = TokenMinter(MASTER_KEY)
    signer = Signer(SigningKey("idt-1", "id-token", "ES256", generate_private_pem("ES256"), NOW, True))
    issuer = TokenIssuer(
        minter=minter, signer=signer, store=store, base_url="https://ssoidc.test", access_ttl=3600
    )
    deps = GrantDeps(
        issuer=issuer,
        minter=minter,
        store=store,
        keys=StaticKeys(),
        default_scopes=DEFAULT_SCOPES,
        session_ttl=8 * 3600,
        assertion_leeway=60.0,
        refresh_grace_seconds=5.0,
    )
    yield World(store, clock, deps, ConfigSnapshot(configuration(), 1))
