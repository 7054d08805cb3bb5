"""Fixtures of the storage contract suite: one ``Backend`` per test, for SQLite, PostgreSQL and the in-memory store.

PostgreSQL comes from ``SSOIDC_TEST_PG_URL`` (default ``postgresql://127.0.0.1:5432/test``). Each test gets a
fresh schema named after its xdist worker and a random suffix (selected with ``?search_path=``), dropped at the end;
an unreachable server FAILS the tests (it never skips them). The memory backend's "nodes" are ``MemoryStore``s on
one shared ``MemoryData``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssoidc.storage.memory import MemoryData, MemoryStore
from ssoidc.storage.postgres import PostgresStore
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.pg import drop_schema, require_postgres
from tests.helpers.pg import pg_base_url as base_url
from tests.helpers.storage import Backend, fresh_schema_url


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The test server's URL, probed once per session: unreachable means every PostgreSQL test fails, loudly."""
    url = base_url()
    require_postgres(url, "The storage contract suite and the PostgreSQL store tests")
    return url


@pytest.fixture()
def pg_schema(pg_base_url: str) -> Iterator[tuple[str, str]]:
    """``(schema, URL)`` of a schema that does not exist yet (the store creates it), dropped afterwards."""
    schema, url = fresh_schema_url(pg_base_url)
    yield schema, url
    drop_schema(pg_base_url, schema)


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    loop = asyncio.new_event_loop()
    base = schema = ""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        b = Backend("sqlite", loop, lambda key: SqliteStore(path, master_key=key))
    elif request.param == "memory":
        data = MemoryData()
        b = Backend("memory", loop, lambda key: MemoryStore(data, master_key=key))
    else:
        base = request.getfixturevalue("pg_base_url")
        schema, url = fresh_schema_url(base)
        b = Backend("postgres", loop, lambda key: PostgresStore(url, master_key=key), url=url)
    try:
        b.open()
        yield b
    finally:
        for s in b.stores:
            with contextlib.suppress(Exception):  # a store the test expected to be refused
                loop.run_until_complete(s.close())
        loop.close()
        if schema:
            drop_schema(base, schema)
