"""Public clients in real Chromium (issue 14): the device flow's verification pages (``/device``: enter or confirm
the code, sign in, approve or deny on a page naming the client and the code) and ``/authorize`` for a
RegisterClient registration (PKCE, loopback redirect on any port, as ``aws sso login`` does). boto3's sso-oidc
client drives RegisterClient, StartDeviceAuthorization and CreateToken (pending, then tokens, then a refresh).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from ssoidc.oauth.pkce import s256
from tests.helpers.browser import PASSWORDS, Tab, off_loop
from tests.helpers.clients import make_client
from tests.helpers.servers import LiveServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def start_url(server: LiveServer) -> str:
    instance = off_loop(server.configuration).instance
    return f"https://{instance.identity_store_id}.awsapps.com/start"


def oidc(server: LiveServer) -> Any:
    return make_client(server, config={"signature_version": UNSIGNED})


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def sign_in(tab: Tab, user: str = "alice") -> None:
    tab.page.fill("#signin-form input[name=username]", user)
    tab.page.fill("#signin-form input[name=password]", PASSWORDS[user])
    tab.submit("#signin-submit")


def poll(c: Any, reg: dict[str, Any], device_code: str, interval: float = 1.0) -> dict[str, Any]:
    """CreateToken with the device code as RFC 8628 section 3.5 says a client polls (and the AWS CLI does): wait
    ``interval`` seconds since the last poll, and 5 s more after each slow-down. (Sleeping a fixed 1.5 s was not:
    after one too-early poll the server's interval is 6 s, and each further early poll adds 5.)"""
    for _ in range(10):
        time.sleep(interval)
        try:
            return dict(
                c.create_token(
                    clientId=reg["clientId"],
                    clientSecret=reg["clientSecret"],
                    grantType=DEVICE_GRANT,
                    deviceCode=device_code,
                )
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "SlowDownException":
                raise
            interval += 5
    raise AssertionError("still slowed down")


def test_device_flow_approved_in_chromium_then_refreshed(
    tab: Tab, server: LiveServer, start_url: str
) -> None:
    c = oidc(server)
    name = f"botocore-client-{secrets.token_hex(3)}"
    reg = c.register_client(clientName=name, clientType="public", scopes=["sso:account:access"])
    dev = c.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=start_url
    )
    assert dev["verificationUri"] == f"{server.url}/device"
    assert dev["verificationUriComplete"] == f"{server.url}/device?user_code={dev['userCode']}"
    with pytest.raises(ClientError) as pending:
        c.create_token(
            clientId=reg["clientId"],
            clientSecret=reg["clientSecret"],
            grantType=DEVICE_GRANT,
            deviceCode=dev["deviceCode"],
        )
    assert error_code(pending) == "AuthorizationPendingException"
    assert pending.value.response["error"] == "authorization_pending"

    page = tab.page
    resp = tab.goto(dev["verificationUriComplete"])
    assert resp.status == 200
    assert resp.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    expect(page.locator("#user_code")).to_have_value(dev["userCode"])
    tab.submit("#device-submit")
    expect(page.locator("#client-name")).to_have_text(name)
    expect(page.locator("#user-code")).to_have_text(dev["userCode"])
    sign_in(tab)
    expect(page.locator("#signed-in-as")).to_have_text("alice")
    expect(page.locator("#client-name")).to_have_text(name)
    expect(page.locator("#user-code")).to_have_text(dev["userCode"])
    expect(page.locator("#scopes")).to_contain_text("sso:account:access")
    tab.submit("button#allow")
    expect(page.locator("#done-title")).to_have_text("Device authorized")

    tokens = poll(c, reg, dev["deviceCode"], dev["interval"])
    assert tokens["accessToken"].startswith("aoa") and tokens["tokenType"] == "Bearer"
    assert tokens["expiresIn"] > 0
    assert "idToken" not in tokens and "awsAdditionalDetails" not in tokens
    with pytest.raises(ClientError) as used:  # single use
        poll(c, reg, dev["deviceCode"], dev["interval"])
    assert error_code(used) == "InvalidGrantException"
    refreshed = c.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType="refresh_token",
        refreshToken=tokens["refreshToken"],
    )
    assert refreshed["refreshToken"] != tokens["refreshToken"]  # rotated on every use


