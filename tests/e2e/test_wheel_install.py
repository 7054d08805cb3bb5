"""``pip install`` of a built wheel, then ``ssoidc serve --demo``, without the repository (issue 16, a smoother
first run): the wheel carries the package data it needs (migrations, templates, static files), the declared
dependencies are enough to serve, and ``project.license`` is the SPDX string setuptools >= 77 wants.

The wheel is built with the pinned build backend in pip's isolated build environment and installed into a fresh
venv; the dependencies come from the normal index through pip's cache. Everything runs from a temporary working
directory with a temporary data dir, so nothing can be imported or read from the checkout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from configparser import ConfigParser
from pathlib import Path

import boto3
import httpx
import pytest

from tests.helpers.config import JWT_BEARER
from tests.helpers.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_license_is_an_spdx_string_and_the_backend_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # not the deprecated { text = ... } table
    (backend,) = project["build-system"]["requires"]
    assert backend.startswith("setuptools>=77,<"), backend  # 77: the first to take SPDX strings


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSOIDC_", "PYTHONPATH", "VIRTUAL_ENV"))}
    out = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert out.returncode == 0, f"{args}: {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ssoidc installed from a wheel built from this checkout; its bin directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ROOT, "-w", dist, cwd=tmp)
    (wheel,) = dist.glob("ssoidc-*.whl")
    assert wheel.name == f"ssoidc-{VERSION}-py3-none-any.whl"
    run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    bin_dir = tmp / "venv" / "bin"
    run(bin_dir / "pip", "install", "-q", "--disable-pip-version-check", wheel, cwd=tmp)
    return bin_dir


def test_the_installed_wheel_has_its_version_and_license(installed: Path, tmp_path: Path) -> None:
    assert run(installed / "ssoidc", "--version", cwd=tmp_path) == f"ssoidc {VERSION}\n"
    where = run(installed / "python", "-c", "import ssoidc; print(ssoidc.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed.parent), where  # not the checkout
    metadata = run(
        installed / "python",
        "-c",
        "import importlib.metadata as m; print(m.metadata('ssoidc')['License-Expression'])",
        cwd=tmp_path,
    )
    assert metadata.strip() == "Apache-2.0"


@pytest.fixture()
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """``ssoidc serve --demo`` of the installed wheel on a free port: its URL, data dir and applications."""
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSOIDC_", "PYTHONPATH", "VIRTUAL_ENV"))}
    with subprocess.Popen(
        [installed / "ssoidc", "serve", "--demo", "--port", str(port), "--data-dir", data],
        cwd=tmp_path,
        env=env | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            apps: dict[str, str] = {}
            for line in proc.stdout:
                if line.lstrip().startswith("Applications:"):
                    apps = json.loads(line.split(":", 1)[1])
                    break
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the installed ssoidc did not become ready"
                assert proc.poll() is None, "the installed ssoidc exited"
                time.sleep(0.1)
            yield url, data, apps
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_the_installed_wheel_serves_the_demo_without_the_repository(
    installed: Path, served: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    url, data, apps = served
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/authorize?client_id=x").status_code < 500  # the templates are in the wheel
    creds = ConfigParser()
    creds.read(data / "bootstrap-credentials")
    assertion = run(installed / "ssoidc", "demo", "token", "alice", "--data-dir", data, cwd=tmp_path).strip()
    client = boto3.client(
        "sso-oidc",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=creds["ssoidc"]["aws_access_key_id"],
        aws_secret_access_key=creds["ssoidc"]["aws_secret_access_key"],
    )
    token = client.create_token_with_iam(clientId=apps["demo-app"], grantType=JWT_BEARER, assertion=assertion)
    assert token["tokenType"] == "Bearer"
