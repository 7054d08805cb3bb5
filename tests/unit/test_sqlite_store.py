"""What only the SQLite store has: migrations from many processes, group commit, secrets in the file, driver
errors (``sqlite3.Error``) as ``StorageError`` from every public method.

The behaviour every store shares is the contract suite, tests/storage/test_contract.py."""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import re
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ssoidc.errors import ConfigError
from ssoidc.model import (
    AccessRequest,
    AccountAssignment,
    Assignment,
    Configuration,
    Group,
    Instance,
    Membership,
    PermissionSet,
    User,
)
from ssoidc.storage.base import (
    ClientRecord,
    CodeRecord,
    DeviceRecord,
    JtiReplay,
    Redemption,
    SessionCredentialRecord,
    StorageError,
    Store,
    StoredCredential,
    TokenRecord,
    WebSession,
)
from ssoidc.storage.sqlite import SqliteStore, _migrations, checkpoint
from tests.helpers.storage import put_catalogue

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


def test_credential_secret_is_encrypted_at_rest(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "c.db", master_key=KEY)
    secret = "very-secret-value-" + secrets.token_hex(8)
    run(
        s.create_credential(StoredCredential("AKIAEXAMPLE12345678", secret, "arn:aws:iam::123456789012:root"))
    )
    assert run(s.load_credentials())[0].secret_access_key == secret  # type: ignore[index]
    run(s.close())
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret.encode() not in raw
    with pytest.raises(ConfigError, match="SSOIDC_MASTER_KEY"):  # the master-key check value differs
        SqliteStore(tmp_path / "c.db", master_key=bytes(32))


def test_store_made_before_the_check_value_is_vouched_for_by_its_keys(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "old.db", master_key=KEY)
    run(s.ensure_signing_key("p", "ES256", lambda: ("kid1", b"pem")))
    run(s.close())
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("DELETE FROM meta WHERE key = 'master_key_check'")  # as a store made before version 5
    db.commit()
    db.close()
    with pytest.raises(ConfigError):
        SqliteStore(tmp_path / "old.db", master_key=bytes(32))
    s = SqliteStore(tmp_path / "old.db", master_key=KEY)  # the right key: accepted, check value recorded
    assert run(s.get_meta("master_key_check"))
    run(s.close())


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