def test_device_flow_denied_in_chromium(tab: Tab, server: LiveServer, start_url: str) -> None:
    c = oidc(server)
    reg = c.register_client(clientName="deny-me", clientType="public")
    dev = c.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=start_url
    )
    tab.goto(f"{server.url}/device")
    tab.page.fill("#user_code", dev["userCode"].lower().replace("-", " "))  # forgiving entry
    tab.submit("#device-submit")
    sign_in(tab, "bob")
    tab.submit("button#deny")
    expect(tab.page.locator("#done-title")).to_have_text("Request denied")
    time.sleep(1.1)  # the interval, so the poll below is not a slow-down
    with pytest.raises(ClientError) as denied:
        poll(c, reg, dev["deviceCode"], dev["interval"])
    assert error_code(denied) == "AccessDeniedException"


def test_wrong_codes_get_one_generic_answer_then_a_pause(tab: Tab, server: LiveServer) -> None:
    page = tab.page
    tab.goto(f"{server.url}/device")
    statuses = []
    for _ in range(5):  # lockout_threshold (5) wrong codes from this browser
        page.fill("#user_code", "BCDF-GHJK")
        statuses.append(tab.submit("#device-submit").status)
        if statuses[-1] == 429:
            break
    assert statuses[:4] == [400] * 4, statuses
    assert statuses[-1] == 429, statuses
    expect(page.locator("#device-error")).to_contain_text("Too many wrong codes")


@pytest.fixture()
def loopback() -> Iterator[tuple[str, list[str]]]:
    """A CLI-style loopback listener: ``http://127.0.0.1:<port>/oauth/callback``, recording each query."""
    hits: list[str] = []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(urlsplit(self.path).query)
            body = b"<!doctype html><title>done</title><p id=done>done</p>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/oauth/callback", hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_pkce_authorize_in_chromium_then_create_token(
    tab: Tab, server: LiveServer, start_url: str, loopback: tuple[str, list[str]]
) -> None:
    redirect_uri, hits = loopback
    c = oidc(server)
    reg = c.register_client(  # exactly what the AWS CLI registers: the redirect URI has no port
        clientName="botocore-client-pkce",
        clientType="public",
        scopes=["sso:account:access"],
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=["http://127.0.0.1/oauth/callback"],
        issuerUrl=start_url,
    )
    verifier = secrets.token_urlsafe(48)[:64]
    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": reg["clientId"],
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge_method": "S256",
            "scopes": "sso:account:access",
            "code_challenge": s256(verifier),
        },
        quote_via=quote,
    )
    tab.goto(f"{server.url}/authorize?{query}")
    expect(tab.page.locator("#app-name")).to_have_text("botocore-client-pkce")
    sign_in(tab)
    expect(tab.page.locator("#scopes")).to_contain_text("sso:account:access")
    tab.submit("button#allow")
    expect(tab.page.locator("#done")).to_have_text("done")
    got = {k: v[0] for k, v in parse_qs(hits[-1]).items()}
    assert got["state"] == state
    args = {
        "clientId": reg["clientId"],
        "clientSecret": reg["clientSecret"],
        "grantType": "authorization_code",
        "code": got["code"],
        "redirectUri": redirect_uri,
    }
    with pytest.raises(ClientError) as wrong:  # a wrong verifier consumes nothing
        c.create_token(**args, codeVerifier=secrets.token_urlsafe(48)[:64])
    assert error_code(wrong) == "InvalidGrantException"
    tokens = c.create_token(**args, codeVerifier=verifier)
    assert tokens["accessToken"].startswith("aoa") and "idToken" not in tokens
    refreshed = c.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType="refresh_token",
        refreshToken=tokens["refreshToken"],
    )
    assert refreshed["accessToken"] != tokens["accessToken"]
