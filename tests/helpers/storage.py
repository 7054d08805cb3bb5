"""The storage contract suite's backends: one empty store (SQLite or PostgreSQL), the event loop its test runs
it on, and the master key the stores are opened with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ssoidc.model import Configuration
from ssoidc.storage.base import CatalogueWrite, Store
from tests.helpers.pg import new_schema, with_query

KEY = bytes(range(32))
T = TypeVar("T")


@dataclass
class Backend:
    """One empty store, the event loop the test runs it on, and a way to open more stores ("nodes") on it."""

    kind: str
    loop: asyncio.AbstractEventLoop
    factory: Callable[[bytes], Store]
    stores: list[Store] = field(default_factory=list)
    url: str = ""
    """PostgreSQL only: the URL of this test's schema."""

    def open(self, master_key: bytes = KEY) -> Store:
        """Another store on the same database, as another node would open it (its own pool or connection)."""
        store = self.factory(master_key)
        self.stores.append(store)
        return store

    @property
    def store(self) -> Store:
        return self.stores[0]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)


def fresh_schema_url(base: str) -> tuple[str, str]:
    schema = new_schema("ssoidc_test")
    return schema, with_query(base, search_path=schema, pool_min_size="1", pool_max_size="4")


def put_catalogue(store: Store, config: Configuration, *, now: float = 0.0) -> Coroutine[Any, Any, int]:
    """Make ``config``'s catalogue the stored one, whatever is stored (``edit_catalogue`` with a constant change)."""
    return store.edit_catalogue(lambda _stored: CatalogueWrite(config), now=now)
