"""The access portal through the AWS CLIs and the JS SDK (issue 15, "Done when"), on a live server:

* Debian's AWS CLI v2 (2.9.19): ``aws sso list-accounts`` / ``list-account-roles`` / ``get-role-credentials``
  with ``--endpoint-url``; ``aws sts get-caller-identity --profile P`` on an ``sso-session`` profile, its SSO
  credential provider sent to ssoidc's portal by ``ssoidc cli-endpoints`` (``AWS_DATA_PATH``: 2.9 reads no
  ``AWS_ENDPOINT_URL_*``) and STS by ``--endpoint-url``;
* the venv's AWS CLI v1 (its botocore reads ``AWS_ENDPOINT_URL_SSO`` / ``_STS``): the same profile;
* the JS SDK v3 (``@aws-sdk/client-sso`` and ``@aws-sdk/client-sts``, tests/node/portal.mjs), and its own SSO
  credential provider (``@aws-sdk/credential-provider-sso``, tests/node/sso_profile.mjs) on the same profile.

The server speaks plain HTTP on loopback; every HTTPS connection (all of AWS's endpoints) goes to a proxy that is
not there (``HTTPS_PROXY`` only: a client whose endpoint comes from an ``AWS_DATA_PATH`` rule set picks its proxy
for AWS's host name, so ``NO_PROXY`` cannot be relied on), so nothing reaches AWS.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssoidc.ids import permission_set_role_name
from tests.helpers.cli import DEAD_PROXY, V1_AWS, V2_AWS
from tests.helpers.config import ROOT
from tests.helpers.portal import A1, OPERATOR, login, plant_access, profile_env, sso_home
from tests.helpers.servers import LiveServer, running_server

NODE_DIR = ROOT / "tests" / "node"
SDK_VERSION = "3.1162.0"
ROLE = permission_set_role_name("Operator", OPERATOR.arn)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("portal-cli")) as s:
        plant_access(s)
        yield s


@pytest.fixture(scope="module")
def tokens(server: LiveServer) -> dict[str, Any]:
    return login(server)


def https_guard() -> dict[str, str]:
    """Every HTTPS request to a proxy that is not there; plain HTTP (this server) goes direct."""
    env = {"HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": "", "NO_PROXY": ""}
    return env | {k.lower(): v for k, v in env.items()}


def aws(cli: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli), *argv, "--output", "json"],
        env=env | https_guard() | {"AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_aws_cli_v2_sso_commands(server: LiveServer, tokens: dict[str, Any], tmp_path: Path) -> None:
    env = profile_env(tmp_path) | {"AWS_REGION": "us-east-1"}
    token = ["--access-token", tokens["accessToken"], "--endpoint-url", server.url]
    out = aws(V2_AWS, "sso", "list-accounts", *token, env=env)
    assert out.returncode == 0, out.stderr
    assert [a["accountId"] for a in json.loads(out.stdout)["accountList"]] == [A1]
    out = aws(V2_AWS, "sso", "list-account-roles", "--account-id", A1, *token, env=env)
    assert json.loads(out.stdout)["roleList"] == [{"roleName": "Operator", "accountId": A1}], out.stderr
    before = time.time()
    out = aws(
        V2_AWS, "sso", "get-role-credentials", "--account-id", A1, "--role-name", "Operator", *token, env=env
    )
    assert out.returncode == 0, out.stderr
    rc = json.loads(out.stdout)["roleCredentials"]
    assert rc["accessKeyId"].startswith("ASIA") and rc["sessionToken"]
    assert before + 4 * 3600 - 5 <= rc["expiration"] / 1000 <= time.time() + 4 * 3600  # milliseconds
    out = aws(
        V2_AWS, "sso", "get-role-credentials", "--account-id", A1, "--role-name", "Admin", *token, env=env
    )
    assert out.returncode == 254 and "(ForbiddenException)" in out.stderr and "No access" in out.stderr
    out = aws(V2_AWS, "sso", "list-accounts", "--access-token", "nope", "--endpoint-url", server.url, env=env)
    assert out.returncode == 254 and "(UnauthorizedException)" in out.stderr, out.stderr


def test_aws_cli_v2_get_caller_identity_with_an_sso_profile(
    server: LiveServer, tokens: dict[str, Any], tmp_path: Path
) -> None:
    home = sso_home(server, tokens, tmp_path / "home")
    data = tmp_path / "aws-data"
    made = subprocess.run(
        [sys.executable, "-m", "ssoidc", "cli-endpoints", "--endpoint-url", server.url, "--dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert made.returncode == 0, made.stderr
    env = profile_env(home) | {"AWS_DATA_PATH": str(data)}
    out = aws(
        V2_AWS, "sts", "get-caller-identity", "--profile", "operator", "--endpoint-url", server.url, env=env
    )
    assert out.returncode == 0, out.stderr
    who = json.loads(out.stdout)
    assert who["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{ROLE}/alice" and who["Account"] == A1
    assert list((home / ".aws" / "cli" / "cache").iterdir())  # the CLI caches the role credentials it got
    # aws sso logout calls Logout with the cached token (and empties the caches): the login is over
    fresh_login = login(server)
    home2 = sso_home(server, fresh_login, tmp_path / "home2")
    out = aws(
        V2_AWS,
        "sso",
        "logout",
        "--profile",
        "operator",
        env=profile_env(home2) | {"AWS_DATA_PATH": str(data)},
    )
    assert out.returncode == 0, out.stderr
    assert not list((home2 / ".aws" / "sso" / "cache").iterdir())
    out = aws(
        V2_AWS, "sso", "list-accounts", "--access-token", fresh_login["accessToken"], "--endpoint-url", server.url,
        "--region", "us-east-1", env=profile_env(tmp_path),
    )  # fmt: skip
    assert out.returncode == 254 and "(UnauthorizedException)" in out.stderr, out.stderr
    # without the data path (a fresh HOME: nothing cached), 2.9's credential provider goes to AWS's portal
    fresh = sso_home(server, tokens, tmp_path / "fresh")
    out = aws(
        V2_AWS,
        "sts",
        "get-caller-identity",
        "--profile",
        "operator",
        "--endpoint-url",
        server.url,
        env=profile_env(fresh),
    )
    assert out.returncode != 0 and "127.0.0.1:9" in out.stderr, out.stderr  # it went for AWS's portal


def test_aws_cli_v1_get_caller_identity_with_an_sso_profile(
    server: LiveServer, tokens: dict[str, Any], tmp_path: Path
) -> None:
    home = sso_home(server, tokens, tmp_path / "home")
    env = profile_env(home) | {f"AWS_ENDPOINT_URL_{s}": server.url for s in ("SSO", "STS")}
    out = aws(V1_AWS, "sts", "get-caller-identity", "--profile", "operator", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{ROLE}/alice"


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not installed (Debian package nodejs)")
    pins = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    for package in ("client-sso", "client-sts", "credential-provider-sso"):
        manifest = NODE_DIR / "node_modules" / "@aws-sdk" / package / "package.json"
        want = pins[f"@aws-sdk/{package}"]
        if not manifest.exists() or json.loads(manifest.read_text())["version"] != want:
            pytest.fail(f"@aws-sdk/{package} {want} is not installed: run make node-deps")
    assert pins["@aws-sdk/client-sso"] == pins["@aws-sdk/client-sts"] == SDK_VERSION
    return exe


def run_node(node: str, script: str, env: dict[str, str]) -> dict[str, Any]:
    env = env | {"AWS_REGION": "us-east-1", "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true"}
    proc = subprocess.run(
        [node, script], env=env | https_guard(), capture_output=True, text=True, timeout=60, cwd=NODE_DIR
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = proc.stdout.splitlines()
    result: dict[str, Any] = json.loads(line)
    return result


def test_js_sdk_credential_provider_sso_on_an_sso_session_profile(
    server: LiveServer, tokens: dict[str, Any], node: str, tmp_path: Path
) -> None:
    home = sso_home(server, tokens, tmp_path / "home")
    out = run_node(
        node,
        "sso_profile.mjs",
        profile_env(home) | {"SSOIDC_ENDPOINT": server.url, "SSOIDC_PROFILE": "operator"},
    )
    assert out["accessKeyId"].startswith("ASIA") and out["expiration"] > time.time() * 1000
    assert out["identity"]["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{ROLE}/alice"


def test_js_sdk_client_sso_and_client_sts(server: LiveServer, tokens: dict[str, Any], node: str) -> None:
    env = profile_env(Path("/nonexistent")) | {
        "SSOIDC_ENDPOINT": server.url,
        "SSOIDC_ACCESS_TOKEN": tokens["accessToken"],
        "SSOIDC_ACCOUNT_ID": A1,
        "SSOIDC_ROLE_NAME": "Operator",
        "SSOIDC_OTHER_ROLE": "Admin",
    }
    out = run_node(node, "portal.mjs", env)
    assert out["accounts"] == [{"accountId": A1, "accountName": A1, "emailAddress": f"aws+{A1}@example.com"}]
    assert out["roles"] == [{"roleName": "Operator", "accountId": A1}]
    assert out["accessKeyId"].startswith("ASIA") and out["expiration"] > time.time() * 1000
    assert out["identity"]["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{ROLE}/alice"
    assert out["refused"] == {"name": "ForbiddenException", "message": "No access", "status": 403}
