"""CreateTokenWithIAM through the AWS SDK for JavaScript v3 (tests/node/create_token.mjs) on a live server.

The SDK (``@aws-sdk/client-sso-oidc``, pinned in tests/node/package.json) is installed by ``make node-deps``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.clients import decode_unverified
from tests.helpers.config import JWT_BEARER, ROOT
from tests.helpers.servers import LiveServer

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "create_token.mjs"
SDK_PACKAGE = NODE_DIR / "node_modules" / "@aws-sdk" / "client-sso-oidc" / "package.json"
SDK_VERSION = "3.1162.0"
ALL_SCOPES = ["sts:identity_context", "data:read", "data:write", "openid", "aws"]


@dataclass
class Result:
    returncode: int
    body: dict[str, Any]
    stderr: str


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not installed (Debian package nodejs)")
    if not SDK_PACKAGE.exists():
        pytest.fail(f"{SDK_PACKAGE.relative_to(ROOT)} is missing: run make node-deps")
    installed = json.loads(SDK_PACKAGE.read_text())["version"]
    if installed != SDK_VERSION:
        pytest.fail(
            f"@aws-sdk/client-sso-oidc {installed} is installed, {SDK_VERSION} is pinned: run make node-deps"
        )
    return exe


@pytest.fixture()
def create_token(server: LiveServer, node: str) -> Callable[..., Result]:
    def run(request: dict[str, Any], *, stdin: bool = False, env: dict[str, str] | None = None) -> Result:
        payload = json.dumps(request)
        proc = subprocess.run(
            [node, str(SCRIPT), *([] if stdin else [payload])],
            input=payload if stdin else None,
            env=server.aws_env()
            | {"SSOIDC_ENDPOINT": server.url, "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true"}
            | (env or {}),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=NODE_DIR,
        )
        assert proc.returncode in (0, 3), f"node exited {proc.returncode}: {proc.stderr}"
        lines = proc.stdout.splitlines()
        assert len(lines) == 1, proc.stdout
        return Result(proc.returncode, json.loads(lines[0]), proc.stderr)

    return run


def jwt_bearer(server: LiveServer, app: str = "main", **extra: Any) -> dict[str, Any]:
    return {"clientId": server.apps[app], "grantType": JWT_BEARER, "assertion": server.assertion(), **extra}


def assert_tokens(server: LiveServer, body: dict[str, Any], scope: list[str]) -> None:
    assert set(body) == {
        "accessToken", "tokenType", "expiresIn", "refreshToken", "idToken", "issuedTokenType", "scope",
        "awsAdditionalDetails",
    }  # fmt: skip
    assert body["accessToken"].startswith("aoa")
    assert body["refreshToken"].startswith("aor")
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 3600
    assert body["issuedTokenType"] == "urn:ietf:params:oauth:token-type:refresh_token"
    assert body["scope"] == scope
    assert set(body["awsAdditionalDetails"]) == {"identityContext"}
    context = body["awsAdditionalDetails"]["identityContext"]
    assert isinstance(context, str)
    assert len(context) > 40
    parts = body["idToken"].split(".")
    assert len(parts) == 3
    assert all(parts)
    claims = decode_unverified(body["idToken"])
    assert claims["sub"] == server.users["alice"]
    assert claims["aud"] == server.apps["main"]
    assert claims["aws:application_arn"] == server.apps["main"]
    assert claims["sts:identity_context"] == context


def test_happy_path(server: LiveServer, create_token: Callable[..., Result]) -> None:
    before = server.count("tokens")
    result = create_token(jwt_bearer(server))
    assert result.returncode == 0, result.body
    assert_tokens(server, result.body, ALL_SCOPES)
    assert server.count("tokens") == before + 2


def test_scope_narrowing_from_stdin(server: LiveServer, create_token: Callable[..., Result]) -> None:
    result = create_token(jwt_bearer(server, scope=["openid", "data:read"]), stdin=True)
    assert result.returncode == 0, result.body
    assert_tokens(server, result.body, ["openid", "data:read"])


def test_no_refresh_grant(server: LiveServer, create_token: Callable[..., Result]) -> None:
    request = jwt_bearer(server, "no-refresh") | {"assertion": server.assertion("carol@example.com")}
    result = create_token(request)
    assert result.returncode == 0, result.body
    assert "refreshToken" not in result.body
    assert result.body["issuedTokenType"] == "urn:ietf:params:oauth:token-type:access_token"
    assert decode_unverified(result.body["idToken"])["sub"] == server.users["carol"]


def test_replayed_assertion(server: LiveServer, create_token: Callable[..., Result]) -> None:
    request = jwt_bearer(server)
    assert create_token(request).returncode == 0
    before = server.count("tokens")
    result = create_token(request)
    assert result.returncode == 3
    assert result.body["name"] == "InvalidGrantException"
    assert result.body["status"] == 400
    assert result.body["error"] == "invalid_grant"
    assert "already been used" in result.body["error_description"]
    assert server.count("tokens") == before


@pytest.mark.parametrize(
    ("case", "name", "status", "error"),
    [
        ("unknown-client", "InvalidClientException", 401, "invalid_client"),
        ("disabled-app", "InvalidClientException", 401, "invalid_client"),
        ("bad-secret", "InvalidSignatureException", 403, None),
        ("unsupported-grant", "UnsupportedGrantTypeException", 400, "unsupported_grant_type"),
        ("unknown-scope", "InvalidScopeException", 400, "invalid_scope"),
        ("wrong-audience", "InvalidGrantException", 400, "invalid_grant"),
        ("policy-denies", "AccessDeniedException", 400, "access_denied"),
    ],
)
def test_errors(
    server: LiveServer,
    create_token: Callable[..., Result],
    case: str,
    name: str,
    status: int,
    error: str | None,
) -> None:
    request = jwt_bearer(server)
    env: dict[str, str] = {}
    if case == "unknown-client":
        request["clientId"] = server.apps["main"].rsplit("/", 1)[0] + "/apl-0000000000000000"
        assert request["clientId"] not in server.apps.values()
    elif case == "disabled-app":
        request["clientId"] = server.apps["disabled"]
    elif case == "bad-secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not/the/right/secret/at/all/0123456"
    elif case == "unsupported-grant":
        request["grantType"] = "password"
    elif case == "unknown-scope":
        request["scope"] = ["openid", "no:such:scope"]
    elif case == "wrong-audience":
        request["assertion"] = server.assertion(aud="someone-else")
    elif case == "policy-denies":
        request["clientId"] = server.apps["other-account-only"]
    before = server.count("tokens")
    result = create_token(request, env=env)
    assert result.returncode == 3
    assert result.body["name"] == name
    assert result.body["status"] == status
    assert result.body.get("error") == error
    if error is None:  # an AWS-level error: the message is the server's
        assert "signature we calculated does not match" in result.body["message"]
    else:  # an OAuth error: the description is the server's, the SDK has no message to show
        assert result.body["error_description"]
        assert result.body["message"] in ("UnknownError", result.body["error_description"])
    assert server.count("tokens") == before


def test_script_refuses_to_run_without_endpoint(server: LiveServer, node: str, tmp_path: Path) -> None:
    env = server.aws_env() | {"AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true"}
    proc = subprocess.run(
        [node, str(SCRIPT), json.dumps(jwt_bearer(server))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "SSOIDC_ENDPOINT is not set" in proc.stderr
