"""The browser sign-in flow (``/authorize``, sign-in, consent, sign-out) in real Chromium against a live server.

Each test drives its own browser context. Codes land on ``/demo/callback`` (served in demo mode), which is
registered on the ``web`` application; they are redeemed with boto3 like any confidential client would.
"""

from __future__ import annotations

import re
import secrets
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from playwright.sync_api import Response, Route, expect

from ssoidc.oauth.pkce import s256
from tests.helpers.browser import CSRF_COOKIE, PASSWORDS, PHONE, SESSION_COOKIE, Tab, off_loop, set_password
from tests.helpers.clients import decode_unverified, make_admin_client, make_client
from tests.helpers.config import ROOT, allow_account
from tests.helpers.servers import LiveServer, start_server

SCREENSHOTS = ROOT / "docs" / "screenshots"
INCORRECT = "Incorrect username or password."
LOCKED = re.compile(r"locked", re.IGNORECASE)
UNKNOWN_CLIENT = "arn:aws:sso::123456789012:application/ssoins-e2e0000000000000/apl-0000000000000000"


# -- helpers ----------------------------------------------------------------------------------------------------


@dataclass
class Flow:
    url: str
    state: str
    verifier: str
    redirect_uri: str


def callback_uri(server: LiveServer) -> str:
    return f"{server.url}/demo/callback"


def new_flow(
    server: LiveServer, overrides: Mapping[str, str | None] | None = None, *, scope_param: str = "scope"
) -> Flow:
    """An /authorize URL (PKCE S256, fresh state); ``overrides`` replace parameters (None drops one)."""
    verifier = secrets.token_urlsafe(48)[:64]
    state = secrets.token_urlsafe(12)
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": server.apps["web"],
        "redirect_uri": callback_uri(server),
        "state": state,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        scope_param: "openid aws",
    }
    params.update(overrides or {})
    query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)
    return Flow(f"{server.url}/authorize?{query}", state, verifier, params["redirect_uri"] or "")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in(tab: Tab, user: str, password: str) -> Response:
    """Fill and submit the sign-in form; returns the response the navigation ended on."""
    page = tab.page
    page.fill("#signin-form input[name=username]", user)
    page.fill("#signin-form input[name=password]", password)
    return tab.submit("#signin-submit")


def expect_signin_page(tab: Tab) -> None:
    form = tab.page.locator("form#signin-form")
    expect(form).to_be_visible()
    expect(form.locator("input[name=password]")).to_be_visible()


def expect_consent_page(tab: Tab, user: str = "alice") -> None:
    page = tab.page
    expect(page.locator("form#consent-form")).to_be_visible()
    expect(page.locator("#signed-in-as")).to_contain_text(user)
    expect(page.locator("input[name=password]")).to_have_count(0)


def expect_error_page(tab: Tab, resp_status: int, expected: int) -> None:
    assert resp_status == expected, f"expected HTTP {expected}, got {resp_status} at {tab.page.url}"
    expect(tab.page.locator("#error-title")).to_be_visible()
    assert origin_of(tab.page.url) == tab.server.url, f"left the server: {tab.page.url}"


def no_callback(tab: Tab) -> None:
    hits = tab.requested(lambda u: urlsplit(u).path.startswith("/demo/callback"))
    assert not hits, f"the browser was sent to the callback: {hits}"


def start_flow(tab: Tab, user: str = "alice", flow: Flow | None = None) -> Flow:
    """Open /authorize and sign in, ending on the consent page."""
    flow = flow or new_flow(tab.server)
    resp = tab.goto(flow.url)
    assert resp.status == 200, resp.status
    expect_signin_page(tab)
    sign_in(tab, user, PASSWORDS[user])
    expect_consent_page(tab, user)
    return flow


def allow(tab: Tab, flow: Flow) -> str:
    """Click Allow, check the callback (URL and page) and return the code."""
    tab.submit("button#allow")
    assert tab.page.url.startswith(flow.redirect_uri + "?"), tab.page.url
    q = query_of(tab.page.url)
    assert q.get("state") == flow.state, q
    assert q.get("code"), q
    assert "error" not in q, q
    expect(tab.page.locator("#code")).to_have_text(q["code"])
    expect(tab.page.locator("#state")).to_have_text(flow.state)
    return q["code"]


