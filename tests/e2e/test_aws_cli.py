"""``aws sso-oidc create-token-with-iam`` run as a subprocess against a live server, with both real CLIs.

- AWS CLI v1 from PyPI in the venv (``awscli`` pinned in pyproject; 1.46 vendors its own botocore, 1.43.62,
  whose sso-oidc model already has CreateTokenWithIAM).
- AWS CLI v2 from Debian (``/usr/bin/aws``, installed by ``make system-deps``). Its bundled models predate
  CreateTokenWithIAM, so it is pointed at the pinned botocore model with ``AWS_DATA_PATH``.

Every call runs with a dead HTTP(S) proxy for everything but loopback, so a CLI that ignores our endpoint
fails fast instead of sending a request (and an assertion) to AWS.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore
import pytest
import yaml

from tests.helpers.cli import DEAD_PROXY, V1_AWS, V2_AWS, proxy_env
from tests.helpers.clients import decode_unverified
from tests.helpers.config import JWT_BEARER
from tests.helpers.servers import LiveServer

OPERATION = "when calling the CreateTokenWithIAM operation"
ALL_SCOPES = ["sts:identity_context", "data:read", "data:write", "openid", "aws"]
OUTPUT_MEMBERS = {
    "accessToken", "tokenType", "expiresIn", "refreshToken", "idToken", "issuedTokenType", "scope",
    "awsAdditionalDetails",
}  # fmt: skip
ACCESS_TOKEN = re.compile(r"aoa[A-Za-z0-9_-]+:[A-Za-z0-9_-]+")
REFRESH_TOKEN = re.compile(r"aor[A-Za-z0-9_-]+:[A-Za-z0-9_-]+")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

# Every assertion sent and every credential received in this module (per xdist worker): none may be logged.
SECRETS: set[str] = set()


@dataclass(frozen=True)
class Cli:
    name: str
    exe: Path
    env: dict[str, str]
    service_error_rc: int  # exit status for an error response from the service
    outputs: tuple[str, ...]

    def run(
        self,
        server: LiveServer,
        *args: str,
        endpoint: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.exe), "sso-oidc", "create-token-with-iam", *args]
        if endpoint:
            argv += ["--endpoint-url", server.url]
        proc = subprocess.run(
            argv,
            env=server.aws_env() | self.env | (env or {}),
            capture_output=True,
            text=True,
            timeout=60,
        )
        for pattern in (ACCESS_TOKEN, REFRESH_TOKEN, JWT):
            SECRETS.update(pattern.findall(proc.stdout))
        return proc

    def ok(self, server: LiveServer, *args: str, **kw: Any) -> str:
        proc = self.run(server, *args, **kw)
        assert proc.returncode == 0, f"{self.name} exited {proc.returncode}: {proc.stderr}"
        assert proc.stderr == ""
        return proc.stdout


def assertion(server: LiveServer, email: str = "alice@example.com") -> str:
    value = server.assertion(email)
    SECRETS.add(value)
    return value


def remember(body: dict[str, Any]) -> None:
    for key in ("accessToken", "refreshToken", "idToken"):
        if key in body:
            SECRETS.add(body[key])
    if "awsAdditionalDetails" in body:
        SECRETS.add(body["awsAdditionalDetails"]["identityContext"])


def base_args(server: LiveServer, app: str = "main") -> list[str]:
    return ["--client-id", server.apps[app], "--grant-type", JWT_BEARER, "--assertion", assertion(server)]


def cli_version(exe: Path) -> tuple[int, ...]:
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, check=True)
    match = re.match(r"aws-cli/(\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    assert match, out
    return tuple(int(g) for g in match.groups())


def assert_full_response(server: LiveServer, body: dict[str, Any], scope: list[str] = ALL_SCOPES) -> None:
    remember(body)
    assert set(body) == OUTPUT_MEMBERS
    assert ACCESS_TOKEN.fullmatch(body["accessToken"])
    assert REFRESH_TOKEN.fullmatch(body["refreshToken"])
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 3600
    assert body["issuedTokenType"] == "urn:ietf:params:oauth:token-type:refresh_token"
    assert body["scope"] == scope
    claims = decode_unverified(body["idToken"])
    assert claims["sub"] == server.users["alice"]
    assert claims["aud"] == server.apps["main"]
    assert claims["sts:identity_context"] == body["awsAdditionalDetails"]["identityContext"]


@pytest.fixture(scope="module")
def v2_data_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``AWS_DATA_PATH`` with the pinned botocore's sso-oidc model (CLI v2 2.9 predates the operation)."""
    root = tmp_path_factory.mktemp("aws-data")
    src = Path(botocore.__file__).parent / "data" / "sso-oidc" / "2019-06-10"
    dst = root / "sso-oidc" / "2019-06-10"
    dst.mkdir(parents=True)
    for name in ("service-2.json", "endpoint-rule-set-1.json"):
        with gzip.open(src / f"{name}.gz", "rb") as fin, open(dst / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return root


@pytest.fixture(scope="module")
def v1() -> Cli:
    if not V1_AWS.exists():
        pytest.fail(f"{V1_AWS} is missing: run make install (awscli is a dev dependency)")
    return Cli("v1", V1_AWS, {"AWS_MAX_ATTEMPTS": "1", **proxy_env()}, 255, ("json", "text", "table"))


@pytest.fixture(scope="module")
def v2(v2_data_path: Path) -> Cli:
    if not V2_AWS.exists():
        pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
    env = {"AWS_DATA_PATH": str(v2_data_path), "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1", **proxy_env()}
    return Cli("v2", V2_AWS, env, 254, ("json", "text", "table", "yaml", "yaml-stream"))


@pytest.fixture(params=["v1", "v2"])
def cli(request: pytest.FixtureRequest) -> Cli:
    cli: Cli = request.getfixturevalue(request.param)
    return cli


# --- plain options ------------------------------------------------------------------------------------------


def test_plain_options_with_endpoint_url(server: LiveServer, cli: Cli) -> None:
    before = server.count("tokens")
    out = cli.ok(server, *base_args(server), "--output", "json")
    assert_full_response(server, json.loads(out))
    assert server.count("tokens") == before + 2


def test_endpoint_from_environment_v1(server: LiveServer, v1: Cli) -> None:
    """CLI v1 1.45 honours AWS_ENDPOINT_URL_SSO_OIDC (service-specific endpoints) without --endpoint-url."""
    before = server.count("tokens")
    out = v1.ok(server, *base_args(server), "--query", "accessToken", "--output", "text", endpoint=False)
    assert ACCESS_TOKEN.fullmatch(out.strip())
    assert server.count("tokens") == before + 2


def test_endpoint_from_environment_v2(server: LiveServer, v2: Cli) -> None:
    """AWS_ENDPOINT_URL_<SERVICE> arrived in CLI v2 2.13; Debian bookworm's 2.9 ignores it and goes to AWS."""
    before = server.count("tokens")
    if cli_version(v2.exe) >= (2, 13, 0):
        out = v2.ok(server, *base_args(server), "--query", "tokenType", "--output", "text", endpoint=False)
        assert out == "Bearer\n"
        assert server.count("tokens") == before + 2
    else:
        proc = v2.run(server, *base_args(server), "--debug", endpoint=False)
        assert proc.returncode == 255
        assert "Endpoint provider result: https://oidc.us-east-1.amazonaws.com" in proc.stderr
        assert f'Failed to connect to proxy URL: "{DEAD_PROXY}"' in proc.stderr  # it never left the box
        assert server.count("tokens") == before


# --- request input ------------------------------------------------------------------------------------------


def test_cli_input_json_inline(server: LiveServer, cli: Cli) -> None:
    """Inline JSON; ``file://`` input is covered by the skeleton test below."""
    request = {
        "clientId": server.apps["main"],
        "grantType": JWT_BEARER,
        "assertion": assertion(server),
        "scope": ["data:write", "openid"],
    }
    out = cli.ok(server, "--cli-input-json", json.dumps(request), "--output", "json")
    assert_full_response(server, json.loads(out), scope=["data:write", "openid"])


def test_cli_input_yaml_inline_v2(server: LiveServer, v2: Cli) -> None:
    """Inline YAML; ``file://`` input is covered by the YAML skeleton test below."""
    request = {"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": assertion(server)}
    text = yaml.safe_dump(request | {"scope": ["aws"]})
    out = v2.ok(server, "--cli-input-yaml", text, "--output", "yaml")
    assert_full_response(server, yaml.safe_load(out), scope=["aws"])


def test_v1_has_no_yaml(server: LiveServer, v1: Cli, tmp_path: Path) -> None:
    """CLI v1 rejects the v2-only YAML options locally, without sending anything."""
    path = tmp_path / "request.yaml"
    path.write_text(yaml.safe_dump({"clientId": server.apps["main"], "grantType": JWT_BEARER}))
    before = server.count("tokens")
    proc = v1.run(server, "--client-id", "x", "--grant-type", "y", "--cli-input-yaml", f"file://{path}")
    assert proc.returncode == 255  # unknown options: 255, unlike the argparse usage error below (2)
    assert f"Unknown options: --cli-input-yaml, file://{path}" in proc.stderr
    proc = v1.run(server, *base_args(server), "--output", "yaml")
    assert proc.returncode == 2
    assert "argument --output: Invalid choice" in proc.stderr
    assert server.count("tokens") == before


def test_generate_cli_skeleton_as_template(server: LiveServer, cli: Cli, tmp_path: Path) -> None:
    skeleton = json.loads(cli.ok(server, "--generate-cli-skeleton", endpoint=False))
    assert set(skeleton) >= {"clientId", "grantType", "assertion", "scope", "subjectToken", "refreshToken"}
    assert all(v in ("", [""]) for v in skeleton.values())
    filled = skeleton | {
        "clientId": server.apps["main"],
        "grantType": JWT_BEARER,
        "assertion": assertion(server),
        "scope": ["openid"],
    }
    filled = {k: v for k, v in filled.items() if v not in ("", [""])}  # drop what this grant does not use
    path = tmp_path / "skeleton.json"
    path.write_text(json.dumps(filled, indent=2))
    body = json.loads(cli.ok(server, "--cli-input-json", f"file://{path}"))
    assert_full_response(server, body, scope=["openid"])
    # the real response has exactly the members of the model's output skeleton (generated locally)
    sample = json.loads(
        cli.ok(
            server,
            "--generate-cli-skeleton",
            "output",
            "--client-id",
            "x",
            "--grant-type",
            "y",
            endpoint=False,
        )
    )
    assert set(sample) == set(body)
    assert set(sample["awsAdditionalDetails"]) == set(body["awsAdditionalDetails"])


def test_generate_yaml_skeleton_as_template_v2(server: LiveServer, v2: Cli, tmp_path: Path) -> None:
    skeleton = v2.ok(server, "--generate-cli-skeleton", "yaml-input", endpoint=False)
    assert "# [REQUIRED]" in skeleton
    template = yaml.safe_load(skeleton)
    filled = {"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": assertion(server)}
    assert set(filled) <= set(template)
    path = tmp_path / "skeleton.yaml"
    path.write_text(yaml.safe_dump(filled))
    body = json.loads(v2.ok(server, "--cli-input-yaml", f"file://{path}"))
    assert_full_response(server, body)


# --- --query and --output -----------------------------------------------------------------------------------


def test_query_access_token_text(server: LiveServer, cli: Cli) -> None:
    out = cli.ok(server, *base_args(server), "--query", "accessToken", "--output", "text")
    assert out.endswith("\n")
    assert out.count("\n") == 1
    assert out.startswith("aoa")
    assert ACCESS_TOKEN.fullmatch(out.strip())


def test_query_scope_and_multiselect(server: LiveServer, cli: Cli) -> None:
    out = cli.ok(
        server, *base_args(server), "--scope", "openid", "data:read", "--query", "scope", "--output", "text"
    )
    assert out == "openid\tdata:read\n"
    out = cli.ok(
        server,
        *base_args(server),
        "--query",
        "{type: tokenType, expires: expiresIn, issued: issuedTokenType,"
        " ctx: awsAdditionalDetails.identityContext}",
    )
    got = json.loads(out)
    SECRETS.add(got["ctx"])
    assert got == {
        "type": "Bearer",
        "expires": 3600,
        "issued": "urn:ietf:params:oauth:token-type:refresh_token",
        "ctx": got["ctx"],
    }
    assert len(got["ctx"]) > 40


def check_output(server: LiveServer, fmt: str, out: str) -> None:
    if fmt == "json":
        assert_full_response(server, json.loads(out))
    elif fmt == "yaml":
        assert_full_response(server, yaml.safe_load(out))
    elif fmt == "yaml-stream":
        docs = yaml.safe_load(out)
        assert isinstance(docs, list)
        assert len(docs) == 1
        assert_full_response(server, docs[0])
    elif fmt == "text":
        lines = out.splitlines()
        # scalars first, in key order, then one line per nested structure / list item
        access, expires, id_token, issued, refresh, token_type = lines[0].split("\t")
        assert ACCESS_TOKEN.fullmatch(access)
        assert REFRESH_TOKEN.fullmatch(refresh)
        assert expires == "3600"
        assert token_type == "Bearer"
        assert issued == "urn:ietf:params:oauth:token-type:refresh_token"
        assert decode_unverified(id_token)["sub"] == server.users["alice"]
        label, ctx = lines[1].split("\t")
        assert label == "AWSADDITIONALDETAILS"
        assert decode_unverified(id_token)["sts:identity_context"] == ctx
        assert lines[2:] == [f"SCOPE\t{s}" for s in ALL_SCOPES]
        SECRETS.add(ctx)
    elif fmt == "table":
        rows = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 2 and cells[0]:
                rows[cells[0]] = cells[1]
        assert "CreateTokenWithIAM" in out.splitlines()[1]
        assert ACCESS_TOKEN.fullmatch(rows["accessToken"])
        assert REFRESH_TOKEN.fullmatch(rows["refreshToken"])
        assert rows["tokenType"] == "Bearer"
        assert rows["expiresIn"] == "3600"
        assert rows["issuedTokenType"] == "urn:ietf:params:oauth:token-type:refresh_token"
        assert decode_unverified(rows["idToken"])["sts:identity_context"] == rows["identityContext"]
        SECRETS.add(rows["identityContext"])
        for s in ALL_SCOPES:
            assert re.search(rf"^\|\|\s+{re.escape(s)}\s+\|\|$", out, re.MULTILINE), s
    else:  # pragma: no cover
        raise AssertionError(fmt)


@pytest.mark.parametrize(
    ("which", "fmt"),
    [("v1", "text"), ("v1", "table")] + [("v2", f) for f in ("text", "table", "yaml", "yaml-stream")],
)
def test_output_format(server: LiveServer, request: pytest.FixtureRequest, which: str, fmt: str) -> None:
    cli: Cli = request.getfixturevalue(which)
    assert fmt in cli.outputs
    out = cli.ok(server, *base_args(server), "--output", fmt)
    check_output(server, fmt, out)


# --- errors -------------------------------------------------------------------------------------------------


def error_line(cli: Cli, proc: subprocess.CompletedProcess[str], code: str) -> str:
    assert proc.returncode == cli.service_error_rc, proc
    assert proc.stdout == ""
    # with AWS_MAX_ATTEMPTS set, v2 adds " (reached max retries: 0)" after the operation
    match = re.search(
        rf"An error occurred \({code}\) {OPERATION}(?: \(reached max retries: 0\))?: ?(.*)", proc.stderr
    )
    assert match, proc.stderr
    return match.group(1)


def test_replayed_assertion_is_invalid_grant(server: LiveServer, cli: Cli) -> None:
    args = base_args(server)
    before = server.count("tokens")
    cli.ok(server, *args, "--query", "tokenType")
    proc = cli.run(server, *args, "--query", "tokenType")
    message = error_line(cli, proc, "InvalidGrantException")
    if cli.name == "v1":
        # botocore >= 1.35 copies the OAuth error_description into the message; CLI v2 2.9 shows it empty
        assert message
    assert server.count("tokens") == before + 2


def test_wrong_secret_is_invalid_signature(server: LiveServer, cli: Cli) -> None:
    before = server.count("tokens")
    proc = cli.run(
        server, *base_args(server), env={"AWS_SECRET_ACCESS_KEY": "not/the/right/secret/at/all/0123456"}
    )
    message = error_line(cli, proc, "InvalidSignatureException")
    assert "signature we calculated does not match" in message
    assert server.count("tokens") == before


def test_unknown_client_is_invalid_client(server: LiveServer, cli: Cli) -> None:
    unknown = server.apps["main"].rsplit("/", 1)[0] + "/apl-0000000000000000"
    assert unknown not in server.apps.values()
    before = server.count("tokens")
    proc = cli.run(
        server, "--client-id", unknown, "--grant-type", JWT_BEARER, "--assertion", assertion(server)
    )
    error_line(cli, proc, "InvalidClientException")
    assert server.count("tokens") == before


# --- the server log -----------------------------------------------------------------------------------------


def secret_pieces(secret: str) -> set[str]:
    """The secret and the parts of it that would give it away: JWT payload and signature, token halves."""
    if JWT.fullmatch(secret):
        return {secret, *secret.split(".")[1:]}
    return {secret, *(p for p in secret.split(":") if len(p) >= 16)}


def test_server_log_has_no_tokens_or_assertions(server: LiveServer, v1: Cli, v2: Cli) -> None:
    # calls of its own (v1 succeeds, v2 replays its assertion): this holds when run alone or on another worker
    args = base_args(server)
    check_output(server, "text", v1.ok(server, *args, "--output", "text"))
    error_line(v2, v2.run(server, *args), "InvalidGrantException")
    log = (server.data_dir.parent / "server.log").read_text()
    assert "CreateTokenWithIAM" in log  # the right file, and the server does log these requests
    assert len(SECRETS) >= 5
    pieces = set().union(*(secret_pieces(s) for s in SECRETS))
    leaked = sorted(p[:8] + "..." for p in pieces if p in log)
    assert not leaked, f"server.log contains secrets: {leaked}"
