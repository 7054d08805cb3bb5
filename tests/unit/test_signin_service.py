"""Password sign-in: argon2id, identical failures, lockout window, sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from ssoidc.config.apply import parse_file, resolve
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.signin import NoSuchUser, SignInFailed, SignInLocked, SignInService, SignInSettings
from ssoidc.storage.sqlite import SqliteStore

T0 = 1_700_000_000.0
CONFIG = {"Users": [{"UserName": "Alice"}, {"UserName": "bob"}]}


@pytest.fixture()
def env(tmp_path: Path) -> tuple[SignInService, ConfigSnapshot, SqliteStore]:
    store = SqliteStore(tmp_path / "s.db", master_key=bytes(32))
    directory = ConfigSnapshot(resolve(parse_file(yaml.safe_dump(CONFIG)), None, "123456789012", now=T0), 1)
    svc = SignInService(store, SignInSettings(lockout_threshold=3, lockout_window=60, lockout_seconds=100))
    asyncio.run(svc.set_password(directory, "Alice", "correct horse", 0.0))
    return svc, directory, store


def test_password_is_stored_as_argon2id(env: tuple[SignInService, ConfigSnapshot, SqliteStore]) -> None:
    svc, directory, store = env
    uid = asyncio.run(directory.users_by_attribute("userName", "Alice"))[0]
    stored = asyncio.run(store.get_password_hash(uid))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert asyncio.run(svc.authenticate(directory, "Alice", "correct horse", 1.0)) == uid


def test_unknown_user_and_wrong_password_fail_alike(
    env: tuple[SignInService, ConfigSnapshot, SqliteStore],
) -> None:
    svc, directory, _ = env
    for user, pw in (
        ("Alice", "wrong"),
        ("nobody", "correct horse"),
        ("bob", "anything"),
    ):  # bob has no password
        with pytest.raises(SignInFailed):
            asyncio.run(svc.authenticate(directory, user, pw, 1.0))


def test_lockout_then_release(env: tuple[SignInService, ConfigSnapshot, SqliteStore]) -> None:
    svc, directory, _ = env
    for t in (1.0, 2.0):
        with pytest.raises(SignInFailed):
            asyncio.run(svc.authenticate(directory, "Alice", "wrong", t))
    with pytest.raises(SignInLocked) as info:
        asyncio.run(svc.authenticate(directory, "alice", "wrong", 3.0))  # names are case-insensitive here
    assert info.value.until == 103.0
    with pytest.raises(SignInLocked):
        asyncio.run(svc.authenticate(directory, "Alice", "correct horse", 50.0))  # even the right password
    uid = asyncio.run(svc.authenticate(directory, "Alice", "correct horse", 104.0))
    assert uid  # lock over; success clears the counter
    for t in (200.0, 201.0):
        with pytest.raises(SignInFailed):
            asyncio.run(svc.authenticate(directory, "Alice", "wrong", t))


def test_failures_outside_the_window_do_not_add_up(
    env: tuple[SignInService, ConfigSnapshot, SqliteStore],
) -> None:
    svc, directory, _ = env
    for t in (0.0, 30.0, 100.0, 130.0):  # never 3 within 60 s
        with pytest.raises(SignInFailed):
            asyncio.run(svc.authenticate(directory, "Alice", "wrong", t))


def test_sessions_expire_and_end(env: tuple[SignInService, ConfigSnapshot, SqliteStore]) -> None:
    svc, _, _ = env
    sid = asyncio.run(svc.start_session("u1", 1000.0))
    s = asyncio.run(svc.session(sid, 1001.0))
    assert s is not None and s.user_id == "u1" and s.auth_time == 1000.0
    assert asyncio.run(svc.session(sid, 1000.0 + 8 * 3600)) is None
    assert asyncio.run(svc.session("x" * 500, 1001.0)) is None
    asyncio.run(svc.end_session(sid))
    assert asyncio.run(svc.session(sid, 1001.0)) is None


def test_set_password_of_an_unknown_user_raises_no_such_user(
    env: tuple[SignInService, ConfigSnapshot, SqliteStore],
) -> None:
    svc, directory, _ = env
    with pytest.raises(NoSuchUser) as info:
        asyncio.run(svc.set_password(directory, "nobody", "correct horse", 1.0))
    assert type(info.value) is NoSuchUser
