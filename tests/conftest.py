"""Fixtures shared by every test: the live servers (SQLite, PostgreSQL) and an sso-oidc client of the shared one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.clients import make_client
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.helpers.servers import LiveServer, running_server


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("server")) as s:
        yield s


@pytest.fixture(scope="session")
def server(sqlite_server: LiveServer) -> LiveServer:
    """The shared live server (SQLite). Grant modules override this to run on both stores
    (``tests.helpers.servers.both_stores``)."""
    return sqlite_server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The same live server on PostgreSQL, in a fresh schema dropped at the end; fails if PostgreSQL is down."""
    base = pg_base_url()
    require_postgres(base, "The PostgreSQL leg of the grant tests")
    schema = new_schema("ssoidc_e2e")
    with running_server(
        tmp_path_factory.mktemp("pgserver"), database_url=with_query(base, search_path=schema)
    ) as s:
        yield s
    drop_schema(base, schema)


@pytest.fixture()
def oidc(server: LiveServer) -> Any:
    return make_client(server)
