"""PostgreSQL pieces of the load benchmark (``bench/run.py``) and the profile (``bench/profile.py``): a fresh
schema's URL per run (``pg_url``, dropped with ``tests.helpers.pg.drop_schema``), the counters that give writes,
commits, WAL fsyncs and WAL bytes per token (``pg_stats``), and the server's version and settings.

One-off connections are the tests' own (``tests/helpers/pg.py``): importing this module puts the checkout on
``sys.path`` (bench/ runs as scripts, ``python bench/run.py``, whose ``sys.path[0]`` is bench/). ``harness`` does
not import it: the seeding subprocess of a history row imports ``harness`` with another revision's code first on
its path.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from tests.helpers.pg import pg_run, with_query  # noqa: E402 - needs the checkout on sys.path (above)


def pg_url(base: str, schema: str, **settings: str) -> str:
    """The URL of ``schema`` on the server of ``base`` (``search_path``; other ``settings`` are the store's pool
    parameters or server settings, e.g. ``synchronous_commit``)."""
    return with_query(base, search_path=schema, **settings)


def pg_count(url: str, table: str, where: str = "") -> int:
    sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
    return int(pg_run(url, lambda conn: conn.fetchval(sql)))


_PG_DB_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched",
                   "tup_returned", "blks_read", "blks_hit")  # fmt: skip
_PG_WAL_COUNTERS = ("wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full", "wal_write", "wal_sync")


def pg_stats(url: str, schema: str) -> dict[str, float]:
    """Cumulative counters: this database's (``pg_stat_database``: transactions, which count every statement
    outside an explicit transaction, so one per round trip; tuples), the server's WAL (``pg_stat_wal``: records,
    full-page images, bytes, writes, fsyncs) and the tuple writes of ``schema``'s tables (``pg_stat_user_tables``).
    Database and WAL counters are server-wide: other clients of the server count too. ``postmaster_pid`` is the
    parent of this connection's backend."""

    async def op(conn: Any) -> dict[str, float]:
        db = await conn.fetchrow(
            f"SELECT {', '.join(_PG_DB_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()"
        )
        wal = await conn.fetchrow(f"SELECT {', '.join(_PG_WAL_COUNTERS)} FROM pg_stat_wal")
        tables = await conn.fetchrow(
            "SELECT COALESCE(SUM(n_tup_ins), 0), COALESCE(SUM(n_tup_upd), 0), COALESCE(SUM(n_tup_hot_upd), 0),"
            " COALESCE(SUM(n_tup_del), 0) FROM pg_stat_user_tables WHERE schemaname = $1",
            schema,
        )
        tokens = await conn.fetchrow(
            "SELECT COALESCE(SUM(n_tup_ins), 0), COALESCE(SUM(n_tup_upd), 0), COALESCE(SUM(n_tup_hot_upd), 0)"
            " FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'tokens'",
            schema,
        )
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        out = {k: float(db[k]) for k in _PG_DB_COUNTERS}
        out.update({k: float(wal[k]) for k in _PG_WAL_COUNTERS})
        out.update(schema_ins=float(tables[0]), schema_upd=float(tables[1]), schema_hot_upd=float(tables[2]),
                   schema_del=float(tables[3]), tokens_ins=float(tokens[0]), tokens_upd=float(tokens[1]),
                   tokens_hot_upd=float(tokens[2]))  # fmt: skip
        out["postmaster_pid"] = float(_ppid(int(backend)))
        return out

    return dict(pg_run(url, op))


def pg_server_info(url: str) -> dict[str, str]:
    """The PostgreSQL version and the settings that decide commit cost and connection count."""
    names = ("synchronous_commit", "fsync", "wal_sync_method", "full_page_writes", "shared_buffers",
             "max_connections", "commit_delay", "synchronous_standby_names", "wal_level")  # fmt: skip

    async def op(conn: Any) -> dict[str, str]:
        rows = await conn.fetch(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)", list(names)
        )
        info = {r[0]: f"{r[1]}{' x ' + r[2] if r[2] else ''}" for r in rows}
        info["version"] = str(await conn.fetchval("SHOW server_version"))
        return info

    return dict(pg_run(url, op))


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        st = f.read()
    return int(st[st.rindex(")") + 2 :].split()[1])
