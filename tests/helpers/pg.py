"""PostgreSQL for the tests: the server URL, isolated schemas, and a probe that FAILS (never skips) without one.

The server comes from ``SSOIDC_TEST_PG_URL`` (default ``postgresql://127.0.0.1:5432/test``); every user of it
works in its own schema, selected with ``?search_path=`` (asyncpg passes unknown URL parameters to the server).
The benchmark (``bench/``) uses ``with_query``, ``pg_run`` and ``drop_schema`` too.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import pytest

from ssoidc.storage.postgres import PostgresUrl

DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/test"
T = TypeVar("T")


def pg_base_url() -> str:
    return os.environ.get("SSOIDC_TEST_PG_URL", DEFAULT_PG_URL)


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to (or replacing those in) its query string."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update(params)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def new_schema(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{secrets.token_hex(4)}"


def require_postgres(url: str, who: str = "These tests") -> None:
    """Fail (never skip) the calling test if PostgreSQL at ``url`` is unreachable."""

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {url} ({type(exc).__name__}: {exc}). {who} need a server: start"
            " one, or point SSOIDC_TEST_PG_URL at one.",
            pytrace=False,
        )


def pg_run(database_url: str, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """``await op(connection)`` on a fresh connection to ``database_url`` (a store URL: its ``search_path`` and
    other server settings apply; the store's pool parameters are dropped)."""

    async def go() -> T:
        conn = await asyncpg.connect(PostgresUrl.parse(database_url).dsn, timeout=10)
        try:
            return await op(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def pg_fetchval(database_url: str, sql: str, *args: Any) -> Any:
    """One value from PostgreSQL (``search_path`` and the other server settings of ``database_url`` apply)."""
    return pg_run(database_url, lambda conn: conn.fetchval(sql, *args))


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` (and everything in it) on the server of ``url`` (a base or a store URL)."""
    pg_run(url, lambda conn: conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