def redeem(server: LiveServer, flow: Flow, code: str) -> dict[str, Any]:
    return dict(
        make_client(server).create_token_with_iam(
            clientId=server.apps["web"],
            grantType="authorization_code",
            code=code,
            redirectUri=flow.redirect_uri,
            codeVerifier=flow.verifier,
        )
    )


def tamper_csrf(tab: Tab, form: str, how: str) -> None:
    """Remove the form's hidden csrf_token, or replace its value with a different one of the same shape."""
    field = tab.page.locator(f"{form} input[name=csrf_token]")
    expect(field).to_have_count(1)
    if how == "missing":
        field.evaluate("el => el.remove()")
        expect(field).to_have_count(0)
        return
    real = field.input_value()
    assert real, "the csrf_token field is empty"
    forged = secrets.token_urlsafe(len(real))[: len(real)]
    field.evaluate("(el, v) => { el.value = v; }", forged)
    assert field.input_value() == forged != real


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- the flow ---------------------------------------------------------------------------------------------------


def test_happy_path_code_redeemed_with_pkce(tab: Tab, server: LiveServer) -> None:
    flow = new_flow(server)
    resp = tab.goto(flow.url)
    assert resp.status == 200
    page = tab.page
    form = page.locator("form#signin-form")
    expect(form).to_be_visible()
    assert (form.get_attribute("method") or "").lower() == "post"
    assert urlsplit(form.get_attribute("action") or "").path == "/authorize/signin"
    expect(form.locator("input[name=csrf_token][type=hidden]")).to_have_count(1)
    expect(form.locator("input[name=request][type=hidden]")).to_have_count(1)
    expect(form.locator("input[name=password]")).to_have_attribute("type", "password")
    expect(page.locator("body")).to_contain_text("ssoidc")
    expect(page.locator("#app-name")).to_have_text("web")
    assert tab.cookie(CSRF_COOKIE) is not None, "no ssoidc_csrf cookie on the sign-in page"

    sign_in(tab, "alice", PASSWORDS["alice"])
    expect_consent_page(tab)
    consent = page.locator("form#consent-form")
    assert (consent.get_attribute("method") or "").lower() == "post"
    assert urlsplit(consent.get_attribute("action") or "").path == "/authorize/consent"
    expect(page.locator("#app-name")).to_have_text("web")
    scopes = page.locator("#scopes li")
    expect(scopes).to_have_count(2)
    shown = " ".join(scopes.all_inner_texts())
    assert re.search(r"\bopenid\b", shown) and re.search(r"\baws\b", shown), shown
    expect(page.locator("button#allow")).to_have_attribute("value", "allow")
    expect(page.locator("button#allow")).to_have_attribute("name", "decision")
    expect(page.locator("button#deny")).to_have_attribute("value", "deny")

    code = allow(tab, flow)
    tokens = redeem(server, flow, code)
    claims = decode_unverified(str(tokens["idToken"]))
    assert claims["sub"] == server.users["alice"]
    assert claims["aud"] == server.apps["web"]
    assert set(tokens["scope"]) == {"openid", "aws"}, tokens["scope"]


def test_wrong_password_and_unknown_user_look_the_same(tab: Tab, server: LiveServer) -> None:
    tab.goto(new_flow(server).url)
    wrong = sign_in(tab, "alice", "not-alices-password")
    expect_signin_page(tab)
    expect(tab.page.locator("#signin-error")).to_have_text(INCORRECT)
    assert "not-alices-password" not in tab.page.content(), "the password was echoed back"
    assert tab.cookie(SESSION_COOKIE) is None

    unknown = sign_in(tab, "mallory", "whatever-123")
    expect_signin_page(tab)
    expect(tab.page.locator("#signin-error")).to_have_text(INCORRECT)
    assert unknown.status == wrong.status, (unknown.status, wrong.status)
    assert tab.cookie(SESSION_COOKIE) is None

    # the re-rendered form still works
    sign_in(tab, "alice", PASSWORDS["alice"])
    expect_consent_page(tab)
    assert tab.cookie(SESSION_COOKIE) is not None


