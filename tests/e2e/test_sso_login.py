"""Unmodified clients log in to ssoidc over TLS, as users do in the field (issue 14, "Done when"):

* the AWS CLI v2 (Debian's 2.9.19: the device flow, its only flow before 2.22) runs ``aws sso login --profile P
  --no-browser`` against an ``sso-session`` profile, pointed at ssoidc by ``ssoidc cli-endpoints``
  (``AWS_DATA_PATH``: 2.9 reads no ``AWS_ENDPOINT_URL_*``) and trusting the ``ssoidc dev-cert`` CA; real Chromium
  (Playwright) opens the URL it prints, signs in and approves; the CLI leaves a token in its cache;
* AWS CLI 2.23.6 and the newest (Debian 13's and unstable's, 2.38.1 when written; ``make cli-v2``) run the PKCE login (their default; Chromium
  approves on the ``/authorize`` URL they print and lands on their loopback listener) and ``--use-device-code``,
  found through ``AWS_ENDPOINT_URL_*`` alone, then get role credentials through the portal;
* botocore's own SSO token provider, in a temporary HOME with that cache, refreshes the expiring token through
  ssoidc's CreateToken (``AWS_ENDPOINT_URL_SSO_OIDC``, then a ``services`` section), and the rotated-out refresh
  token no longer works;
* the AWS SDK for JavaScript (``@aws-sdk/client-sso-oidc``) runs the device flow.

Every connection goes through a proxy that reaches nothing but this server: nothing can reach AWS.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect, sync_playwright

from ssoidc.cli import SSO_PROFILE, SSO_SESSION, sso_config
from ssoidc.devcert import DevCert
from ssoidc.ids import permission_set_role_name
from ssoidc.oauth.start_url import default_start_url
from tests.helpers.browser import CHROMIUM, LAUNCH_ARGS, PASSWORDS, set_password
from tests.helpers.cli import NEWER_V2, V2_AWS, proxy_env
from tests.helpers.clients import make_client
from tests.helpers.config import ROOT
from tests.helpers.guard_proxy import guard_proxy
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.helpers.portal import A1, OPERATOR, plant_access
from tests.helpers.servers import LiveServer, running_server

NODE_DIR = ROOT / "tests" / "node"
SDK_PACKAGE = NODE_DIR / "node_modules" / "@aws-sdk" / "client-sso-oidc" / "package.json"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CACHE_NAME = hashlib.sha1(SSO_SESSION.encode()).hexdigest() + ".json"  # noqa: S324 - the CLI's cache key


def ssoidc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", *args], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env
    )


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> DevCert:
    directory = tmp_path_factory.mktemp("tls") / "tls"
    assert ssoidc("dev-cert", "--dir", str(directory), env=dict(os.environ)).returncode == 0
    return DevCert(directory.resolve())


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, cert: DevCert) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("sso-login"), tls=cert) as server:
        set_password(server, "alice", PASSWORDS["alice"])
        plant_access(server)
        yield server


@pytest.fixture(scope="module")
def pg_tls_server(tmp_path_factory: pytest.TempPathFactory, cert: DevCert) -> Iterator[LiveServer]:
    """The same server on PostgreSQL (a fresh schema, dropped after)."""
    base = pg_base_url()
    require_postgres(base, "The PostgreSQL leg of the aws sso login test")
    schema = new_schema("ssoidc_sso_login")
    try:
        with running_server(
            tmp_path_factory.mktemp("sso-login-pg"),
            tls=cert,
            database_url=with_query(base, search_path=schema),
        ) as server:
            done = subprocess.run(
                [sys.executable, "-m", "ssoidc", "users", "set-password", "alice", "--password-stdin",
                 "--database-url", server.database_url],
                input=f"{PASSWORDS['alice']}\n", env=server.env, cwd=ROOT, text=True, capture_output=True,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            plant_access(server)
            yield server
    finally:
        drop_schema(base, schema)


@pytest.fixture(scope="module")
def start_url(tls_server: LiveServer) -> str:
    return default_start_url(tls_server.configuration().instance.identity_store_id)


@pytest.fixture(scope="module")
def data_path(tmp_path_factory: pytest.TempPathFactory, tls_server: LiveServer) -> Path:
    root = tmp_path_factory.mktemp("aws-data")
    out = ssoidc("cli-endpoints", "--endpoint-url", tls_server.url, "--dir", str(root), env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    return root


def home_with_profile(home: Path, start_url: str, extra: str = "", role: tuple[str, str] = ("", "")) -> Path:
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / ".aws" / "config").write_text(sso_config(start_url, "us-east-1", *role) + extra)
    return home


def cli_env(home: Path, cert: DevCert) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_CA_BUNDLE": str(cert.ca),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def chromium(cert: DevCert, *allowed: str) -> Iterator[tuple[Page, list[str]]]:
    """A Chromium page that trusts the server's own key only (SPKI pin) and may reach nothing but URLs starting
    with one of ``allowed``; yields it and the list of refused URLs (which the caller asserts empty)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    leaf = x509.load_pem_x509_certificates(cert.cert.read_bytes())[0]
    spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    external: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*LAUNCH_ARGS, f"--ignore-certificate-errors-spki-list={pin}"],
        )
        try:
            context = browser.new_context()
            context.set_default_timeout(10_000)

            def guard(route: Any) -> None:
                if route.request.url.startswith(allowed):
                    route.continue_()
                else:
                    external.append(route.request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            yield context.new_page(), external
        finally:
            browser.close()


def sign_in(page: Page, user: str) -> None:
    page.fill("#signin-form input[name=username]", user)
    page.fill("#signin-form input[name=password]", PASSWORDS[user])
    with page.expect_navigation():
        page.click("#signin-submit")
    expect(page.locator("#signed-in-as")).to_have_text(user)


def approve_in_chromium(url: str, cert: DevCert, user: str = "alice") -> None:
    """Open ``url`` (the CLI's ``verificationUriComplete``) in Chromium, confirm the code, sign in, allow."""
    with chromium(cert, "https://localhost:") as (page, external):
        page.goto(url)
        with page.expect_navigation():
            page.click("#device-submit")
        sign_in(page, user)
        with page.expect_navigation():
            page.click("button#allow")
        expect(page.locator("#done-title")).to_have_text("Device authorized")
    assert external == []


def authorize_in_chromium(url: str, cert: DevCert, user: str = "alice") -> str:
    """Open ``url`` (the authorize URL the CLI prints for its PKCE login) in Chromium, sign in, allow; the browser
    follows the redirect to the CLI's loopback listener. Returns the client name the consent page showed."""
    redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/oauth/callback", redirect), redirect
    with chromium(cert, "https://localhost:", redirect) as (page, external):
        page.goto(url)
        shown = page.locator("#app-name").inner_text()
        sign_in(page, user)
        expect(page.locator("#scopes")).to_contain_text("sso:account:access")
        with page.expect_navigation(url=f"{redirect}?**"):
            page.click("button#allow")
    assert external == []
    return shown


def in_chromium(url: str, cert: DevCert) -> None:
    """Approve the URL ``aws sso login`` printed as alice, in Chromium."""
    if "/device?" in url:
        approve_in_chromium(url, cert)
    else:
        authorize_in_chromium(url, cert)


def sso_login(
    home: Path,
    cert: DevCert,
    data_path: Path | None,
    server: LiveServer,
    aws: Path = V2_AWS,
    *flags: str,
    approve: Callable[[str, DevCert], None] = in_chromium,
) -> tuple[str, list[str]]:
    """``aws sso login --profile ssoidc-sso --no-browser [flags]``, ``approve``-d on the URL it prints (the device
    page, or the authorize URL of the PKCE login); returns its output and what the guard proxy tunnelled. With
    ``data_path`` the CLI finds ssoidc through ``AWS_DATA_PATH`` (2.9), else ``AWS_ENDPOINT_URL_*``."""
    env = cli_env(home, cert)
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    else:
        env |= {f"AWS_ENDPOINT_URL_{s}": server.url for s in ("SSO_OIDC", "SSO", "STS")}
    with guard_proxy(f"localhost:{server.port}") as proxy:
        with subprocess.Popen(
            [str(aws), "sso", "login", "--profile", SSO_PROFILE, "--no-browser", *flags],
            env=env | proxy.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            out = ""
            try:
                for line in proc.stdout:
                    out += line
                    if line.startswith((f"{server.url}/device?user_code=", f"{server.url}/authorize?")):
                        approve(line.strip(), cert)
                assert proc.wait(60) == 0, out
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proxy.refused == [], proxy.refused
        return out, proxy.tunnelled


def assert_live_cached_login(home: Path, url: str, server: LiveServer, cert: DevCert) -> dict[str, Any]:
    """The CLI's token cache holds an hour-long token for ``url`` and a refresh token that redeems once."""
    cached = dict(json.loads((home / ".aws" / "sso" / "cache" / CACHE_NAME).read_text()))
    assert cached["startUrl"] == url and cached["region"] == "us-east-1"
    assert cached["accessToken"].startswith("aoa") and cached["refreshToken"].startswith("aor")
    expires = datetime.datetime.fromisoformat(cached["expiresAt"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=55) < expires - now <= datetime.timedelta(hours=1)
    oidc = make_client(server, verify=str(cert.ca), config={"signature_version": UNSIGNED})
    refreshed = oidc.create_token(
        clientId=cached["clientId"],
        clientSecret=cached["clientSecret"],
        grantType="refresh_token",
        refreshToken=cached["refreshToken"],
    )
    assert refreshed["accessToken"].startswith("aoa") and refreshed["refreshToken"] != cached["refreshToken"]
    return cached


@pytest.mark.parametrize(("store", "form"), [("sqlite", "aws"), ("sqlite", "ssoidc"), ("postgres", "aws")])
def test_aws_cli_2_9_sso_login_device_flow_over_tls(
    request: pytest.FixtureRequest, cert: DevCert, tmp_path: Path, store: str, form: str
) -> None:
    """Both start URL forms: the AWS one, and ``<ssoidc>/start`` (which 2.9 sends as is); both stores."""
    if not V2_AWS.exists():
        pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
    tls_server: LiveServer = request.getfixturevalue("tls_server" if store == "sqlite" else "pg_tls_server")
    identity_store = tls_server.configuration().instance.identity_store_id
    url = default_start_url(identity_store) if form == "aws" else f"{tls_server.url}/start"
    data_path = tmp_path / "aws-data"
    made = ssoidc(
        "cli-endpoints", "--endpoint-url", tls_server.url, "--dir", str(data_path), env=dict(os.environ)
    )
    assert made.returncode == 0, made.stderr
    home = home_with_profile(tmp_path / "home", url)
    out, tunnelled = sso_login(home, cert, data_path, tls_server)
    assert f"Successfully logged into Start URL: {url}" in out
    assert tunnelled and set(tunnelled) == {f"localhost:{tls_server.port}"}
    assert_live_cached_login(home, url, tls_server, cert)


ROLE = permission_set_role_name("Operator", OPERATOR.arn)
NEWER_CASES = [  # (CLI version, flow, store, start URL form)
    *[(v, flow, "sqlite", "aws") for v in NEWER_V2 for flow in ("pkce", "device")],
    ("newest", "pkce", "postgres", "aws"),
    ("newest", "pkce", "sqlite", "ssoidc"),
    ("newest", "device", "sqlite", "ssoidc"),
    ("2.23.6", "device", "sqlite", "ssoidc"),  # before 2.35.13 the CLI sends the start URL as is
]


@pytest.mark.parametrize(("version", "flow", "store", "form"), NEWER_CASES)
def test_newer_aws_cli_v2_logs_in_over_tls_and_gets_role_credentials(
    request: pytest.FixtureRequest,
    cert: DevCert,
    tmp_path: Path,
    version: str,
    flow: str,
    store: str,
    form: str,
) -> None:
    """AWS CLI 2.22 and later: ``aws sso login`` (PKCE in Chromium by default, or ``--use-device-code``), found
    through ``AWS_ENDPOINT_URL_SSO_OIDC``/``_SSO``/``_STS`` alone; then ``aws sts get-caller-identity`` on the
    profile: the CLI's SSO credential provider gets the Operator role's credentials from ssoidc's portal. With
    ``sso_start_url = <ssoidc>/start``, the newest logs in only because it resolved that URL (one redirect) to an
    AWS-owned host: it refuses any other start URL ("Could not resolve start URL ... to an AWS-owned endpoint")."""
    aws = NEWER_V2[version]
    if not aws.exists():
        pytest.fail(f"{aws} (AWS CLI {version}) is missing: run make cli-v2")
    server: LiveServer = request.getfixturevalue("tls_server" if store == "sqlite" else "pg_tls_server")
    identity_store = server.configuration().instance.identity_store_id
    url = default_start_url(identity_store) if form == "aws" else f"{server.url}/start"
    home = home_with_profile(tmp_path / "home", url, role=(A1, "Operator"))
    flags = ("--use-device-code",) if flow == "device" else ()
    out, tunnelled = sso_login(home, cert, None, server, aws, *flags)
    shown = f"{server.url}/device?user_code=" if flow == "device" else f"{server.url}/authorize?"
    assert shown in out, out
    assert f"Successfully logged into Start URL: {url}" in out, out
    assert tunnelled and set(tunnelled) == {f"localhost:{server.port}"}
    assert_live_cached_login(home, url, server, cert)

    env = cli_env(home, cert) | {f"AWS_ENDPOINT_URL_{s}": server.url for s in ("SSO_OIDC", "SSO", "STS")}
    with guard_proxy(f"localhost:{server.port}") as proxy:
        who = subprocess.run(
            [str(aws), "sts", "get-caller-identity", "--profile", SSO_PROFILE, "--output", "json"],
            env=env | proxy.env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{ROLE}/alice"
    assert proxy.refused == []


@pytest.mark.parametrize("flow", ["pkce", "device"])
def test_newest_aws_cli_logs_in_in_ci_without_a_browser(
    tls_server: LiveServer, cert: DevCert, start_url: str, tmp_path: Path, flow: str
) -> None:
    """docs/public-clients.md's CI recipe with the real CLI: ``aws sso login --no-browser``, and the operator (store
    access, never the unauthenticated pages) approves as alice: ``ssoidc device approve`` on the user code, or
    ``ssoidc authorize approve`` on the printed authorize URL, whose redirect a plain GET delivers to the CLI."""
    aws = NEWER_V2["newest"]
    if not aws.exists():
        pytest.fail(f"{aws} is missing: run make cli-v2")
    store = ["--data-dir", str(tls_server.data_dir)]
    approved: list[str] = []

    def operator(url: str, _cert: DevCert) -> None:
        if flow == "device":
            code = parse_qs(urlsplit(url).query)["user_code"][0]
            done = ssoidc("device", "approve", code, "--user", "alice", *store, env=tls_server.env)
            assert done.returncode == 0, done.stderr
            approved.append(done.stdout)
            return
        done = ssoidc("authorize", "approve", url, "--user", "alice", *store, env=tls_server.env)
        assert done.returncode == 0, done.stderr
        redirect = done.stdout.strip()
        assert redirect.startswith("http://127.0.0.1:") and "code=" in redirect, redirect
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the CLI's loopback listener
        with opener.open(redirect, timeout=10) as answer:
            assert answer.status == 200
        approved.append(redirect)

    home = home_with_profile(tmp_path / "home", start_url)
    flags = ("--use-device-code",) if flow == "device" else ()
    out, _ = sso_login(home, cert, None, tls_server, aws, *flags, approve=operator)
    assert len(approved) == 1 and f"Successfully logged into Start URL: {start_url}" in out, out
    assert_live_cached_login(home, start_url, tls_server, cert)


def test_a_start_url_of_another_portal_gets_no_login(
    tls_server: LiveServer, cert: DevCert, data_path: Path, tmp_path: Path
) -> None:
    """``aws sso login`` with a start URL that is not this instance's: StartDeviceAuthorization refuses it, the
    CLI fails, nothing is cached and no device code was started."""
    if not V2_AWS.exists():
        pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
    home = home_with_profile(tmp_path / "home", "https://d-0000000000.awsapps.com/start")
    before = tls_server.count("device_codes")
    env = cli_env(home, cert) | {"AWS_DATA_PATH": str(data_path)}
    with guard_proxy(f"localhost:{tls_server.port}") as proxy:
        proc = subprocess.run(
            [str(V2_AWS), "sso", "login", "--profile", SSO_PROFILE, "--no-browser"],
            env=env | proxy.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert "InvalidRequestException" in proc.stderr, proc.stderr
    assert "/device?user_code=" not in proc.stdout
    assert proxy.refused == []
    assert not (home / ".aws" / "sso" / "cache" / CACHE_NAME).exists()
    assert tls_server.count("device_codes") == before


REFRESH_SCRIPT = """
import json, botocore.session
session = botocore.session.Session(profile={profile!r})
token = session.get_auth_token().get_frozen_token()
print(json.dumps({{"token": token.token, "expiration": token.expiration.isoformat()}}))
"""


def botocore_token(home: Path, cert: DevCert, extra_env: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", REFRESH_SCRIPT.format(profile=SSO_PROFILE)],
        env=cli_env(home, cert) | proxy_env() | extra_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def expire_soon(cache: Path) -> dict[str, Any]:
    """Move the cached token into botocore's mandatory refresh window (under 10 minutes left)."""
    doc = dict(json.loads(cache.read_text()))
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    doc["expiresAt"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    cache.write_text(json.dumps(doc))
    return doc


def test_botocore_refreshes_the_cli_s_expiring_token_through_create_token(
    tls_server: LiveServer, cert: DevCert, data_path: Path, start_url: str, tmp_path: Path
) -> None:
    if not V2_AWS.exists():
        pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
    home = home_with_profile(tmp_path / "home", start_url)
    sso_login(home, cert, data_path, tls_server)
    cache = home / ".aws" / "sso" / "cache" / CACHE_NAME

    before = expire_soon(cache)
    got = botocore_token(home, cert, {"AWS_ENDPOINT_URL_SSO_OIDC": tls_server.url})
    after = json.loads(cache.read_text())
    assert got["token"] == after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] != before["refreshToken"]  # rotated, and saved for the next refresh
    assert after["clientId"] == before["clientId"]

    # the same through a `services` section of the profile instead of the variable
    services = (
        f"services = ssoidc-local\n\n[services ssoidc-local]\nsso_oidc =\n  endpoint_url = {tls_server.url}\n"
    )
    home_with_profile(home, start_url, services)
    second = expire_soon(cache)
    got = botocore_token(home, cert, {})
    final = json.loads(cache.read_text())
    assert got["token"] == final["accessToken"] != second["accessToken"]

    # the refresh tokens botocore rotated out are spent: presenting one again is refused
    oidc = make_client(tls_server, verify=str(cert.ca), config={"signature_version": UNSIGNED})
    with pytest.raises(ClientError) as info:
        oidc.create_token(
            clientId=before["clientId"],
            clientSecret=before["clientSecret"],
            grantType="refresh_token",
            refreshToken=before["refreshToken"],
        )
    assert info.value.response["Error"]["Code"] == "InvalidGrantException"


def test_js_sdk_runs_the_device_flow(tls_server: LiveServer, cert: DevCert, start_url: str) -> None:
    node = shutil.which("node")
    if node is None or not SDK_PACKAGE.exists():
        pytest.fail("node or @aws-sdk/client-sso-oidc is missing: run make node-deps")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | proxy_env()
    env |= {
        "SSOIDC_ENDPOINT": tls_server.url,
        "SSOIDC_START_URL": start_url,
        "AWS_REGION": "us-east-1",
        "NODE_EXTRA_CA_CERTS": str(cert.ca),
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
    }
    with subprocess.Popen(
        [node, "device_flow.mjs"],
        cwd=NODE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            first = json.loads(proc.stdout.readline() or "{}")
            assert first.get("event") == "authorize", (first, proc.stderr.read())
            assert (
                first["verificationUriComplete"] == f"{tls_server.url}/device?user_code={first['userCode']}"
            )
            assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", first["userCode"])
            assert (
                json.loads(proc.stdout.readline() or "{}").get("event") == "pending"
            )  # polled before approval
            approved = ssoidc(
                "device", "approve", first["userCode"], "--user", "alice", "--data-dir", str(tls_server.data_dir),
                env=tls_server.env,
            )  # fmt: skip
            assert approved.returncode == 0, approved.stderr
            last = json.loads(proc.stdout.readline() or "{}")
            assert proc.wait(60) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert last["event"] == "tokens", last
    assert last["pending"] >= 1  # it polled before the approval
    assert last["accessToken"].startswith("aoa") and last["tokenType"] == "Bearer"
    assert last["refreshToken"].startswith("aor")  # a scoped registration: refreshable
