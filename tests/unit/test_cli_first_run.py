"""A new user's first run (issue 16, "a smoother first run"): ``ssoidc --version``, the serve banner's commands,
``ssoidc demo token`` finding the data dir ``make run`` serves, and a busy port as one error line.

The banner and the busy port are the real ``ssoidc serve`` process (it configures the process's logging and
environment), started as ``make run`` starts it and stopped as soon as it has printed its banner."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssoidc.cli import DEMO_DATA_DIR, app
from tests.helpers.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment without ``SSOIDC_*`` settings, stdout unbuffered (the banner is read from a pipe)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSOIDC_")}
    return env | {"PYTHONUNBUFFERED": "1"}


@pytest.fixture()
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SSOIDC_"):
            monkeypatch.delenv(name)


def serve_until_banner(cwd: Path, *args: str, timeout: float = 60) -> str:
    """Run ``ssoidc serve ARGS`` in ``cwd`` until its banner's last line is out, then stop it; the banner."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with subprocess.Popen(
        [sys.executable, "-m", "ssoidc", "serve", *args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if "holds these sections" in line or time.monotonic() > deadline:  # the last line
                    break
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return "".join(lines)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A directory where ``make run``'s command (``serve --demo --data-dir .data/demo``) ran once; its banner."""
    cwd = tmp_path_factory.mktemp("first-run")
    banner = serve_until_banner(cwd, "--demo", "--port", str(free_port()), "--data-dir", str(DEMO_DATA_DIR))
    assert "Demo mode" in banner, banner
    return cwd, banner


def test_version_prints_the_package_version() -> None:
    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0, out.output
    assert out.output == f"ssoidc {version('ssoidc')}\n"


def test_the_demo_data_dir_is_the_one_make_run_serves() -> None:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^DATA \?= (\S+)$", makefile, re.MULTILINE)
    assert match, "the Makefile sets DATA ?= <dir>"
    assert Path(match.group(1)) == DEMO_DATA_DIR
    assert re.search(r"^run:.*\n\t.*--data-dir \$\(DATA\)", makefile, re.MULTILINE)


def test_the_banner_calls_python3_and_names_the_clis_that_work(first_run: tuple[Path, str]) -> None:
    cwd, banner = first_run
    boto3_lines = [line for line in banner.splitlines() if "import boto3," in line]
    assert len(boto3_lines) == 1
    assert re.match(r"^\s+\S*python3 -c ", boto3_lines[0]), boto3_lines[0]
    assert not re.search(r"(^|\s)python -c", banner)
    assert "must be able to import boto3" in banner
    assert "v2 newer than Debian's 2.9" in banner
    assert "cli_follow_urlparam = false" in banner
    config = (cwd / DEMO_DATA_DIR / "aws-cli-config").resolve()
    assert f"AWS_CONFIG_FILE={config}" in banner
    assert "cli_follow_urlparam = false" in config.read_text()
    assert "[profile ssoidc]" in config.read_text()


def test_the_banner_prints_the_aws_sso_login_profile_and_writes_it(first_run: tuple[Path, str]) -> None:
    """``make run``'s banner: the ``sso-session`` profile with the instance's AWS-form start URL, the endpoint
    overrides, both login commands, and an ``AWS_DATA_PATH`` for AWS CLI 2.9-2.12 that points at this server."""
    cwd, banner = first_run
    start = re.search(r"^Start URL: (https://(d-[0-9a-f]{10})\.awsapps\.com/start) ", banner, re.MULTILINE)
    assert start, banner
    url = re.search(r"^ssoidc serving on (\S+) ", banner, re.MULTILINE)
    assert url
    for line in (
        "[sso-session ssoidc]",
        f"sso_start_url = {start.group(1)}",
        "sso_registration_scopes = sso:account:access",
        "sso_session = ssoidc",
        f"export AWS_ENDPOINT_URL_SSO_OIDC={url.group(1)} AWS_ENDPOINT_URL_SSO={url.group(1)}",
        "aws sso login --profile ssoidc-sso ",
        "aws sso login --profile ssoidc-sso --use-device-code",
    ):
        assert line in banner, line
    config = (cwd / DEMO_DATA_DIR / "aws-cli-config").resolve().read_text()
    assert f"[sso-session ssoidc]\nsso_start_url = {start.group(1)}\n" in config
    data_path = re.search(r"export AWS_DATA_PATH=(\S+)", banner)
    assert data_path, banner
    rules = Path(data_path.group(1)) / "sso-oidc" / "2019-06-10" / "endpoint-rule-set-1.json"
    assert f'"url": "{url.group(1)}"' in rules.read_text()


def test_demo_token_defaults_to_the_make_run_data_dir(
    first_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, no_settings_env: None
) -> None:
    cwd, _ = first_run
    monkeypatch.chdir(cwd)
    out = CliRunner().invoke(app, ["demo", "token", "alice"])
    assert out.exit_code == 0, out.output
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+\n", out.output), out.output


def test_demo_token_without_a_store_says_to_run_make_run_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None
) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["demo", "token", "alice"])
    assert out.exit_code == 2
    assert "no ssoidc data in .data/demo" in out.output
    assert "make run" in out.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_one_error_line_before_the_banner(tmp_path: Path, busy_port: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ssoidc", "serve", "--demo", "--port", str(busy_port)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert "ssoidc serving on" not in out.stdout  # no banner
    assert "Traceback" not in out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: cannot listen on 127.0.0.1:{busy_port}: the address is already in use (is another ssoidc"
        " running?); stop that server or choose another port with --port (make run PORT=8001)"
    ], out.stderr


def test_make_run_installs_only_what_serving_needs() -> None:
    """``make run`` depends on the runtime stamp (``.[demo]``: the dependencies and boto3), never on the
    development toolchain (``.[dev]``, 469 MB with playwright), which ``make install``/``make test`` add."""
    makefile = (ROOT / "Makefile").read_text()
    rules = {m.group(1): m.group(2) for m in re.finditer(r"^(\S+):([^\n]*)\n", makefile, re.MULTILINE)}
    assert rules["run"].split("##")[0].split() == ["$(RUN_STAMP)"]
    runtime = makefile.split("$(RUN_STAMP): pyproject.toml\n", 1)[1].split("\n\n", 1)[0]
    assert "-e '.[demo]'" in runtime and "dev" not in runtime
    assert rules["$(STAMP)"].split() == ["$(RUN_STAMP)"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [r.split("==")[0] for r in extras["demo"]] == ["boto3"]
    assert "ssoidc[demo]" in extras["dev"]
