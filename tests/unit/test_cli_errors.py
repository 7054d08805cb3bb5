"""The CLI reports a duplicate credential and an unknown user from the store's own signals (``AlreadyExists``,
``NoSuchUser``), never from a bare ``KeyError``; a store that cannot be opened (a file that is not a database, a
data dir whose master key is not the store's) is one ``error:`` line and exit status 2 from every store command,
never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssoidc.base64url import b64u
from ssoidc.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ssoidc.yaml"

AKID = "AKIAEXAMPLE000000001"
ROOT = "arn:aws:iam::123456789012:root"


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SSOIDC_DATABASE_URL", raising=False)
    return tmp_path


def test_a_duplicate_access_key_id_is_reported_as_such(data_dir: Path) -> None:
    runner = CliRunner()
    args = [
        "credentials",
        "create",
        "--principal-arn",
        ROOT,
        "--access-key-id",
        AKID,
        "--data-dir",
        str(data_dir),
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert AKID in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 2
    assert f"access key id {AKID} already exists" in second.output


def test_set_password_for_an_unknown_user_is_reported_as_such(data_dir: Path) -> None:
    out = CliRunner().invoke(
        app,
        ["users", "set-password", "nobody", "--password-stdin", "--data-dir", str(data_dir)],
        input="long enough\n",
    )
    assert out.exit_code == 2
    assert "no user with UserName 'nobody'" in out.output


def corrupt_db(data_dir: Path) -> Path:
    """``data_dir`` holding an ``ssoidc.db`` that is not an SQLite database."""
    db = data_dir / "ssoidc.db"
    db.write_bytes(b"this is not an SQLite database\n" * 200)
    return db


# Every command that opens the store; "serve" runs in a subprocess below (it configures the process's logging).
STORE_COMMANDS = {
    "apply": ["apply", str(EXAMPLE)],
    "export": ["export"],
    "credentials create": ["credentials", "create", "--principal-arn", ROOT],
    "credentials list": ["credentials", "list"],
    "credentials delete": ["credentials", "delete", AKID],
    "users set-password": ["users", "set-password", "alice", "--password-stdin"],
    "demo token": ["demo", "token", "alice"],
    "device approve": ["device", "approve", "BCDF-GHJK", "--user", "alice"],
    "authorize approve": [
        "authorize",
        "approve",
        "http://127.0.0.1/authorize?client_id=x",
        "--user",
        "alice",
    ],
}


def test_every_store_command_is_listed() -> None:
    """A new command that opens the store gets a row above (serve is tested on its own)."""
    groups = {g.name: g.typer_instance for g in app.registered_groups}
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    for group, sub in groups.items():
        assert sub is not None
        names |= {f"{group} {c.name}" for c in sub.registered_commands}
    # serve is tested on its own; dev-cert and cli-endpoints write files and never open the store
    assert names - {"serve", "dev-cert", "cli-endpoints"} == set(STORE_COMMANDS)


@pytest.mark.parametrize("command", sorted(STORE_COMMANDS))
def test_a_file_that_is_not_a_database_is_an_error_line(data_dir: Path, command: str) -> None:
    db = corrupt_db(data_dir)
    out = CliRunner().invoke(
        app, [*STORE_COMMANDS[command], "--data-dir", str(data_dir)], input="long enough\n"
    )
    assert isinstance(out.exception, SystemExit), out.exception  # not the StorageError
    assert out.exit_code == 2
    assert f"error: cannot open the SQLite database {db} (SQLITE_NOTADB)" in out.output


@pytest.mark.parametrize("command", sorted(STORE_COMMANDS))
def test_another_master_key_is_an_error_line(data_dir: Path, command: str) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["credentials", "list", "--data-dir", str(data_dir)]).exit_code == 0
    (data_dir / "master.key").write_text(b64u(bytes(32)) + "\n")  # not the key the store was made with
    out = runner.invoke(app, [*STORE_COMMANDS[command], "--data-dir", str(data_dir)], input="long enough\n")
    assert isinstance(out.exception, SystemExit), out.exception
    assert out.exit_code == 2
    assert "error: the master key differs from the one this store was created with" in out.output


@pytest.mark.parametrize("content", ["x\n", "not a key\n", b64u(bytes(16)) + "\n"])
def test_a_corrupt_master_key_file_is_an_error_line(data_dir: Path, content: str) -> None:
    (data_dir / "master.key").write_text(content)
    out = CliRunner().invoke(app, ["credentials", "list", "--data-dir", str(data_dir)])
    assert isinstance(out.exception, SystemExit), out.exception
    assert out.exit_code == 2
    assert f"error: {data_dir / 'master.key'}: corrupt master key (expected 32 bytes)" in out.output


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSOIDC_")}
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("command", [["credentials", "list"], ["serve", "--port", "1"]])
def test_a_corrupt_database_is_one_error_line_without_a_traceback(data_dir: Path, command: list[str]) -> None:
    """The real process: what an operator sees on the terminal."""
    db = corrupt_db(data_dir)
    out = cli(*command, "--data-dir", str(data_dir))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert f"error: cannot open the SQLite database {db} (SQLITE_NOTADB)" in out.stderr
    assert "SELECT" not in out.stderr and "PRAGMA" not in out.stderr


def test_a_policy_file_with_a_repeated_member_name_is_refused(data_dir: Path) -> None:
    """An identity policy whose statement says ``Effect`` twice would mean what its last copy says to ssoidc and
    perhaps the first to its reviewer (issue 13, item 4): refused, and no credential is created."""
    policy = data_dir / "policy.json"
    policy.write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Effect": "Allow", "Action": "sso:*",'
        ' "Resource": "*"}]}'
    )
    runner = CliRunner()
    args = [
        "credentials",
        "create",
        "--principal-arn",
        "arn:aws:iam::123456789012:user/u",
        "--data-dir",
        str(data_dir),
    ]
    out = runner.invoke(app, [*args, "--access-key-id", AKID, "--policy-file", str(policy)])
    assert out.exit_code == 2, out.output
    assert "duplicate member name 'Effect'" in out.output
    listed = runner.invoke(app, ["credentials", "list", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0, listed.output
    assert AKID not in listed.output
