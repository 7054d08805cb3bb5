"""SQLite's refresh-family ring (migration 0016): ``ring_push`` itself, the migration from migration 0011's slot
table with live families already counted, and the purge's rolling sweep over the rings (they have no expiry
index). The cap's behaviour on every store is tests/storage/test_family_cap.py's."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest

from ssoidc.storage.common import RING_RECORD, migrations, ring_push
from ssoidc.storage.sqlite import FAMILY_RING_MIGRATION, SqliteStore
from tests.helpers.storage import KEY
from tests.storage.test_contract import APP
from tests.storage.test_family_cap import jti, start


def families(ring: bytes) -> list[str]:
    out, off = [], 0
    while off < len(ring):
        _, size = RING_RECORD.unpack_from(ring, off)
        out.append(ring[off + RING_RECORD.size : off + RING_RECORD.size + size].decode())
        off += RING_RECORD.size + size
    return out


def push_all(ids: list[tuple[str, float]], cap: int, now: float) -> tuple[bytes, int, list[str]]:
    ring, n, dropped = b"", 0, []
    for family_id, end in ids:
        ring, n, out = ring_push(ring, n, family_id, end, cap, now)
        dropped += [f for f, _ in out]
    return ring, n, dropped


def test_ring_push_keeps_the_last_cap_families_oldest_first() -> None:
    ring, n, dropped = push_all([(f"f{i}", 9000.0) for i in range(5)], cap=3, now=1000.0)
    assert (families(ring), n, dropped) == (["f2", "f3", "f4"], 3, ["f0", "f1"])
    # a lowered cap drops the oldest until it holds; the dropped ones come back with their session ends
    ring, n, out = ring_push(ring, n, "f5", 9000.0, 1, 1000.0)
    assert (families(ring), n, out) == (["f5"], 1, [("f2", 9000.0), ("f3", 9000.0), ("f4", 9000.0)])


def test_ring_push_forgets_ended_families_at_the_front() -> None:
    ring, n, _ = push_all([("old", 1500.0), ("live", 9000.0)], cap=2, now=1000.0)
    ring, n, out = ring_push(ring, n, "new", 9000.0, 2, 2000.0)  # "old" ended at 1500: it makes room
    assert (families(ring), n, out) == (["live", "new"], 2, [("old", 1500.0)])
    # ids of any length and characters round-trip
    ring, n, out = ring_push(b"", 0, "é" * 300, 9000.0, 1, 0.0)
    ring, n, out = ring_push(ring, n, "x", 9000.0, 1, 0.0)
    assert out == [("é" * 300, 9000.0)] and families(ring) == ["x"]


def test_migration_16_moves_live_slots_into_rings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store at version 15 with three live families in its slot ring (and an ended one): after the migration,
    the next family past a cap of 3 revokes the oldest live one, as the slot ring would have."""
    path = tmp_path / "v15.db"
    now = time.time()
    sets = [start(f"fam{i}", issued=now - 100 + i) for i in range(3)]
    sets = [[dataclasses.replace(t, expires_at=now + 3600.0 + i) for t in s] for i, s in enumerate(sets)]
    with monkeypatch.context() as m:
        m.setattr(
            "ssoidc.storage.sqlite._migrations",
            lambda: [x for x in migrations("sqlite") if x[0] < FAMILY_RING_MIGRATION],
        )
        old = SqliteStore(path, master_key=KEY)
        assert old.schema_version() == FAMILY_RING_MIGRATION - 1
        for tokens in sets:
            asyncio.run(old.issue(tokens))
        with old._write() as db:
            db.execute(
                "INSERT INTO family_starts (user_id, application_arn, started) VALUES ('u1', ?, 4)", (APP,)
            )
            db.executemany(
                "INSERT INTO family_slots (user_id, application_arn, slot, family_id, expires_at)"
                " VALUES ('u1', ?, ?, ?, ?)",
                [(APP, i, f"fam{i}", now + 3600.0 + i) for i in range(3)] + [(APP, 3, "ended", now - 1)],
            )
        asyncio.run(old.close())
    store = SqliteStore(path, master_key=KEY)
    try:
        assert store.schema_version() >= FAMILY_RING_MIGRATION
        with sqlite3.connect(path) as db:
            gone = "SELECT name FROM sqlite_master WHERE name IN ('family_slots', 'family_starts')"
            assert db.execute(gone).fetchall() == []
            ring, n = db.execute("SELECT ring, ring_n FROM family_rings").fetchone()
        assert (families(ring), n) == (["fam0", "fam1", "fam2"], 3)
        newest = start("fam3", issued=now)
        asyncio.run(store.issue(newest, jti=jti(), family_cap=3))
        found = [asyncio.run(store.find_token(s[1].token_hash)) for s in sets]
        assert [f is not None and f.revoked_at is None for f in found] == [False, True, True]
    finally:
        asyncio.run(store.close())


def test_the_purge_sweeps_rings_whose_sessions_all_ended(tmp_path: Path) -> None:
    """Five users' rings ended at 1500 (``start`` tokens end at 5000: the ring records the refresh token's end), one
    live: a few small purges (the sweep goes ``limit`` rings at a time, wrapping) leave only the live ring, and its
    family still counts against the cap."""
    store = SqliteStore(tmp_path / "s.db", master_key=KEY)
    try:
        for i in range(5):
            ended = start(f"ended{i}", user=f"u{i}")
            ended = [dataclasses.replace(t, expires_at=1500.0) for t in ended]
            asyncio.run(store.issue(ended, jti=jti(), family_cap=2))
        keeper = start("keeper", user="zz")
        asyncio.run(store.issue(keeper, jti=jti(), family_cap=2))
        for _ in range(4):
            asyncio.run(store.purge_expired(2000.0, limit=2))
        with sqlite3.connect(tmp_path / "s.db") as db:
            left = db.execute("SELECT user_id FROM family_rings").fetchall()
        assert left == [("zz",)]
        later = [start(f"more{i}", user="zz", issued=1001.0 + i) for i in range(2)]
        for tokens in later:
            asyncio.run(store.issue(tokens, jti=jti(), family_cap=2))
        kept = asyncio.run(store.find_token(keeper[1].token_hash))
        assert kept is not None and kept.revoked_at == 1002.0  # the third family of "zz" evicted it
    finally:
        asyncio.run(store.close())


def test_a_full_ring_at_the_default_cap_stays_on_its_page(tmp_path: Path) -> None:
    """One user at the default cap of 100: the ring (about 3.3 KB) is one cell of a rowid table, which SQLite keeps
    on its page up to about 4 KB (a WITHOUT ROWID table would move it to an overflow page past about 1 KB)."""
    store = SqliteStore(tmp_path / "s.db", master_key=KEY)
    try:
        for i in range(120):
            asyncio.run(
                store.issue(start(f"family-{i:04d}-{'x' * 10}", issued=1000.0 + i), jti=jti(), family_cap=100)
            )
        with sqlite3.connect(tmp_path / "s.db") as db:
            size, n = db.execute("SELECT length(ring), ring_n FROM family_rings").fetchone()
            pages = db.execute("SELECT count(*) FROM dbstat WHERE name = 'family_rings'").fetchone()[0]
            overflow = db.execute(
                "SELECT count(*) FROM dbstat WHERE name = 'family_rings' AND pagetype = 'overflow'"
            ).fetchone()[0]
        assert n == 100 and size > 3000
        assert (pages, overflow) == (1, 0)
    finally:
        asyncio.run(store.close())