def test_lockout_after_five_failures(open_tab: Callable[..., Tab], tmp_path: Path) -> None:
    server = off_loop(start_server, tmp_path)  # its own server: a lock cannot be undone
    try:
        set_password(server, "bob", PASSWORDS["bob"])
        set_password(server, "alice", PASSWORDS["alice"])
        tab = open_tab(server)
        tab.goto(new_flow(server).url)
        error = tab.page.locator("#signin-error")
        for _ in range(4):
            sign_in(tab, "bob", "wrong-password")
            expect(error).to_have_text(INCORRECT)
        sign_in(tab, "bob", "wrong-password")  # the fifth failure
        expect(error).to_be_visible()

        sign_in(tab, "bob", PASSWORDS["bob"])
        expect_signin_page(tab)
        expect(error).to_have_text(LOCKED)
        assert tab.cookie(SESSION_COOKIE) is None

        # the lock is per user, and four failures do not lock
        for _ in range(4):
            sign_in(tab, "alice", "wrong-password")
            expect(error).to_have_text(INCORRECT)
        sign_in(tab, "alice", PASSWORDS["alice"])
        expect_consent_page(tab)
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["missing", "wrong"])
def test_signin_csrf(tab: Tab, server: LiveServer, how: str) -> None:
    flow = new_flow(server)
    tab.goto(flow.url)
    tab.page.fill("#signin-form input[name=username]", "alice")
    tab.page.fill("#signin-form input[name=password]", PASSWORDS["alice"])
    tamper_csrf(tab, "#signin-form", how)
    resp = tab.submit("#signin-submit")
    expect_error_page(tab, resp.status, 400)
    assert tab.cookie(SESSION_COOKIE) is None
    # nothing happened: still signed out
    tab.goto(flow.url)
    expect_signin_page(tab)


@pytest.mark.parametrize("how", ["missing", "wrong"])
def test_consent_csrf(tab: Tab, server: LiveServer, how: str) -> None:
    start_flow(tab)
    codes = server.count("auth_codes")
    tamper_csrf(tab, "#consent-form", how)
    resp = tab.submit("button#allow")
    expect_error_page(tab, resp.status, 400)
    no_callback(tab)
    assert server.count("auth_codes") == codes, "a code was issued"


@pytest.mark.parametrize(
    "case", ["foreign-port", "foreign-port-and-bad-response-type", "trailing-slash", "unknown-client"]
)
def test_bad_client_or_redirect_uri_is_not_redirected_to(tab: Tab, server: LiveServer, case: str) -> None:
    evil = "http://127.0.0.1:9/evil"
    cases: dict[str, dict[str, str | None]] = {
        "foreign-port": {"redirect_uri": evil},
        "foreign-port-and-bad-response-type": {"redirect_uri": evil, "response_type": "token"},
        "trailing-slash": {"redirect_uri": callback_uri(server) + "/"},
        "unknown-client": {"client_id": UNKNOWN_CLIENT},
    }
    resp = tab.goto(new_flow(server, cases[case]).url)
    tab.page.wait_for_timeout(300)  # time for a meta refresh or a scripted redirect, had there been one
    expect_error_page(tab, resp.status, 400)
    assert urlsplit(tab.page.url).path == "/authorize"
    foreign = tab.requested(lambda u: origin_of(u) != server.url)
    assert not foreign, f"requests off the server origin: {foreign}"
    no_callback(tab)
    expect(tab.page.locator("input[name=password]")).to_have_count(0)


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "S512"}, "invalid_request"),
        ({"scope": "openid bogus:scope"}, "invalid_scope"),
    ],
    ids=["response_type", "code_challenge_method", "scope"],
)
def test_parameter_errors_go_back_to_the_client(
    tab: Tab, server: LiveServer, override: dict[str, str], error: str
) -> None:
    flow = new_flow(server, override)
    tab.goto(flow.url)
    assert tab.page.url.startswith(flow.redirect_uri + "?"), tab.page.url
    q = query_of(tab.page.url)
    assert q.get("error") == error, q
    assert q.get("error_description"), q
    assert q.get("state") == flow.state, q
    assert "code" not in q, q


