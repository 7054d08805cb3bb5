"""``ssoidc.oauth.redirect_uri``: what may be registered, exact matching, and the consent page's CSP source."""

from __future__ import annotations

import pytest

from ssoidc.admin.rules import check
from ssoidc.config.apply import resolve
from ssoidc.demo import demo_config, demo_redirect_uri
from ssoidc.oauth.redirect_uri import (
    APPLICATION,
    MAX_LENGTH,
    NATIVE,
    RedirectPolicy,
    RedirectUriError,
    form_action_source,
    registered_match,
    validate_redirect_uri,
)
from ssoidc.settings import Settings
from tests.e2e.test_redirect_uris import BAD_URIS, GOOD_URIS

MORE_BAD = [
    "",
    "/relative/cb",
    "//app.example.com/cb",
    "https://app.example.com:99999/cb",
    "https://app.example.com:/cb",
    "https://app.example.com:0/cb",
    "https://-app.example.com/cb",
    "https://app;example.com/cb",
    "https://app.example.com/%zz",
    "https://app.example.com/\u00e9",
    "https://app.example.com/cb\x7f",
    "https://app.example.com/cb\u0085",
    "http:/127.0.0.1/cb",
    "http://localhost.evil.example.com/cb",
    "http://[::1/cb",
    "about:blank",
    "filesystem:https://app.example.com/x",
    "ws://127.0.0.1/cb",
    "com.example.*:/cb",
    "com.example.app://user@host/cb",
]


@pytest.mark.parametrize("uri", [*BAD_URIS.values(), *MORE_BAD])
def test_refused(uri: str) -> None:
    with pytest.raises(RedirectUriError) as info:
        validate_redirect_uri(uri)
    assert str(info.value).startswith("A redirect URI must")


@pytest.mark.parametrize("uri", [*GOOD_URIS, "HTTPS://App.Example.com/cb", "com.example.app://cb/x?y=1"])
def test_accepted_verbatim(uri: str) -> None:
    assert validate_redirect_uri(uri) is uri


def test_length_limit_is_inclusive() -> None:
    base = "https://app.example.com/cb?x="
    assert validate_redirect_uri(base + "a" * (MAX_LENGTH - len(base)))
    with pytest.raises(RedirectUriError, match="2048"):
        validate_redirect_uri(base + "a" * (MAX_LENGTH - len(base) + 1))


def test_private_use_schemes_can_be_turned_off_per_client_type() -> None:
    with pytest.raises(RedirectUriError):
        validate_redirect_uri("com.example.app:/cb", RedirectPolicy(private_use_schemes=False))


def test_matching_is_exact_for_applications() -> None:
    registered = ["https://app.example.com/cb", "http://127.0.0.1/cb"]
    assert registered_match("https://app.example.com/cb", registered) == "https://app.example.com/cb"
    for near in ("https://app.example.com/cb/", "https://APP.example.com/cb", "http://127.0.0.1:8400/cb"):
        assert registered_match(near, registered, APPLICATION) is None


def test_native_clients_match_loopback_ip_uris_on_any_port() -> None:
    """RFC 8252 section 7.3: any port for the loopback IP literals; the rest of the URI still exact."""
    registered = ["http://127.0.0.1/cb", "http://[::1]:80/cb?x=1", "http://localhost/cb"]
    assert registered_match("http://127.0.0.1:51004/cb", registered, NATIVE) == "http://127.0.0.1:51004/cb"
    assert registered_match("http://[::1]:9/cb?x=1", registered, NATIVE) == "http://[::1]:9/cb?x=1"
    for near in ("http://127.0.0.1:51004/cb2", "http://[::1]:9/cb", "http://localhost:3000/cb"):
        assert registered_match(near, registered, NATIVE) is None


def test_a_stored_bad_uri_never_matches() -> None:
    for uri in BAD_URIS.values():
        assert registered_match(uri, [uri], APPLICATION) is None
        assert registered_match(uri, [uri], NATIVE) is None


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("https://app.example.com/cb?x=1", "https://app.example.com"),
        ("HTTPS://App.Example.com:8443/cb", "https://app.example.com:8443"),
        ("http://127.0.0.1:8400/cb", "http://127.0.0.1:8400"),
        ("http://[::1]/cb", "http://[::1]"),
        ("com.example.app:/oauth2redirect", "com.example.app:"),
    ],
)
def test_form_action_source_is_exactly_the_origin(uri: str, source: str) -> None:
    assert form_action_source(validate_redirect_uri(uri)) == source


@pytest.mark.parametrize(
    ("settings", "uri"),
    [
        (Settings(), "http://127.0.0.1:8000/demo/callback"),
        (Settings(public_url="https://sso.example.com"), "https://sso.example.com/demo/callback"),
        (Settings(host="0.0.0.0", port=8080), "http://127.0.0.1:8080/demo/callback"),
        (Settings(public_url="http://ssoidc.internal:8000"), "http://127.0.0.1:8000/demo/callback"),
    ],
)
def test_demo_mode_always_registers_a_valid_callback(settings: Settings, uri: str) -> None:
    """``serve --demo --host 0.0.0.0`` (or a plain-http public URL) must still start: the demo web application
    falls back to the loopback callback instead of a URI the rules refuse."""
    assert demo_redirect_uri(settings) == uri
    config = resolve(demo_config(settings), None, settings.account_id, now=0.0)
    check(config)
