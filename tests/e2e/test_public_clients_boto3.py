"""Public clients through boto3 against live servers on SQLite and PostgreSQL (issue 14): RegisterClient,
StartDeviceAuthorization and CreateToken, approved without a browser by the operator commands (``ssoidc device
approve``, ``ssoidc authorize approve``); every failure path of the spec's section 6 as its modelled exception
class, with nothing issued or consumed; and 30-way races (a device code polled by 30 clients, a code and a refresh
token redeemed by 30) that issue exactly one token set.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from ssoidc.oauth.pkce import s256
from ssoidc.storage.base import DeviceRecord, Store
from tests.helpers.clients import make_client
from tests.helpers.config import ROOT
from tests.helpers.servers import LiveServer, both_stores

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
CLI_REDIRECT = "http://127.0.0.1/oauth/callback"
RACERS = 30


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


@pytest.fixture(scope="module")
def start_url(server: LiveServer) -> str:
    return f"https://{server.configuration().instance.identity_store_id}.awsapps.com/start"


def oidc(server: LiveServer) -> Any:
    return make_client(server, config={"signature_version": UNSIGNED})


def store_args(server: LiveServer) -> list[str]:
    args = ["--data-dir", str(server.data_dir)]
    return args + (["--database-url", server.database_url] if server.database_url else [])


def ssoidc(server: LiveServer, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", *argv, *store_args(server)],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def approve(server: LiveServer, user_code: str, user: str = "alice", *extra: str) -> str:
    done = ssoidc(server, "device", "approve", user_code, "--user", user, *extra)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def fails(call: Any, **kw: Any) -> dict[str, Any]:
    """The error response of a call that must fail (its code, HTTP status and modelled members)."""
    with pytest.raises(ClientError) as info:
        call(**kw)
    return dict(info.value.response)


def code_of(err: dict[str, Any]) -> tuple[str, int, str]:
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err.get("error", "")


def counts(server: LiveServer) -> tuple[int, int, int, int]:
    return (
        server.count("tokens"),
        server.count("auth_codes"),
        server.count("public_clients"),
        server.count("device_codes"),
    )


def register(c: Any, **kw: Any) -> dict[str, Any]:
    kw.setdefault("clientName", f"botocore-client-{secrets.token_hex(3)}")
    kw.setdefault("clientType", "public")
    return dict(c.register_client(**kw))


def secret_of(reg: dict[str, Any]) -> dict[str, str]:
    return {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}


# -- the device flow ------------------------------------------------------------------------------------------------


def test_device_flow_pending_approved_tokens_then_refresh(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(c, scopes=["sso:account:access"])
    assert reg["clientSecretExpiresAt"] - reg["clientIdIssuedAt"] == 90 * 86400
    assert reg["tokenEndpoint"] == f"{server.url}/token"
    assert reg["authorizationEndpoint"] == f"{server.url}/authorize"
    dev = c.start_device_authorization(**secret_of(reg), startUrl=start_url)
    assert dev["expiresIn"] == 600 and dev["interval"] == 1 and len(dev["deviceCode"]) == 86
    err = fails(c.create_token, **secret_of(reg), grantType=DEVICE, deviceCode=dev["deviceCode"])
    assert code_of(err) == ("AuthorizationPendingException", 400, "authorization_pending")
    before = counts(server)
    out = approve(server, dev["userCode"])
    assert "approved for alice" in out
    log = (server.data_dir.parent / "server.log").read_text()
    for secret in (dev["userCode"], dev["deviceCode"], reg["clientSecret"]):
        assert secret not in log and secret not in out
    time.sleep(1.1)  # the interval
    tokens = c.create_token(**secret_of(reg), grantType=DEVICE, deviceCode=dev["deviceCode"])
    assert tokens["accessToken"].startswith("aoa") and tokens["refreshToken"].startswith("aor")
    assert "idToken" not in tokens and "awsAdditionalDetails" not in tokens
    assert counts(server)[0] == before[0] + 2
    time.sleep(1.1)
    err = fails(c.create_token, **secret_of(reg), grantType=DEVICE, deviceCode=dev["deviceCode"])
    assert code_of(err) == ("InvalidGrantException", 400, "invalid_grant")
    refreshed = c.create_token(
        **secret_of(reg), grantType="refresh_token", refreshToken=tokens["refreshToken"]
    )
    assert refreshed["refreshToken"] != tokens["refreshToken"]
    time.sleep(1.5)  # the servers' grace window (SSOIDC_REFRESH_GRACE_SECONDS=1)
    err = fails(
        c.create_token, **secret_of(reg), grantType="refresh_token", refreshToken=tokens["refreshToken"]
    )
    assert code_of(err)[0] == "InvalidGrantException"
    err = fails(
        c.create_token, **secret_of(reg), grantType="refresh_token", refreshToken=refreshed["refreshToken"]
    )
    assert code_of(err)[0] == "InvalidGrantException"  # reuse ended the session


def test_slow_down_denied_and_expired(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(c)
    dev = c.start_device_authorization(**secret_of(reg), startUrl=start_url)
    poll = {**secret_of(reg), "grantType": DEVICE, "deviceCode": dev["deviceCode"]}
    fails(c.create_token, **poll)
    err = fails(c.create_token, **poll)
    assert code_of(err) == ("SlowDownException", 400, "slow_down")
    approve(server, dev["userCode"], "bob", "--deny")
    time.sleep(6.1)  # the interval grew to 6 s
    err = fails(c.create_token, **poll)
    assert code_of(err) == ("AccessDeniedException", 400, "access_denied")
    assert ssoidc(server, "device", "approve", dev["userCode"], "--user", "alice").returncode == 2  # decided

    device_code = secrets.token_urlsafe(64)  # a device authorization that expired a minute ago

    async def plant(st: Store) -> None:
        now = time.time()
        await st.create_device(
            DeviceRecord(
                device_hash=hashlib.sha256(device_code.encode()).digest(),
                user_code_hash=secrets.token_bytes(32),
                client_id=reg["clientId"],
                scopes=("sso:account:access",),
                start_url=start_url,
                family_id="f",
                issued_at=now - 660,
                expires_at=now - 60,
                interval=1.0,
            )
        )

    server.with_store(plant)
    err = fails(c.create_token, **secret_of(reg), grantType=DEVICE, deviceCode=device_code)
    assert code_of(err) == ("ExpiredTokenException", 400, "expired_token")


# -- every failure path, as its modelled exception, with nothing written ------------------------------------------------


def test_register_client_refusals(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    before = counts(server)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"clientType": "confidential"}, "InvalidClientMetadataException", "invalid_client_metadata"),
        ({"redirectUris": ["javascript:alert(1)"]}, "InvalidRedirectUriException", "invalid_redirect_uri"),
        (
            {"redirectUris": ["http://evil.example.com/cb"]},
            "InvalidRedirectUriException",
            "invalid_redirect_uri",
        ),
        ({"grantTypes": ["authorization_code"]}, "InvalidRedirectUriException", "invalid_redirect_uri"),
        ({"scopes": ["bad scope"]}, "InvalidScopeException", "invalid_scope"),
        ({"grantTypes": ["password"]}, "UnsupportedGrantTypeException", "unsupported_grant_type"),
        (
            {"issuerUrl": "https://d-0000000000.awsapps.com/start"},
            "InvalidRequestException",
            "invalid_request",
        ),
        (
            {"entitledApplicationArn": "arn:aws:sso::1:application/x/y"},
            "InvalidRequestException",
            "invalid_request",
        ),
    ]
    for kw, code, error in cases:
        err = fails(c.register_client, **{"clientName": "x", "clientType": "public", **kw})
        assert code_of(err) == (code, 400, error), (kw, err)
        assert err["error_description"], err
    assert counts(server) == before
    register(c, issuerUrl=start_url, grantTypes=["authorization_code"], redirectUris=[CLI_REDIRECT])


def test_start_device_authorization_refusals(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(c)
    other = register(c)
    before = counts(server)
    for kw in (
        {"clientId": reg["clientId"], "clientSecret": other["clientSecret"]},
        {"clientId": reg["clientId"], "clientSecret": "x"},
        {"clientId": "nope", "clientSecret": reg["clientSecret"]},
    ):
        err = fails(c.start_device_authorization, **kw, startUrl=start_url)
        assert code_of(err) == ("InvalidClientException", 401, "invalid_client"), err
    err = fails(c.start_device_authorization, **secret_of(reg), startUrl="https://evil.example.com/start")
    assert code_of(err) == ("InvalidRequestException", 400, "invalid_request")
    assert counts(server) == before


def test_create_token_refusals(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(c, grantTypes=[DEVICE])
    dev = c.start_device_authorization(**secret_of(reg), startUrl=start_url)
    approve(server, dev["userCode"])
    before = counts(server)
    cases: list[tuple[dict[str, Any], str, int]] = [
        ({"grantType": "password"}, "UnsupportedGrantTypeException", 400),
        ({"grantType": "refresh_token", "refreshToken": "aorX:Y"}, "UnauthorizedClientException", 400),
        ({"grantType": DEVICE, "deviceCode": "nope"}, "InvalidGrantException", 400),
        ({"grantType": DEVICE}, "InvalidRequestException", 400),
        ({"grantType": DEVICE, "deviceCode": dev["deviceCode"], "code": "x"}, "InvalidRequestException", 400),
        (
            {"grantType": DEVICE, "deviceCode": dev["deviceCode"], "clientSecret": "x"},
            "InvalidClientException",
            401,
        ),
    ]
    for kw, code, status in cases:  # each is refused before the approved device code is polled
        err = fails(c.create_token, **{**secret_of(reg), **kw})
        assert code_of(err)[:2] == (code, status), (kw, err)
    assert counts(server) == before  # nothing issued, the approved device code not consumed
    c.create_token(**secret_of(reg), grantType=DEVICE, deviceCode=dev["deviceCode"])  # its first poll


def test_raw_http_bad_bodies_are_modelled_errors(server: LiveServer) -> None:
    before = counts(server)
    for path, body in (
        ("/token", b"{not json"),
        ("/token", b'{"clientId": "x", "grantType": "refresh_token"}'),
        ("/client/register", b'{"clientName": 5, "clientType": "public"}'),
        ("/device_authorization", b"[]"),
    ):
        resp = httpx.post(server.url + path, content=body, headers={"content-type": "application/json"})
        assert resp.status_code == 400, (path, resp.status_code, resp.text)
        assert resp.headers["x-amzn-errortype"].startswith("InvalidRequestException:")
        assert resp.json()["error"] == "invalid_request"
        assert resp.headers["cache-control"] == "no-store"
    assert counts(server) == before


# -- PKCE, approved by the operator command -----------------------------------------------------------------------------


def authorize_url(server: LiveServer, reg: dict[str, Any], verifier: str, redirect: str) -> str:
    query = {
        "response_type": "code",
        "client_id": reg["clientId"],
        "redirect_uri": redirect,
        "state": "s1",
        "code_challenge_method": "S256",
        "scopes": "sso:account:access",
        "code_challenge": s256(verifier),
    }
    return f"{server.url}/authorize?{urlencode(query)}"


def test_pkce_approved_by_the_operator_command(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(
        c,
        scopes=["sso:account:access"],
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=[CLI_REDIRECT],
        issuerUrl=start_url,
    )
    verifier = secrets.token_urlsafe(48)
    redirect = "http://127.0.0.1:51234/oauth/callback"
    url = authorize_url(server, reg, verifier, redirect)
    unregistered = authorize_url(server, reg, verifier, "http://127.0.0.1:51234/other")
    bad = ssoidc(server, "authorize", "approve", unregistered, "--user", "alice")
    assert bad.returncode == 2 and "redirect_uri" in bad.stderr
    assert ssoidc(server, "authorize", "approve", url, "--user", "nobody").returncode == 2
    denied = ssoidc(server, "authorize", "approve", url, "--user", "alice", "--deny")
    assert parse_qs(urlsplit(denied.stdout.strip()).query)["error"] == ["access_denied"]
    done = ssoidc(server, "authorize", "approve", url, "--user", "alice")
    assert done.returncode == 0, done.stderr
    location = done.stdout.strip()
    assert location.startswith(redirect + "?")
    q = parse_qs(urlsplit(location).query)
    assert q["state"] == ["s1"] and q["code"][0] not in done.stderr
    args = {
        **secret_of(reg),
        "grantType": "authorization_code",
        "code": q["code"][0],
        "redirectUri": redirect,
    }
    before = counts(server)
    assert code_of(fails(c.create_token, **args))[0] == "InvalidRequestException"  # no verifier
    assert code_of(fails(c.create_token, **args, codeVerifier="x" * 43))[0] == "InvalidGrantException"
    assert counts(server) == before
    tokens = c.create_token(**args, codeVerifier=verifier)
    assert "idToken" not in tokens and tokens["refreshToken"]


# -- races: nothing issued twice --------------------------------------------------------------------------------------


def race(server: LiveServer, **params: Any) -> list[str]:
    clients = [oidc(server) for _ in range(RACERS)]

    def call(c: Any) -> str:
        try:
            c.create_token(**params)
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(call, clients))


def test_an_approved_device_code_polled_by_30_issues_once(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(c, scopes=["sso:account:access"])
    dev = c.start_device_authorization(**secret_of(reg), startUrl=start_url)
    approve(server, dev["userCode"])
    before = counts(server)[0]
    outcomes = race(server, **secret_of(reg), grantType=DEVICE, deviceCode=dev["deviceCode"])
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "SlowDownException", "InvalidGrantException"}, outcomes
    assert counts(server)[0] == before + 2  # one access and one refresh token


def test_a_code_and_a_refresh_token_redeemed_by_30_issue_once(server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = register(
        c,
        scopes=["sso:account:access"],
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=[CLI_REDIRECT],
    )
    verifier = secrets.token_urlsafe(48)
    redirect = "http://127.0.0.1:50001/oauth/callback"
    done = ssoidc(
        server, "authorize", "approve", authorize_url(server, reg, verifier, redirect), "--user", "alice"
    )
    code = parse_qs(urlsplit(done.stdout.strip()).query)["code"][0]
    before = counts(server)[0]
    outcomes = race(
        server,
        **secret_of(reg),
        grantType="authorization_code",
        code=code,
        redirectUri=redirect,
        codeVerifier=verifier,
    )
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "InvalidGrantException"}, outcomes
    assert counts(server)[0] == before + 2
    dev_reg = register(c, scopes=["sso:account:access"])
    dev = c.start_device_authorization(**secret_of(dev_reg), startUrl=start_url)
    approve(server, dev["userCode"])
    tokens = c.create_token(**secret_of(dev_reg), grantType=DEVICE, deviceCode=dev["deviceCode"])
    before = counts(server)[0]
    outcomes = race(
        server, **secret_of(dev_reg), grantType="refresh_token", refreshToken=tokens["refreshToken"]
    )
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "InvalidGrantException"}, outcomes
    assert counts(server)[0] == before + 2