def test_unassigned_user_gets_an_access_page(tab: Tab, server: LiveServer) -> None:
    codes = server.count("auth_codes")
    tab.goto(new_flow(server).url)
    resp = sign_in(tab, "carol", PASSWORDS["carol"])
    expect_error_page(tab, resp.status, 403)
    expect(tab.page.locator("body")).to_contain_text(re.compile(r"\bweb\b"))
    expect(tab.page.locator("button#allow")).to_have_count(0)
    no_callback(tab)
    assert server.count("auth_codes") == codes, "a code was issued"


def test_session_is_reused(tab: Tab, server: LiveServer) -> None:
    first = start_flow(tab)
    code1 = allow(tab, first)
    cookie = tab.cookie(SESSION_COOKIE)
    assert cookie is not None

    second = new_flow(server, scope_param="scopes")  # the AWS CLI's spelling
    resp = tab.goto(second.url)
    assert resp.status == 200
    expect_consent_page(tab)
    shown = " ".join(tab.page.locator("#scopes li").all_inner_texts())
    assert re.search(r"\bopenid\b", shown) and re.search(r"\baws\b", shown), shown
    code2 = allow(tab, second)
    assert code2 != code1
    claims = decode_unverified(str(redeem(server, second, code2)["idToken"]))
    assert claims["sub"] == server.users["alice"]


def test_signout(tab: Tab, server: LiveServer, open_tab: Callable[..., Tab]) -> None:
    flow = start_flow(tab)
    old = tab.cookie(SESSION_COOKIE)
    assert old is not None
    signout = tab.page.locator("form#signout-form")
    assert (signout.get_attribute("method") or "").lower() == "post"
    assert urlsplit(signout.get_attribute("action") or "").path == "/signout"
    tab.submit("#signout")
    expect(tab.page.locator("#signed-out")).to_be_visible()
    after = tab.cookie(SESSION_COOKIE)
    assert after is None or not after.get("value"), f"session cookie still set: {after}"

    tab.goto(flow.url)
    expect_signin_page(tab)

    # the old session is dead on the server too, not only forgotten by this browser
    other = open_tab(server)
    other.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": old.get("value", ""), "url": server.url, "httpOnly": True}]
    )
    other.goto(new_flow(server).url)
    expect_signin_page(other)


def test_deny(tab: Tab, server: LiveServer) -> None:
    flow = start_flow(tab)
    codes = server.count("auth_codes")
    tab.submit("button#deny")
    assert tab.page.url.startswith(flow.redirect_uri + "?"), tab.page.url
    q = query_of(tab.page.url)
    assert q.get("error") == "access_denied", q
    assert q.get("state") == flow.state, q
    assert "code" not in q, q
    assert server.count("auth_codes") == codes, "a code was issued"


# -- accessibility, headers, screenshots ------------------------------------------------------------------------


def test_signin_accessibility_and_phone_layout(
    open_tab: Callable[..., Tab], server: LiveServer, passwords: dict[str, str]
) -> None:
    tab = open_tab(server, viewport=PHONE)
    page = tab.page
    tab.goto(new_flow(server).url)
    username = page.get_by_label("Username", exact=True)
    password = page.get_by_label("Password", exact=True)
    expect(username).to_have_attribute("name", "username")
    expect(password).to_have_attribute("name", "password")

    def focused() -> str:
        return str(page.evaluate("() => document.activeElement.id || document.activeElement.name || ''"))

    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll at 375 px: scrollWidth {width}"
    for field in (username, password, page.locator("#signin-submit")):
        box = field.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box

    # sign in with the keyboard only
    username.focus()
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    assert focused() == "password"
    page.keyboard.type(PASSWORDS["alice"])
    page.keyboard.press("Tab")
    assert focused() == "signin-submit"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect_consent_page(tab)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"consent page scrolls horizontally at 375 px: scrollWidth {width}"


def csp_directives(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name.lower()] = value.strip()
    return out


