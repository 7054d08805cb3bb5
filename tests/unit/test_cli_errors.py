"""The CLI reports a duplicate credential and an unknown user from the store's own signals (``AlreadyExists``,
``NoSuchUser``), never from a bare ``KeyError``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssoidc.cli import app

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
