"""Store micro-benchmark: ``issue`` (with a jti) and ``rotate_refresh`` per second, SqliteStore vs PostgresStore.

One process, one event loop, ``--concurrency`` callers (default 32) sharing one store, each op writing the two
tokens a grant writes (access + refresh). No HTTP, no crypto beyond the store's own: this isolates the storage
cost per token. For PostgreSQL it also counts the statements sent per op (an asyncpg query logger on every
pooled connection), i.e. the round trips per token on the hot path.

    .venv/bin/python bench/store_micro.py [--ops 5000] [--concurrency 32] [--pg-url postgresql://127.0.0.1/test]
                                          [--only sqlite|postgres]

The PostgreSQL run uses a fresh schema (``search_path``) that it drops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg

from ssoidc.storage.base import Redemption, Store, TokenRecord
from ssoidc.storage.postgres import PostgresStore, PostgresUrl
from ssoidc.storage.sqlite import SqliteStore

KEY = bytes(range(32))
APP = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111"


def record(kind: str, family: str, now: float) -> TokenRecord:
    return TokenRecord(
        token_hash=secrets.token_bytes(32),
        kind=kind,  # type: ignore[arg-type]
        family_id=family,
        parent_hash=None,
        application_arn=APP,
        user_id="9067c1d4-a0a1-70e1-1c5e-000000000001",
        scopes=("openid", "aws", "sts:identity_context"),
        issued_at=now,
        expires_at=now + 3600,
        session_expires_at=now + 8 * 3600,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        context={"ctx": "x" * 400},  # about the size of a sealed identity context
    )


def pair(family: str, now: float) -> list[TokenRecord]:
    return [record("access", family, now), record("refresh", family, now)]


async def drive(n: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> float:
    """Run ``op(i)`` for i in range(n) from ``concurrency`` callers; returns ops per second."""
    todo: Iterator[int] = iter(range(n))

    async def caller() -> None:
        for i in todo:
            await op(i)

    t0 = time.perf_counter()
    await asyncio.gather(*[caller() for _ in range(concurrency)])
    return n / (time.perf_counter() - t0)


async def bench(store: Store, n: int, concurrency: int, counter: list[int] | None) -> dict[str, float]:
    now = time.time()
    out: dict[str, float] = {}
    await drive(200, concurrency, lambda i: store.issue(pair(f"w{i}", now), jti=("iss", f"w{i}", now + 600)))
    before = counter[0] if counter else 0
    out["issue/s"] = await drive(
        n, concurrency, lambda i: store.issue(pair(f"i{i}", now), jti=("iss", f"j{i}", now + 600))
    )
    if counter:
        out["issue statements/op"] = (counter[0] - before) / n
    olds = [record("refresh", f"r{i}", now) for i in range(n)]
    for k in range(0, n, 500):
        await store.issue(olds[k : k + 500])

    async def rotate(i: int) -> None:
        outcome = await store.rotate_refresh(olds[i].token_hash, APP, now + 1, 5.0, pair(f"r{i}", now + 1))
        assert outcome is Redemption.OK, outcome

    before = counter[0] if counter else 0
    out["rotate/s"] = await drive(n, concurrency, rotate)
    if counter:
        out["rotate statements/op"] = (counter[0] - before) / n
    before = counter[0] if counter else 0
    out["find_token/s"] = await drive(n, concurrency, lambda i: store.find_token(olds[i].token_hash))
    out["config_version/s"] = await drive(n, concurrency, lambda i: store.config_version())
    if counter:
        out["read statements/op"] = (counter[0] - before) / (2 * n)
    return out


async def run_postgres(url: str, n: int, concurrency: int) -> dict[str, float]:
    schema = "ssoidc_bench_" + secrets.token_hex(4)
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query)) | {"search_path": schema}
    store = PostgresStore(
        urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query))), master_key=KEY
    )
    counter = [0]

    def count(_record: Any) -> None:
        counter[0] += 1

    try:
        pool = await store._get_pool()
        # Count every statement the pool's connections send from now on.
        conns = [await pool.acquire() for _ in range(pool.get_max_size())]
        for c in conns:
            c._con.add_query_logger(count)  # the proxy hides it; the raw connection is per pool slot
        for c in conns:
            await pool.release(c)
        return await bench(store, n, concurrency, counter)
    finally:
        await store.close()
        conn = await asyncpg.connect(PostgresUrl.parse(url).dsn)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def run_sqlite(n: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        store = SqliteStore(Path(d) / "bench.db", master_key=KEY)
        try:
            return await bench(store, n, concurrency, None)
        finally:
            await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--pg-url", default="postgresql://127.0.0.1:5432/test?pool_max_size=10")
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    if args.only != "postgres":
        print("sqlite  ", asyncio.run(run_sqlite(args.ops, args.concurrency)))
    if args.only != "sqlite":
        print("postgres", asyncio.run(run_postgres(args.pg_url, args.ops, args.concurrency)))


if __name__ == "__main__":
    main()
