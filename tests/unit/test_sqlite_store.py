"""The SQLite store: migrations, atomic single-use writes, purge, secrets at rest."""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import sqlite3
from pathlib import Path

import pytest

from ssoidc.storage.base import CodeRecord, JtiReplay, Redemption, StoredCredential, TokenRecord
from ssoidc.storage.sqlite import SqliteStore, _migrations

KEY = bytes(range(32))


def token(
    kind: str = "access", *, family: str = "fam", expires: float = 2000.0, app: str = "app"
) -> TokenRecord:
    return TokenRecord(
        token_hash=secrets.token_bytes(32),
        kind=kind,  # type: ignore[arg-type]
        family_id=family,
        parent_hash=None,
        application_arn=app,
        user_id="u",
        scopes=("openid",),
        issued_at=1000.0,
        expires_at=expires,
        session_expires_at=5000.0,
        grant_type="g",
    )


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture()
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.db", master_key=KEY)


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "m.db", master_key=KEY)
    assert s.schema_version() == max(v for v, _, _ in _migrations())
    assert s.migrate() == []
    run(s.close())


def _open(path: str) -> int:
    s = SqliteStore(Path(path), master_key=KEY)
    key = run(s.ensure_signing_key("p", "ES256", lambda: (secrets.token_hex(4), b"pem")))
    run(s.close())
    return 1 if key else 0