def check_security_headers(headers: dict[str, str], where: str) -> None:
    csp = headers.get("content-security-policy")
    assert csp, f"no Content-Security-Policy on the {where} page"
    directives = csp_directives(csp)
    assert directives.get("default-src") == "'none'", f"{where}: {csp}"
    assert "'unsafe-inline'" not in directives.get("script-src", ""), f"{where}: {csp}"
    assert "frame-ancestors" in directives or headers.get("x-frame-options", "").upper() in (
        "DENY",
        "SAMEORIGIN",
    ), f"{where}: framing is not restricted: {headers}"


def test_security_headers_and_cookie_flags(tab: Tab, server: LiveServer) -> None:
    resp = tab.goto(new_flow(server).url)
    check_security_headers(resp.all_headers(), "sign-in")
    expect_signin_page(tab)

    consent = sign_in(tab, "alice", PASSWORDS["alice"])
    expect_consent_page(tab)
    check_security_headers(consent.all_headers(), "consent")

    cookie = tab.cookie(SESSION_COOKIE)
    assert cookie is not None, tab.context.cookies()
    assert cookie.get("httpOnly") is True, cookie
    assert cookie.get("sameSite") == "Lax", cookie
    assert cookie.get("secure") is False, cookie  # plain http on loopback
    # the pages load nothing from elsewhere, and nothing on them was refused by their own policy
    foreign = tab.requested(lambda u: origin_of(u) != server.url)
    assert not foreign, foreign
    assert not tab.csp_violations, tab.csp_violations


def test_screenshots(tab: Tab, server: LiveServer) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.time() - 1
    page = tab.page
    tab.goto(new_flow(server).url)
    expect_signin_page(tab)
    signin = SCREENSHOTS / "signin.png"
    page.screenshot(path=str(signin), full_page=True)
    sign_in(tab, "alice", PASSWORDS["alice"])
    expect_consent_page(tab)
    consent = SCREENSHOTS / "consent.png"
    page.screenshot(path=str(consent), full_page=True)
    for shot in (signin, consent):
        assert shot.stat().st_mtime >= started, f"{shot} was not rewritten"
        width, height = png_size(shot)
        assert width == 1280 and height >= 800, (shot, width, height)


# -- redirect URIs, PKCE, nonce, state (issue 13 items 5, 7, 11) --------------------------------------------------

CUSTOM_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"


@dataclass
class CallbackApp:
    """An application registered through sso-admin whose redirect URI is a real page on another origin
    (127.0.0.1 on another port), so the consent page's form-action must name that origin."""

    arn: str
    redirect_uri: str
    hits: list[str]


@pytest.fixture()
def callback_app(server: LiveServer) -> Iterator[CallbackApp]:
    hits: list[str] = []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"<!doctype html><title>client</title><p id='client-callback'>back at the client</p>"
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{httpd.server_address[1]}/cb"
    sso = make_admin_client(server, "sso-admin")
    arn = str(
        sso.create_application(
            InstanceArn=server.instance_arn,
            ApplicationProviderArn=CUSTOM_PROVIDER,
            Name=f"browser-cb-{secrets.token_hex(4)}",
        )["ApplicationArn"]
    )
    try:
        sso.put_application_grant(
            ApplicationArn=arn,
            GrantType="authorization_code",
            Grant={"AuthorizationCode": {"RedirectUris": [redirect_uri]}},
        )
        sso.put_application_authentication_method(
            ApplicationArn=arn,
            AuthenticationMethodType="IAM",
            AuthenticationMethod={"Iam": {"ActorPolicy": allow_account()}},
        )
        sso.put_application_assignment_configuration(ApplicationArn=arn, AssignmentRequired=False)
        yield CallbackApp(arn, redirect_uri, hits)
    finally:
        sso.delete_application(ApplicationArn=arn)
        httpd.shutdown()
        httpd.server_close()


def callback_flow(server: LiveServer, app: CallbackApp, **over: str | None) -> Flow:
    return new_flow(server, {"client_id": app.arn, "redirect_uri": app.redirect_uri, **over})


