"""`/authorize` at the HTTP level: every parameter error, where it goes (error page vs redirect), and the forms."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ssoidc.oauth.pkce import s256
from tests.helpers.clients import decode_unverified
from tests.helpers.config import REDIRECT_URI, ROOT
from tests.helpers.servers import LiveServer

PASSWORD = "alice-http-pass-1"
VERIFIER = "v" * 50


@pytest.fixture(scope="module")
def alice_password(server: LiveServer) -> str:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ssoidc",
            "users",
            "set-password",
            "alice",
            "--data-dir",
            str(server.data_dir),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=server.env,
        cwd=ROOT,
        text=True,
        check=True,
        capture_output=True,
    )
    return PASSWORD


def params(server: LiveServer, **over: Any) -> dict[str, str]:
    p = {
        "response_type": "code",
        "client_id": server.apps["web"],
        "redirect_uri": REDIRECT_URI,
        "state": "st-123",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "scope": "openid aws",
    }
    for k, v in over.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p


def get(server: LiveServer, p: dict[str, str] | str, client: httpx.Client | None = None) -> httpx.Response:
    query = p if isinstance(p, str) else urlencode(p)
    url = f"{server.url}/authorize?{query}"
    if client is None:
        return httpx.get(url, follow_redirects=False)
    return client.get(url, follow_redirects=False)


PAGE_ERRORS: dict[str, Any] = {
    "no-client-id": {"client_id": None},
    "unknown-client-id": {
        "client_id": "arn:aws:sso::123456789012:application/ssoins-e2e0000000000000/apl-AAAAAAAAAAAAAAAA"
    },
    "client-without-code-grant": "main",
    "no-redirect-uri": {"redirect_uri": None},
    "unregistered-redirect-uri": {"redirect_uri": "https://evil.example.com/callback"},
    "redirect-uri-trailing-slash": {"redirect_uri": REDIRECT_URI + "/"},
    "redirect-uri-case": {"redirect_uri": REDIRECT_URI.upper()},
    "redirect-uri-javascript": {"redirect_uri": "javascript:alert(document.domain)//"},
    "redirect-uri-other-loopback-port": {"redirect_uri": "http://127.0.0.1:8400/cb"},  # exact match only
    "redirect-uri-leading-space": {"redirect_uri": " " + REDIRECT_URI},
    "redirect-uri-10k": {
        "redirect_uri": REDIRECT_URI + "?" + "a" * 10_000
    },  # over 2,048, under the head limit
    # a state that cannot be echoed is never reflected into a Location (RFC 6749 4.1.2.1 needs it echoed)
    "state-too-long": {"state": "s" * 2049},
    "state-control-character": {"state": "st\r\nSet-Cookie: x=1"},
    "state-nul": {"state": "st\x00"},
}


@pytest.mark.parametrize("case", sorted(PAGE_ERRORS))
def test_untrusted_client_or_redirect_shows_a_page_and_never_redirects(server: LiveServer, case: str) -> None:
    over = PAGE_ERRORS[case]
    p = params(server, client_id=server.apps[over]) if isinstance(over, str) else params(server, **over)
    r = get(server, p)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert 'id="error-title"' in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "sssss" not in r.text and "Set-Cookie" not in r.text and "aaaaa" not in r.text


@pytest.mark.parametrize("client_id", ["\x00x", "pc\x00", "a" * 200])
def test_a_client_id_no_store_can_hold_is_a_page_on_both_stores(
    server: LiveServer, postgres_server: LiveServer, client_id: str
) -> None:
    """A client_id that is neither an application nor a registration id (PostgreSQL text cannot hold NUL) is the
    unknown-client page, never a storage error (500)."""
    for live in (server, postgres_server):
        r = get(live, params(live, client_id=client_id))
        assert r.status_code == 400, (live.database_url, r.text[:200])
        assert "location" not in r.headers and 'id="error-title"' in r.text


def test_a_65k_redirect_uri_never_reaches_the_page(server: LiveServer) -> None:
    """Past the 16 KiB request head (``SSOIDC_HTTP_MAX_HEADER_BYTES``) the server answers 414 URI Too Long
    (RFC 9110 section 15.5.15) before any page runs."""
    r = get(server, params(server, redirect_uri=REDIRECT_URI + "?" + "a" * 65_000))
    assert r.status_code == 414
    assert "location" not in r.headers and "aaaaa" not in r.text


def test_state_at_the_limit_is_echoed_whole(server: LiveServer) -> None:
    state = "s" * 2048
    r = get(server, params(server, state=state, response_type="token"))
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query)["state"] == [state]


def test_repeated_redirect_uri_is_a_page(server: LiveServer) -> None:
    q = urlencode(params(server)) + "&" + urlencode({"redirect_uri": REDIRECT_URI})
    r = get(server, q)
    assert r.status_code == 400
    assert "location" not in r.headers


REDIRECT_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "no-response-type": ({"response_type": None}, "invalid_request"),
    "response-type-token": ({"response_type": "token"}, "unsupported_response_type"),
    "method-without-challenge": ({"code_challenge": None}, "invalid_request"),
    "bad-method": ({"code_challenge_method": "S512"}, "invalid_request"),
    "short-challenge": ({"code_challenge": "abc"}, "invalid_request"),
    "challenge-bad-chars": ({"code_challenge": "!" * 43}, "invalid_request"),
    "unknown-scope": ({"scope": "openid admin:all"}, "invalid_scope"),
    # RFC 9700 2.1.1: S256 only; no method means plain (RFC 7636 4.3)
    "plain-method": ({"code_challenge": VERIFIER, "code_challenge_method": "plain"}, "invalid_request"),
    "challenge-without-method": ({"code_challenge_method": None}, "invalid_request"),
    "plain-challenge-without-method": (
        {"code_challenge": VERIFIER, "code_challenge_method": None},
        "invalid_request",
    ),
    "nonce-too-long": ({"nonce": "n" * 2049}, "invalid_request"),
    "nonce-control-character": ({"nonce": "n\x01"}, "invalid_request"),
    "nonce-empty": ({"nonce": ""}, "invalid_request"),
}


@pytest.mark.parametrize("case", sorted(REDIRECT_ERRORS))
def test_other_errors_redirect_with_error_and_state(server: LiveServer, case: str) -> None:
    over, error = REDIRECT_ERRORS[case]
    r = get(server, params(server, **over))
    assert r.status_code == 302
    loc = r.headers["location"]
    assert loc.startswith(REDIRECT_URI + "?")
    q = parse_qs(urlsplit(loc).query)
    assert q["error"] == [error]
    assert q["error_description"][0]
    assert q["state"] == ["st-123"]


def test_repeated_parameter_redirects_invalid_request(server: LiveServer) -> None:
    q = urlencode(params(server)) + "&response_type=code"
    r = get(server, q)
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query)["error"] == ["invalid_request"]


def test_cli_style_scopes_parameter_and_no_pkce_are_accepted(server: LiveServer) -> None:
    p = params(server, scope=None, code_challenge=None, code_challenge_method=None)
    p["scopes"] = "openid web:read"
    r = get(server, p)
    assert r.status_code == 200
    assert 'id="signin-form"' in r.text


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, name
    return m.group(1).replace("&amp;", "&")


def test_forms_need_csrf_and_the_flow_completes(server: LiveServer, alice_password: str, oidc: Any) -> None:
    nonce = "nonce-" + "x" * 40
    with httpx.Client(base_url=server.url) as c:
        page = get(server, params(server, nonce=nonce), c)
        assert page.status_code == 200
        token, request = hidden(page.text, "csrf_token"), hidden(page.text, "request")
        creds = {"request": request, "username": "alice", "password": alice_password}
        tampered = ("y" if token[0] == "x" else "x") + token[1:]  # always differs from the real token
        for bad in ({}, {"csrf_token": tampered}):
            r = c.post("/authorize/signin", data={**creds, **bad})
            assert r.status_code == 400
            assert 'id="error-title"' in r.text
            assert "ssoidc_session" not in c.cookies
        wrong = c.post("/authorize/signin", data={**creds, "csrf_token": token, "password": "nope-nope"})
        assert wrong.status_code == 401
        assert "Incorrect username or password." in wrong.text
        unknown = c.post("/authorize/signin", data={**creds, "csrf_token": token, "username": "nobody"})
        assert "Incorrect username or password." in unknown.text
        ok = c.post("/authorize/signin", data={**creds, "csrf_token": token})
        assert ok.status_code == 303
        assert "ssoidc_session" in c.cookies
        consent = c.get(ok.headers["location"])
        assert 'id="consent-form"' in consent.text
        assert consent.headers["content-security-policy"].endswith(
            "; form-action 'self' https://app.example.com"
        )
        r = c.post("/authorize/consent", data={"request": request, "decision": "allow"})
        assert r.status_code == 400
        r = c.post("/authorize/consent", data={"request": request, "decision": "allow", "csrf_token": token})
        assert r.status_code == 303
        q = parse_qs(urlsplit(r.headers["location"]).query)
        assert q["state"] == ["st-123"]
        assert len(q["code"][0]) >= 43
        tokens = oidc.create_token_with_iam(
            clientId=server.apps["web"],
            grantType="authorization_code",
            code=q["code"][0],
            redirectUri=REDIRECT_URI,
            codeVerifier=VERIFIER,
        )
        assert decode_unverified(tokens["idToken"])["nonce"] == nonce  # OIDC Core 3.1.3.6
        denied = c.post(
            "/authorize/consent", data={"request": request, "decision": "deny", "csrf_token": token}
        )
        assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
        # sign out: the session cookie stops working even if replayed
        session = c.cookies["ssoidc_session"]
        out = c.post("/signout", data={"csrf_token": token})
        assert 'id="signed-out"' in out.text
        with httpx.Client(base_url=server.url, cookies={"ssoidc_session": session}) as replay:
            assert 'id="signin-form"' in get(server, params(server), replay).text


def test_tampered_request_field_is_validated_again(server: LiveServer, alice_password: str) -> None:
    with httpx.Client(base_url=server.url) as c:
        page = get(server, params(server), c)
        token = hidden(page.text, "csrf_token")
        evil = urlencode(params(server, redirect_uri="https://evil.example.com/cb"))
        r = c.post(
            "/authorize/signin",
            data={"csrf_token": token, "request": evil, "username": "alice", "password": alice_password},
        )
        assert r.status_code == 400
        assert "location" not in r.headers


def test_demo_callback_exists_only_in_demo_mode_and_static_css(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/demo/callback?code=abc&state=s")
    assert r.status_code == 200
    assert 'id="code"' in r.text
    css = httpx.get(f"{server.url}/static/ssoidc.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_discovery_lists_only_s256(server: LiveServer) -> None:
    """RFC 9700 section 2.1.1 / RFC 8414 section 2: the server shows which PKCE methods it takes."""
    instance_id = server.instance_arn.rsplit("/", 1)[1]
    disc = httpx.get(f"{server.url}/{instance_id}/.well-known/openid-configuration").json()
    assert disc["code_challenge_methods_supported"] == ["S256"]