# -- driver errors ---------------------------------------------------------------------------------------------
def _corrupt(path: Path) -> None:
    """Overwrite every page of ``path`` after the 100-byte file header (the store checkpointed everything first)."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(100)
        f.write(b"\xff" * (size - 100))


READS: dict[str, Callable[[SqliteStore], Awaitable[object]]] = {
    "get_meta": lambda s: s.get_meta("k"),
    "config_version": lambda s: s.config_version(),
    "load_configuration": lambda s: s.load_configuration(),
    "get_idempotency": lambda s: s.get_idempotency("k"),
    "load_credentials": lambda s: s.load_credentials(),
    "signing_keys": lambda s: s.signing_keys("p"),
    "find_token": lambda s: s.find_token(b"t" * 32),
    "find_code": lambda s: s.find_code(b"c" * 32),
    "get_password_hash": lambda s: s.get_password_hash("u"),
    "get_web_session": lambda s: s.get_web_session(b"s" * 32, 1.0),
    "locked_until": lambda s: s.locked_until("k", 1.0),
    "load_catalogue": lambda s: s.load_catalogue(),
    "get_user": lambda s: s.get_user("u"),
    "find_users": lambda s: s.find_users("emails.value", "v"),
    "list_users": lambda s: s.list_users(),
    "get_group": lambda s: s.get_group("g"),
    "find_groups": lambda s: s.find_groups("displayname", "v"),
    "list_groups": lambda s: s.list_groups(),
    "get_membership": lambda s: s.get_membership("m"),
    "find_membership": lambda s: s.find_membership("g", "u"),
    "list_memberships": lambda s: s.list_memberships(group_id="g"),
    "member_groups": lambda s: s.member_groups("u", ["g"]),
    "is_assigned": lambda s: s.is_assigned("app", "u"),
    "has_assignment": lambda s: s.has_assignment(Assignment("app", "USER", "u")),
    "list_assignments": lambda s: s.list_assignments(application_arn="app"),
    "changes_since": lambda s: s.changes_since(0),
    "get_client": lambda s: s.get_client("c"),
    "get_session_credential": lambda s: s.get_session_credential("ASIAEXAMPLE123456789"),
    "find_device_by_user_code": lambda s: s.find_device_by_user_code(b"u" * 32, 1.0),
    "get_permission_set": lambda s: s.get_permission_set("p"),
    "account_roles": lambda s: s.account_roles("u"),
    "list_permission_sets": lambda s: s.list_permission_sets(),
    "list_account_assignments": lambda s: s.list_account_assignments("111111111111", "p"),
    "list_principal_account_assignments": lambda s: s.list_principal_account_assignments("USER", "u"),
    "list_provisioned_accounts": lambda s: s.list_provisioned_accounts("p"),
    "list_provisioned_permission_sets": lambda s: s.list_provisioned_permission_sets("111111111111"),
    "get_access_request": lambda s: s.get_access_request("r"),
    "list_access_requests": lambda s: s.list_access_requests("provisioning"),
}


def test_reads_of_a_corrupted_file_raise_storage_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bad.db"
    s = SqliteStore(path, master_key=KEY)
    run(s.put_meta_if_absent("k", "v"))
    s._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file, none in the WAL
    _corrupt(path)
    with caplog.at_level(logging.ERROR, "ssoidc.storage"):
        for name, read in READS.items():
            with pytest.raises(StorageError, match=r"^storage operation failed$") as info:
                run(read(s))
            assert isinstance(info.value.__cause__, sqlite3.DatabaseError), name
    assert f"SQLite {next(iter(READS))} failed: DatabaseError (SQLITE_CORRUPT)" in caplog.text
    run(s.close())
    # Opening it again: the migration check reads the same pages; the error names the file and SQLite's error.
    with pytest.raises(StorageError, match=rf"^cannot open the SQLite database {re.escape(str(path))} "):
        SqliteStore(path, master_key=KEY)


@pytest.mark.parametrize(
    ("content", "error"), [(b"not a database\n" * 100, "SQLITE_NOTADB"), (None, "SQLITE_CANTOPEN")]
)
def test_a_file_that_cannot_be_opened_is_a_storage_error_naming_it(
    tmp_path: Path, content: bytes | None, error: str
) -> None:
    path = tmp_path / "ssoidc.db"
    if content is None:
        path.mkdir()  # a directory where the file should be
    else:
        path.write_bytes(content)
    with pytest.raises(StorageError) as info:
        SqliteStore(path, master_key=KEY)
    assert str(info.value) == f"cannot open the SQLite database {path} ({error})"


def test_an_unexpected_constraint_violation_in_a_write_raises_storage_error(store: SqliteStore) -> None:
    """A clash the contract does not name (a second code or web session with one hash) is a driver error."""
    c = CodeRecord(b"c" * 32, "app", "u", "https://cb", None, None, ("openid",), "f", 1.0, 2.0, 3.0, 1.0)
    run(store.create_code(c))
    with pytest.raises(StorageError) as info:
        run(store.create_code(c))  # a _write() block
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    t = token()
    run(store.issue([t]))
    with pytest.raises(StorageError) as info:
        run(store.issue([t]))  # a group-commit op
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)


_PS = PermissionSet("p", "n", "i")
_AA = AccountAssignment("111111111111", "p", "USER", "u")
_REQ = AccessRequest("r", "provisioning", "SUCCEEDED", 1.0, "p")

STORE_METHODS = {
    name
    for proto in Store.__mro__
    if proto.__module__ == Store.__module__
    for name, member in vars(proto).items()
    if not name.startswith("_") and callable(member)
}
"""Every method of the ``Store`` protocol (and of the protocols it combines)."""


def test_every_public_method_of_a_closed_store_raises_storage_error(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "closed.db", master_key=KEY)
    run(s.close())
    t, c = token("refresh"), b"c" * 32
    code = CodeRecord(c, "app", "u", "https://cb", None, None, ("openid",), "f", 1.0, 2.0, 3.0, 1.0)

    def reading(read: Callable[[SqliteStore], Awaitable[object]]) -> Callable[[], object]:
        return lambda: read(s)

    calls: dict[str, Callable[[], object]] = {
        **{name: reading(read) for name, read in READS.items()},
        "ping": lambda: s.ping(),
        "start_background": lambda: s.start_background(),
        "put_meta_if_absent": lambda: s.put_meta_if_absent("k", "v"),
        "replace_configuration": lambda: s.replace_configuration(
            Configuration(Instance("arn:i", "d-1", "123456789012", "n"))
        ),
        "edit_catalogue": lambda: put_catalogue(
            s, Configuration(Instance("arn:i", "d-1", "123456789012", "n"))
        ),
        "create_user": lambda: s.create_user(User("u", "n")),
        "update_user": lambda: s.update_user(User("u", "n")),
        "delete_user": lambda: s.delete_user("u", now=1.0),
        "create_group": lambda: s.create_group(Group("g", "n")),
        "update_group": lambda: s.update_group(Group("g", "n")),
        "delete_group": lambda: s.delete_group("g"),
        "create_membership": lambda: s.create_membership(Membership("m", "g", "u")),
        "delete_membership": lambda: s.delete_membership("m"),
        "create_assignment": lambda: s.create_assignment(Assignment("app", "USER", "u")),
        "delete_assignment": lambda: s.delete_assignment(Assignment("app", "USER", "u")),
        "create_credential": lambda: s.create_credential(
            StoredCredential("AKIAEXAMPLE12345678", "x", "arn:aws:iam::1:root")
        ),
        "delete_credential": lambda: s.delete_credential("AKIAEXAMPLE12345678"),
        "ensure_signing_key": lambda: s.ensure_signing_key("p", "ES256", lambda: ("kid", b"pem")),
        "issue": lambda: s.issue([t]),
        "rotate_refresh": lambda: s.rotate_refresh(t.token_hash, "app", 1.0, 1.0, []),
        "revoke_family": lambda: s.revoke_family("f", 1.0, 2.0),
        "revoke_token": lambda: s.revoke_token(b"t" * 32, 1.0),
        "create_code": lambda: s.create_code(code),
        "redeem_code": lambda: s.redeem_code(c, "app", 1.0, []),
        "set_password_hash": lambda: s.set_password_hash("u", "h", 1.0),
        "create_web_session": lambda: s.create_web_session(b"s" * 32, WebSession("u", 1.0, 2.0)),
        "delete_web_session": lambda: s.delete_web_session(b"s" * 32),
        "record_failure": lambda: s.record_failure("k", 1.0, window=1.0, threshold=1, lock_seconds=1.0),
        "clear_failures": lambda: s.clear_failures("k"),
        "purge_expired": lambda: s.purge_expired(1.0),
        "create_client": lambda: s.create_client(
            ClientRecord("c", "n", "public", (), None, (), None, None, 1.0, 2.0)
        ),
        "create_device": lambda: s.create_device(
            DeviceRecord(b"d" * 32, b"u" * 32, "c", (), "https://s", "f", 1.0, 2.0, 1.0)
        ),
        "decide_device": lambda: s.decide_device(b"u" * 32, 1.0, approve=True, user_id="u", auth_time=1.0),
        "poll_device": lambda: s.poll_device(b"d" * 32, "c", 1.0, leeway=0.0, max_interval=60.0),
        "redeem_device": lambda: s.redeem_device(b"d" * 32, "c", 1.0, []),
        "create_session_credential": lambda: s.create_session_credential(
            SessionCredentialRecord("ASIAEXAMPLE123456789", "x", b"h" * 32, "arn", "src", 1.0, 2.0)
        ),
        "create_permission_set": lambda: s.create_permission_set(_PS),
        "update_permission_set": lambda: s.update_permission_set(_PS),
        "edit_permission_set": lambda: s.edit_permission_set(_PS.arn, lambda p: (p, True)),
        "delete_permission_set": lambda: s.delete_permission_set(_PS.arn),
        "create_account_assignment": lambda: s.create_account_assignment(_AA, _REQ),
        "delete_account_assignment": lambda: s.delete_account_assignment(_AA, _REQ),
        "provision_permission_set": lambda: s.provision_permission_set(_REQ),
        # SQLite's own
        "migrate": s.migrate,
        "schema_version": s.schema_version,
    }
    assert set(calls) >= STORE_METHODS - {"close"}, "a Store method without a call here"
    for name, call in calls.items():
        with pytest.raises(StorageError):
            result = call()
            if inspect.isawaitable(result):
                run(result)
            pytest.fail(f"{name} did not raise")


def test_start_background_runs_one_checkpointer_until_close(store: SqliteStore) -> None:
    def checkpointers() -> int:
        return sum(t.name == "sqlite-checkpointer" and t.is_alive() for t in threading.enumerate())

    before = checkpointers()
    store.start_background()
    store.start_background()  # once is enough
    assert checkpointers() == before + 1
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # requests never checkpoint
    run(store.close())
    assert checkpointers() == before


# -- the WAL stays bounded under continuous writes ---------------------------------------------------------------
def _fill_wal(path: Path, rows: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    for _ in range(rows):
        db.execute("INSERT INTO filler VALUES (randomblob(4000))")
    db.close()


def test_a_large_wal_is_truncated_and_a_small_one_checkpointed_passively(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "w.db", master_key=KEY)
    wal = tmp_path / "w.db-wal"
    conn = sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False)
    try:
        _fill_wal(tmp_path / "w.db", 10)
        small = wal.stat().st_size
        assert checkpoint(conn, wal, limit=small) == "PASSIVE"
        assert wal.stat().st_size == small  # a PASSIVE checkpoint never shrinks the file
        _fill_wal(tmp_path / "w.db", 100)
        assert wal.stat().st_size > small
        assert checkpoint(conn, wal, limit=small) == "TRUNCATE"
        assert wal.stat().st_size == 0
        # every row made it into the database file
        assert conn.execute("SELECT COUNT(*) FROM filler").fetchone()[0] == 110
    finally:
        conn.close()
        asyncio.run(s.close())


def test_a_truncate_that_a_reader_holds_up_gives_up_and_blocks_nobody_for_long(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "r.db", master_key=KEY)
    wal = tmp_path / "r.db-wal"
    _fill_wal(tmp_path / "r.db", 50)
    reader = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM filler").fetchone()  # a read transaction on the current snapshot
    _fill_wal(tmp_path / "r.db", 50)  # frames the reader's snapshot does not include
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None, check_same_thread=False)
    try:
        assert checkpoint(conn, wal, limit=0) == "TRUNCATE (busy)"
        assert wal.stat().st_size > 0
        reader.execute("COMMIT")
        assert checkpoint(conn, wal, limit=0) == "TRUNCATE"
        assert wal.stat().st_size == 0
    finally:
        reader.close()
        conn.close()
        asyncio.run(s.close())
