from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config

from tests.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.support import ADMIN_KEY, ADMIN_SECRET, LiveServer, running_server


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("server")) as s:
        yield s


@pytest.fixture(scope="session")
def server(sqlite_server: LiveServer) -> LiveServer:
    """The shared live server (SQLite). Grant modules override this to run on both stores (``both_stores``)."""
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


def both_stores(request: pytest.FixtureRequest) -> LiveServer:
    """Body of a module-level ``server`` fixture parameterized over ``["sqlite", "postgres"]``."""
    server: LiveServer = request.getfixturevalue(f"{request.param}_server")
    return server


def private_server(name: str, *, scope: Literal["function", "module"] = "module") -> Any:
    """A fixture for a module's own live server: ``live = private_server("walkthrough")``. Started in a fresh
    temporary directory named after ``name`` and stopped at the end of ``scope``, for tests that change what the
    shared server's other users rely on."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
        with running_server(tmp_path_factory.mktemp(name)) as s:
            yield s

    return fixture


def make_admin_client(server: LiveServer, service: str, **kw: Any) -> Any:
    """A boto3 client of ``service`` (sso-admin, identitystore, sso-oidc) for ``server``: the bootstrap admin
    credential and us-east-1 unless given, one attempt per call; ``config`` holds extra botocore Config options."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=kw.pop("region_name", "us-east-1"),
        aws_access_key_id=kw.pop("aws_access_key_id", ADMIN_KEY),
        aws_secret_access_key=kw.pop("aws_secret_access_key", ADMIN_SECRET),
        config=Config(retries={"total_max_attempts": 1}, **kw.pop("config", {})),
        **kw,
    )


def make_client(server: LiveServer, **kw: Any) -> Any:
    """An sso-oidc client (``make_admin_client``'s defaults)."""
    return make_admin_client(server, "sso-oidc", **kw)


def race(server: LiveServer, n: int = 50, **params: Any) -> list[str]:
    """Send the same CreateTokenWithIAM request from ``n`` clients at once; return "ok" or the error code of each."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    clients = [make_client(server) for _ in range(n)]

    def call(c: Any) -> str:
        try:
            c.create_token_with_iam(**params)
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(call, clients))


@pytest.fixture()
def oidc(server: LiveServer) -> Any:
    return make_client(server)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