def test_many_processes_start_on_one_fresh_file(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert sum(pool.map(_open, [path] * 4)) == 4
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(_migrations())
    assert db.execute("SELECT COUNT(*) FROM signing_keys").fetchone()[0] == 1  # created exactly once


def test_jti_replay_writes_nothing(store: SqliteStore) -> None:
    run(store.issue([token()], jti=("iss", "j1", 3000.0)))
    t = token()
    with pytest.raises(JtiReplay):
        run(store.issue([t], jti=("iss", "j1", 3000.0)))
    assert run(store.find_token(t.token_hash)) is None
    run(store.issue([token()], jti=("other-iss", "j1", 3000.0)))  # jtis are per issuer


def test_rotation_is_single_use_and_reuse_revokes_family(store: SqliteStore) -> None:
    old = token("refresh", family="f1")
    sibling = token("access", family="f1")
    run(store.issue([old, sibling]))
    new = token("refresh", family="f1")
    assert run(store.rotate_refresh(old.token_hash, "app", 1500.0, 5.0, [new])) is Redemption.OK
    assert run(store.rotate_refresh(old.token_hash, "app", 1502.0, 5.0, [token("refresh")])) is (
        Redemption.RETRY_IN_GRACE
    )
    assert run(store.find_token(sibling.token_hash)).revoked_at is None  # type: ignore[union-attr]
    assert (
        run(store.rotate_refresh(old.token_hash, "app", 1510.0, 5.0, [token("refresh")])) is Redemption.REUSED
    )
    for t in (old, sibling, new):
        assert run(store.find_token(t.token_hash)).revoked_at == 1510.0  # type: ignore[union-attr]
    assert (
        run(store.rotate_refresh(new.token_hash, "app", 1511.0, 5.0, [token("refresh")]))
        is Redemption.INVALID
    )


def test_rotation_checks_application_and_expiry(store: SqliteStore) -> None:
    t = token("refresh", expires=1600.0)
    run(store.issue([t]))
    assert run(store.rotate_refresh(t.token_hash, "other-app", 1500.0, 5.0, [])) is Redemption.INVALID
    assert run(store.rotate_refresh(t.token_hash, "app", 1600.0, 5.0, [])) is Redemption.INVALID
    assert run(store.rotate_refresh(t.token_hash, "app", 1599.0, 5.0, [])) is Redemption.OK


def code(h: bytes, expires: float = 1300.0) -> CodeRecord:
    return CodeRecord(
        h, "app", "u", "https://cb", None, None, ("openid",), "cf", 1000.0, expires, 9000.0, 1000.0
    )


def test_code_redeemed_once_then_revokes(store: SqliteStore) -> None:
    h = secrets.token_bytes(32)
    run(store.create_code(code(h)))
    issued = token(family="cf")
    assert run(store.redeem_code(h, "app", 1100.0, [issued])) is Redemption.OK
    assert run(store.redeem_code(h, "app", 1101.0, [token(family="cf")])) is Redemption.REUSED
    assert run(store.find_token(issued.token_hash)).revoked_at == 1101.0  # type: ignore[union-attr]
    h2 = secrets.token_bytes(32)
    run(store.create_code(code(h2)))
    assert run(store.redeem_code(h2, "app", 1300.0, [])) is Redemption.INVALID  # expired
    assert run(store.redeem_code(h2, "other", 1100.0, [])) is Redemption.INVALID


def test_purge_removes_only_expired_rows(store: SqliteStore) -> None:
    live, dead = token(expires=2000.0), token(expires=1000.0)
    run(store.issue([live, dead], jti=("i", "old", 900.0)))
    run(store.issue([], jti=("i", "new", 3000.0)))
    h_old, h_new = secrets.token_bytes(32), secrets.token_bytes(32)
    run(store.create_code(code(h_old, expires=100.0)))
    run(store.create_code(code(h_new, expires=1400.0)))
    assert run(store.purge_expired(1500.0)) == 2  # one token, one jti
    assert run(store.find_token(live.token_hash)) is not None
    assert run(store.find_token(dead.token_hash)) is None
    assert run(store.find_code(h_old)) is not None  # codes are kept a day past expiry
    assert run(store.purge_expired(100_000.0)) >= 2
    assert run(store.find_code(h_old)) is None


def test_credential_secret_is_encrypted_at_rest(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "c.db", master_key=KEY)
    secret = "very-secret-value-" + secrets.token_hex(8)
    run(
        s.create_credential(StoredCredential("AKIAEXAMPLE12345678", secret, "arn:aws:iam::123456789012:root"))
    )
    assert run(s.load_credentials())[0].secret_access_key == secret  # type: ignore[index]
    run(s.close())
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw
    other = SqliteStore(tmp_path / "c.db", master_key=bytes(32))
    with pytest.raises(ValueError):
        run(other.load_credentials())


def test_duplicate_credential_is_rejected(store: SqliteStore) -> None:
    c = StoredCredential("AKIAEXAMPLE12345678", "s", "arn:aws:iam::123456789012:root")
    run(store.create_credential(c))
    with pytest.raises(KeyError):
        run(store.create_credential(c))
    assert run(store.delete_credential(c.access_key_id)) is True
    assert run(store.delete_credential(c.access_key_id)) is False


def test_group_commit_isolates_each_write(store: SqliteStore) -> None:
    async def go() -> list[object]:
        calls = [store.issue([token()], jti=("iss", f"j{i % 10}", 3000.0)) for i in range(30)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(go())
    assert isinstance(results, list)
    assert sum(r is None for r in results) == 10  # one winner per jti, in one batch
    assert sum(isinstance(r, JtiReplay) for r in results) == 20
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 10  # losers wrote nothing
    assert db.execute("SELECT COUNT(*) FROM used_jtis").fetchone()[0] == 10


def test_one_rotation_wins_inside_a_batch(store: SqliteStore) -> None:
    old = token("refresh")
    run(store.issue([old]))

    async def go() -> list[Redemption]:
        return list(
            await asyncio.gather(
                *[
                    store.rotate_refresh(old.token_hash, "app", 1500.0, 5.0, [token("refresh")])
                    for _ in range(20)
                ]
            )
        )

    outcomes = run(go())
    assert isinstance(outcomes, list)
    assert outcomes.count(Redemption.OK) == 1
    assert outcomes.count(Redemption.RETRY_IN_GRACE) == 19
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT COUNT(*) FROM tokens WHERE kind = 'refresh'").fetchone()[0] == 2


def test_revoked_family_rows_expire_with_their_session(store: SqliteStore) -> None:
    t = token("access", family="gone")
    run(store.issue([t]))
    assert run(store.revoke_family("gone", 1500.0, 5000.0)) == 1
    assert run(store.revoke_family("gone", 1600.0, 5000.0)) == 0  # already revoked: first time stands
    assert run(store.find_token(t.token_hash)).revoked_at == 1500.0  # type: ignore[union-attr]
    db = sqlite3.connect(store.path)
    run(store.purge_expired(4999.0))
    assert db.execute("SELECT COUNT(*) FROM revoked_families").fetchone()[0] == 1
    run(store.purge_expired(5001.0))
    assert db.execute("SELECT COUNT(*) FROM revoked_families").fetchone()[0] == 0
