"""The data directory and ssoidc's files in it are private (issue 13, item 10; ``ssoidc.datadir``).

A live ``ssoidc serve`` under the usual umask 022: after it has written through SQLite (WAL and shared-memory
files exist), the directory is 0700 and every file ssoidc made in it is 0600; a data directory left readable by
an older version is tightened at start, each change logged; a file that cannot be tightened stops the start.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssoidc.base64url import b64u
from ssoidc.datadir import DATA_DIRS, DATA_FILES, secure_data_dir
from ssoidc.errors import ConfigError
from tests.helpers.clients import make_admin_client
from tests.helpers.servers import LiveServer, start_server


@pytest.fixture()
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(server: LiveServer) -> None:
    ids = make_admin_client(server, "identitystore")
    store = make_admin_client(server, "sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
    ids.create_group(IdentityStoreId=store, DisplayName=f"private-{os.getpid()}")


def test_a_new_data_dir_is_private(tmp_path: Path, umask_022: None) -> None:
    # start_server makes the directory 0755 first, as a user's mkdir would
    server = start_server(tmp_path)  # the master key comes from SSOIDC_MASTER_KEY: no key file
    try:
        write_something(server)
        names = {p.name for p in server.data_dir.iterdir() if p.is_file()}
        assert {"ssoidc.db", "ssoidc.db-wal", "ssoidc.db-shm", "ssoidc.db-writelock"} <= names
        assert names <= set(DATA_FILES), names - set(DATA_FILES)
        dirs = {p.name for p in server.data_dir.iterdir() if p.is_dir()}
        assert dirs <= set(DATA_DIRS), dirs - set(DATA_DIRS)
        assert mode(server.data_dir) == 0o700
        assert {p.name: mode(p) for p in server.data_dir.iterdir() if p.is_file()} == dict.fromkeys(
            names, 0o600
        )
        for d in dirs:  # demo mode's AWS CLI endpoint rule sets
            assert mode(server.data_dir / d) == 0o700
            assert all(mode(f) == 0o600 for f in (server.data_dir / d).rglob("*") if f.is_file())
        log = (tmp_path / "server.log").read_text()
        assert f"made {server.data_dir} private: mode 0755 -> 0700" in log
    finally:
        server.stop()


def test_a_readable_data_dir_is_tightened_at_start(tmp_path: Path, umask_022: None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o777)  # noqa: S103 - the lax directory an older version could leave
    key = os.urandom(32)
    (data / "master.key").write_text(b64u(key) + "\n")
    (data / "unrelated.txt").write_text("not ssoidc's")
    os.chmod(data / "master.key", 0o644)
    os.chmod(data / "unrelated.txt", 0o644)
    server = start_server(tmp_path)  # SSOIDC_MASTER_KEY wins over the key file, which is still tightened
    try:
        write_something(server)
        assert mode(data) == 0o700 and mode(data / "master.key") == 0o600
        assert mode(data / "unrelated.txt") == 0o644  # not ssoidc's file: left alone
        assert (data / "master.key").read_text().strip() == b64u(key)  # tightened, never rewritten
        log = (tmp_path / "server.log").read_text()
        assert f"made {data / 'master.key'} private: mode 0644 -> 0600" in log
        assert f"made {data} private: mode 0777 -> 0700" in log
    finally:
        server.stop()


def test_a_file_that_cannot_be_tightened_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    """As root every chmod succeeds; a file owned by another user fails with EPERM, as here."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "ssoidc.db").write_bytes(b"")
    os.chmod(data / "ssoidc.db", 0o640)

    def refuse(path: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    with pytest.raises(ConfigError) as info:
        secure_data_dir(data)
    assert str(info.value).startswith(
        f"{data / 'ssoidc.db'} is readable or writable by other users (mode 0640)"
    )
    assert "chmod 600" in str(info.value)
