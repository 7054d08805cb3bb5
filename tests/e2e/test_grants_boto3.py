"""Refresh rotation, token exchange and authorization-code redemption through boto3 against a live server."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ssoidc.errors import InvalidRequest
from tests.helpers.clients import decode_unverified, make_client, race
from tests.helpers.config import ACCESS_TYPE, JWT_BEARER, REDIRECT_URI, REFRESH_TYPE, TOKEN_EXCHANGE
from tests.helpers.servers import LiveServer, both_stores


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    """Every grant test runs against both stores (issue: PostgreSQL and many nodes)."""
    return both_stores(request)


def jwt_tokens(server: LiveServer, oidc: Any, email: str = "alice@example.com", **kw: Any) -> dict[str, Any]:
    return dict(
        oidc.create_token_with_iam(
            clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion(email), **kw
        )
    )


def refresh(server: LiveServer, oidc: Any, token: str, app: str = "main", **kw: Any) -> dict[str, Any]:
    return dict(
        oidc.create_token_with_iam(
            clientId=server.apps[app], grantType="refresh_token", refreshToken=token, **kw
        )
    )


def exchange(server: LiveServer, oidc: Any, subject: str, app: str = "target", **kw: Any) -> dict[str, Any]:
    kw.setdefault("subjectTokenType", ACCESS_TYPE)
    return dict(
        oidc.create_token_with_iam(
            clientId=server.apps[app], grantType=TOKEN_EXCHANGE, subjectToken=subject, **kw
        )
    )


def redeem(server: LiveServer, oidc: Any, code: str, app: str = "web", **kw: Any) -> dict[str, Any]:
    kw.setdefault("redirectUri", REDIRECT_URI)
    return dict(
        oidc.create_token_with_iam(clientId=server.apps[app], grantType="authorization_code", code=code, **kw)
    )


def error_of(call: Callable[[], Any]) -> tuple[str, dict[str, Any]]:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return type(info.value).__name__, dict(info.value.response)


def verifier() -> str:
    return secrets.token_urlsafe(48)[:64]


# -- the whole chain --------------------------------------------------------------------------------------------


def test_jwt_bearer_then_refresh_twice_then_exchange(server: LiveServer, oidc: Any) -> None:
    first = jwt_tokens(server, oidc)
    second = refresh(server, oidc, first["refreshToken"])
    third = refresh(server, oidc, second["refreshToken"])
    assert len({first["refreshToken"], second["refreshToken"], third["refreshToken"]}) == 3
    assert len({first["accessToken"], second["accessToken"], third["accessToken"]}) == 3
    for resp in (second, third):
        assert resp["issuedTokenType"] == REFRESH_TYPE
        assert resp["scope"] == first["scope"]
        claims = decode_unverified(resp["idToken"])
        assert claims["sub"] == server.users["alice"]
        assert claims["act"]["sub"].startswith("arn:aws:sso::123456789012:trustedTokenIssuer/")
    # the retired refresh tokens no longer work
    code, _ = error_of(lambda: refresh(server, oidc, second["refreshToken"]))
    assert code == "InvalidGrantException"

    as_access = exchange(server, oidc, third["accessToken"])
    assert as_access["issuedTokenType"] == ACCESS_TYPE
    assert "refreshToken" not in as_access
    assert as_access["scope"] == ["sts:identity_context", "openid", "aws"]
    claims = decode_unverified(as_access["idToken"])
    assert claims["sub"] == server.users["alice"]
    assert claims["aud"] == server.apps["target"]
    assert claims["act"]["sub"] == server.apps["main"]
    assert claims["act"]["act"]["sub"].startswith("arn:aws:sso::123456789012:trustedTokenIssuer/")
    subject_exp = decode_unverified(third["idToken"])["exp"]
    assert claims["exp"] <= subject_exp

    as_refresh = exchange(server, oidc, third["accessToken"], requestedTokenType=REFRESH_TYPE)
    assert as_refresh["issuedTokenType"] == REFRESH_TYPE
    assert as_refresh["refreshToken"].startswith("aor")
    rotated = refresh(server, oidc, as_refresh["refreshToken"], app="target")
    assert rotated["refreshToken"] != as_refresh["refreshToken"]


def test_refresh_narrows_scope_and_never_widens(server: LiveServer, oidc: Any) -> None:
    first = jwt_tokens(server, oidc)
    narrow = refresh(server, oidc, first["refreshToken"], scope=["openid", "data:read"])
    assert narrow["scope"] == ["openid", "data:read"]
    code, resp = error_of(
        lambda: refresh(server, oidc, narrow["refreshToken"], scope=["openid", "data:write"])
    )
    assert code == "InvalidScopeException"
    assert "data:write" in resp["error_description"]
    assert refresh(server, oidc, narrow["refreshToken"])["scope"] == ["openid", "data:read"]  # not consumed


@pytest.mark.parametrize(
    "bad",
    ["aorNotOurs:xyz", "", "x" * 300, "aoaAccessTokenInstead:xx"],
)
def test_bad_refresh_tokens_are_invalid_grant(server: LiveServer, oidc: Any, bad: str) -> None:
    if bad == "":
        code, _ = error_of(lambda: refresh(server, oidc, bad))
        assert code == "InvalidRequestException"
        return
    code, resp = error_of(lambda: refresh(server, oidc, bad))
    assert code == "InvalidGrantException"
    assert resp["error_description"] == "Invalid refresh token provided"


def test_access_token_is_not_a_refresh_token(server: LiveServer, oidc: Any) -> None:
    first = jwt_tokens(server, oidc)
    code, _ = error_of(lambda: refresh(server, oidc, first["accessToken"]))
    assert code == "InvalidGrantException"
    refresh(server, oidc, first["refreshToken"])  # still valid


def test_another_applications_refresh_token_is_invalid_grant(server: LiveServer, oidc: Any) -> None:
    code_resp = redeem(server, oidc, server.mint_code())
    code, resp = error_of(lambda: refresh(server, oidc, code_resp["refreshToken"], app="main"))
    assert code == "InvalidGrantException"
    assert resp["error_description"] == "Invalid refresh token provided"
    refresh(server, oidc, code_resp["refreshToken"], app="web")  # not consumed


def test_reuse_inside_grace_is_refused_without_revoking(server: LiveServer, oidc: Any) -> None:
    first = jwt_tokens(server, oidc)
    second = refresh(server, oidc, first["refreshToken"])
    code, resp = error_of(lambda: refresh(server, oidc, first["refreshToken"]))
    assert code == "InvalidGrantException"
    assert "rotated moments ago" in resp["error_description"]
    third = refresh(server, oidc, second["refreshToken"])  # family intact
    assert exchange(server, oidc, third["accessToken"])["accessToken"]


def test_reuse_outside_grace_revokes_the_family(server: LiveServer, oidc: Any) -> None:
    first = jwt_tokens(server, oidc)
    second = refresh(server, oidc, first["refreshToken"])
    third = refresh(server, oidc, second["refreshToken"])
    exchanged = exchange(server, oidc, third["accessToken"], requestedTokenType=REFRESH_TYPE)
    time.sleep(1.3)  # the test server's grace window is 1 s
    code, resp = error_of(lambda: refresh(server, oidc, first["refreshToken"]))
    assert code == "InvalidGrantException"
    assert "revoked" in resp["error_description"]
    # every token descended from the original grant is dead now
    code, _ = error_of(lambda: exchange(server, oidc, third["accessToken"]))
    assert code == "InvalidGrantException"
    code, _ = error_of(lambda: refresh(server, oidc, third["refreshToken"]))
    assert code == "InvalidGrantException"
    code, _ = error_of(lambda: refresh(server, oidc, exchanged["refreshToken"], app="target"))
    assert code == "InvalidGrantException"
    # another session of the same user is unaffected
    other = jwt_tokens(server, oidc)
    assert refresh(server, oidc, other["refreshToken"])["accessToken"]


def test_fifty_parallel_refreshes_yield_exactly_one(server: LiveServer) -> None:
    first = jwt_tokens(server, make_client(server))
    results = race(
        server, clientId=server.apps["main"], grantType="refresh_token", refreshToken=first["refreshToken"]
    )
    assert results.count("ok") == 1
    assert results.count("InvalidGrantException") == 49


# -- token exchange ---------------------------------------------------------------------------------------------


def test_exchange_failures(server: LiveServer, oidc: Any) -> None:
    tokens = jwt_tokens(server, oidc)
    subject = tokens["accessToken"]
    before = server.count("tokens")
    cases: list[tuple[Callable[[], Any], str, str]] = [
        (lambda: exchange(server, oidc, subject, app="main"), "InvalidGrantException", "same application"),
        (lambda: exchange(server, oidc, "aoaGarbage:zz"), "InvalidGrantException", "Invalid subject token"),
        (
            lambda: exchange(server, oidc, tokens["refreshToken"]),
            "InvalidGrantException",
            "Invalid subject token",
        ),
        (
            lambda: exchange(server, oidc, subject, subjectTokenType=REFRESH_TYPE),
            "InvalidRequestException",
            "subjectTokenType",
        ),
        (
            lambda: oidc.create_token_with_iam(
                clientId=server.apps["target"], grantType=TOKEN_EXCHANGE, subjectToken=subject
            ),
            "InvalidRequestException",
            "subjectTokenType",
        ),
        (
            lambda: exchange(server, oidc, subject, requestedTokenType="urn:x"),
            "InvalidRequestException",
            "requestedTokenType",
        ),
        (
            lambda: exchange(server, oidc, subject, app="target-no-refresh", requestedTokenType=REFRESH_TYPE),
            "InvalidRequestException",
            "RefreshToken grant",
        ),
        (
            lambda: exchange(server, oidc, subject, scope=["data:write"]),
            "InvalidScopeException",
            "data:write",
        ),
    ]
    for call, want, needle in cases:
        code, resp = error_of(call)
        assert code == want, (want, resp["error_description"])
        assert needle in resp["error_description"]
    assert server.count("tokens") == before
    assert exchange(server, oidc, subject, app="target-no-refresh")["accessToken"]  # nothing consumed


def test_subject_without_authorizing_scope_is_invalid_request(server: LiveServer, oidc: Any) -> None:
    narrowed = jwt_tokens(server, oidc, scope=["openid", "aws"])
    code, resp = error_of(lambda: exchange(server, oidc, narrowed["accessToken"]))
    assert code == "InvalidRequestException"
    assert "AuthorizedTargets" in resp["error_description"]


def test_instance_wide_target_authorizes_every_application(server: LiveServer, oidc: Any) -> None:
    web = redeem(server, oidc, server.mint_code())
    assert "web:read" in web["scope"]
    assert exchange(server, oidc, web["accessToken"], app="target")["accessToken"]
    assert exchange(server, oidc, web["accessToken"], app="target-no-refresh")["accessToken"]


# -- authorization code -----------------------------------------------------------------------------------------


def test_code_with_pkce(server: LiveServer, oidc: Any) -> None:
    v = verifier()
    resp = redeem(server, oidc, server.mint_code(verifier=v), codeVerifier=v)
    assert resp["refreshToken"].startswith("aor")
    claims = decode_unverified(resp["idToken"])
    assert claims["sub"] == server.users["alice"]
    assert claims["aud"] == server.apps["web"]
    assert "act" not in claims
    assert "nonce" not in claims  # the request sent none


def test_nonce_is_returned_in_the_code_idtoken_only(server: LiveServer, oidc: Any) -> None:
    """OIDC Core 3.1.3.6: the idToken of the code carries the authorization request's nonce; 12.2: a refreshed
    idToken does not."""
    nonce = "n-" + secrets.token_urlsafe(24)
    resp = redeem(server, oidc, server.mint_code(nonce=nonce))
    assert decode_unverified(resp["idToken"])["nonce"] == nonce
    refreshed = refresh(server, oidc, resp["refreshToken"], app="web")
    assert "nonce" not in decode_unverified(refreshed["idToken"])


def test_plain_pkce_and_bad_nonce_codes_cannot_be_minted(server: LiveServer) -> None:
    """RFC 9700 section 2.1.1: the domain refuses a plain challenge (and no method), and a bad nonce, too, not
    only /authorize."""
    before = server.count("auth_codes")
    for method in ("plain", ""):
        with pytest.raises(InvalidRequest, match="S256"):
            server.mint_code(verifier=verifier(), method=method)
    for nonce in ("", "n" * 2049, "n\x00", "n\u0085"):  # OIDC Core 3.1.2.1 nonce, capped and clean
        with pytest.raises(InvalidRequest, match="nonce"):
            server.mint_code(nonce=nonce)
    assert server.count("auth_codes") == before


def test_code_bindings_are_checked_before_consuming(server: LiveServer, oidc: Any) -> None:
    v = verifier()
    code = server.mint_code(verifier=v)
    before = server.count("tokens")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"codeVerifier": verifier()}, "InvalidGrantException", "does not match the PKCE"),
        ({}, "InvalidGrantException", "codeVerifier is required"),
        ({"codeVerifier": v, "redirectUri": REDIRECT_URI + "/"}, "InvalidGrantException", "redirectUri"),
        ({"codeVerifier": v, "redirectUri": "http://127.0.0.1/cb"}, "InvalidGrantException", "redirectUri"),
        ({"codeVerifier": "short"}, "InvalidGrantException", "PKCE"),
        ({"codeVerifier": v, "scope": ["admin"]}, "InvalidScopeException", "admin"),
    ]
    for kw, want, needle in cases:
        got, resp = error_of(lambda kw=kw: redeem(server, oidc, code, **kw))  # type: ignore[misc]
        assert got == want, resp["error_description"]
        assert needle in resp["error_description"]
    wrong_app, _ = error_of(lambda: redeem(server, oidc, code, app="main", codeVerifier=v))
    assert wrong_app == "UnauthorizedClientException"
    assert server.count("tokens") == before
    assert redeem(server, oidc, code, codeVerifier=v)["accessToken"]  # still redeemable


def test_code_replay_revokes_what_it_issued(server: LiveServer, oidc: Any) -> None:
    code = server.mint_code()
    first = redeem(server, oidc, code)
    got, resp = error_of(lambda: redeem(server, oidc, code))
    assert got == "InvalidGrantException"
    assert "already redeemed" in resp["error_description"]
    got, _ = error_of(lambda: refresh(server, oidc, first["refreshToken"], app="web"))
    assert got == "InvalidGrantException"
    got, _ = error_of(lambda: exchange(server, oidc, first["accessToken"]))
    assert got == "InvalidGrantException"


def test_expired_and_unknown_codes(server: LiveServer, oidc: Any) -> None:
    got, resp = error_of(lambda: redeem(server, oidc, server.mint_code(issued_ago=400)))
    assert got == "InvalidGrantException"
    assert "expired" in resp["error_description"]
    got, _ = error_of(lambda: redeem(server, oidc, "no-such-code"))
    assert got == "InvalidGrantException"
    got, _ = error_of(  # redirectUri is required for this grant
        lambda: oidc.create_token_with_iam(
            clientId=server.apps["web"], grantType="authorization_code", code="x"
        )
    )
    assert got == "InvalidRequestException"


def test_verifier_sent_for_code_without_challenge(server: LiveServer, oidc: Any) -> None:
    code = server.mint_code()
    got, _ = error_of(lambda: redeem(server, oidc, code, codeVerifier=verifier()))
    assert got == "InvalidGrantException"
    assert redeem(server, oidc, code)["accessToken"]


def test_fifty_parallel_code_redemptions_yield_exactly_one(server: LiveServer) -> None:
    v = verifier()
    code = server.mint_code(verifier=v)
    results = race(
        server,
        clientId=server.apps["web"],
        grantType="authorization_code",
        code=code,
        redirectUri=REDIRECT_URI,
        codeVerifier=v,
    )
    assert results.count("ok") == 1
    assert results.count("InvalidGrantException") == 49


def test_a_member_the_grant_does_not_take_is_refused_by_name(server: LiveServer, oidc: Any) -> None:
    """docs/behaviour.md: a CreateTokenWithIAM member "used only" by another grant type is InvalidRequest naming it,
    and nothing is redeemed (the refresh token still works afterwards)."""
    first = jwt_tokens(server, oidc)
    got, resp = error_of(lambda: refresh(server, oidc, first["refreshToken"], code="some-code"))
    assert got == "InvalidRequestException"
    assert resp["error_description"].startswith("code is not a parameter of the refresh_token grant")
    got, resp = error_of(lambda: jwt_tokens(server, oidc, subjectToken=first["accessToken"]))
    assert got == "InvalidRequestException"
    assert "subjectToken is not a parameter" in resp["error_description"]
    got, resp = error_of(lambda: redeem(server, oidc, server.mint_code(), refreshToken=first["refreshToken"]))
    assert got == "InvalidRequestException"
    assert "refreshToken is not a parameter of the authorization_code grant" in resp["error_description"]
    # every member a grant declares is accepted, scope included
    assert refresh(server, oidc, first["refreshToken"], scope=["openid"])["scope"] == ["openid"]