def test_consent_form_action_names_only_the_redirect_origin_and_the_code_gets_there_with_its_nonce(
    tab: Tab, server: LiveServer, callback_app: CallbackApp
) -> None:
    """Chromium applies form-action to the redirect after the consent POST, so the policy must list the redirect
    URI's origin, and nothing else; the idToken of the code carries the request's nonce (OIDC Core 3.1.3.6)."""
    nonce = secrets.token_urlsafe(16)
    flow = callback_flow(server, callback_app, nonce=nonce)
    tab.goto(flow.url)
    consent = sign_in(tab, "alice", PASSWORDS["alice"])
    expect_consent_page(tab)
    directives = csp_directives(consent.all_headers()["content-security-policy"])
    assert directives["form-action"] == f"'self' {origin_of(callback_app.redirect_uri)}", directives
    tab.submit("button#allow")
    expect(tab.page.locator("#client-callback")).to_be_visible()
    q = query_of(tab.page.url)
    assert tab.page.url.startswith(callback_app.redirect_uri + "?") and q["state"] == flow.state, tab.page.url
    assert not tab.csp_violations, tab.csp_violations
    tokens = make_client(server).create_token_with_iam(
        clientId=callback_app.arn,
        grantType="authorization_code",
        code=q["code"],
        redirectUri=callback_app.redirect_uri,
        codeVerifier=flow.verifier,
    )
    assert decode_unverified(str(tokens["idToken"]))["nonce"] == nonce


def test_without_the_redirect_origin_in_form_action_chromium_blocks_the_approval(
    tab: Tab, server: LiveServer, callback_app: CallbackApp
) -> None:
    """The control for the test above: the same consent page with ``form-action 'self'`` only (rewritten in the
    browser) never reaches the client, so the origin in the policy is what lets the approval through."""

    def self_only(route: Route) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": "default-src 'none'; form-action 'self'"}
        route.fulfill(response=response, headers=headers)

    flow = callback_flow(server, callback_app)
    start_flow(tab, flow=flow)  # signed in; the consent page is served again below, rewritten
    tab.page.route(re.compile(r".*/authorize\?.*"), self_only)  # (Playwright does not route redirects)
    consent = tab.goto(flow.url)
    expect_consent_page(tab)
    assert consent.all_headers()["content-security-policy"].endswith("form-action 'self'")
    with tab.page.expect_console_message(lambda m: "form-action" in m.text):
        tab.page.click("button#allow")
    assert not callback_app.hits, callback_app.hits


@pytest.mark.parametrize(
    "override",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"nonce": "n" * 2049},
        {"nonce": "bad\u0001nonce"},
    ],
    ids=["plain-pkce", "no-challenge-method", "nonce-too-long", "nonce-control-character"],
)
def test_pkce_and_nonce_errors_go_back_to_the_client(
    tab: Tab, server: LiveServer, override: dict[str, str | None]
) -> None:
    codes = server.count("auth_codes")
    flow = new_flow(server, override)
    tab.goto(flow.url)
    assert tab.page.url.startswith(flow.redirect_uri + "?"), tab.page.url
    q = query_of(tab.page.url)
    assert (q.get("error"), q.get("state")) == ("invalid_request", flow.state), q
    assert "code" not in q, q
    assert server.count("auth_codes") == codes


@pytest.mark.parametrize(
    "override",
    [
        {"state": "s" * 2049},
        {"state": "st\r\nLocation: http://127.0.0.1:9/evil"},
        {"state": "s" * 2049, "response_type": "token"},
        {"redirect_uri": "javascript:alert(document.domain)//"},
        {"redirect_uri": " javascript:alert(1)"},
    ],
    ids=[
        "state-too-long",
        "state-crlf",
        "state-too-long-and-bad-response-type",
        "javascript",
        "space-javascript",
    ],
)
def test_unechoable_state_or_bad_redirect_uri_is_a_page(
    tab: Tab, server: LiveServer, override: dict[str, str | None]
) -> None:
    resp = tab.goto(new_flow(server, override).url)
    tab.page.wait_for_timeout(300)  # time for a meta refresh or a scripted redirect, had there been one
    expect_error_page(tab, resp.status, 400)
    assert "location" not in resp.headers
    assert "sssss" not in tab.page.content() and "evil" not in tab.page.content()
    no_callback(tab)
