"""The authorization-code grant alone, redemption side (RFC 6749 section 4.1.3, PKCE RFC 7636 section 4.6)."""

from __future__ import annotations

import pytest

from ssoidc.errors import InvalidGrant, InvalidRequest
from ssoidc.oauth.authorize import CodeIssuer
from ssoidc.oauth.grants.authorization_code import AUTHORIZATION_CODE
from ssoidc.oauth.pkce import s256
from ssoidc.oauth.request import TokenRequest
from tests.helpers.grants import ALICE, APP, BOB, DEFAULT_SCOPES, REDIRECT, World

pytestmark = pytest.mark.anyio
VERIFIER = "v" * 43


async def mint(world: World, user: str = ALICE, *, pkce: bool = True, scopes: list[str] | None = None) -> str:
    issuer = CodeIssuer(store=world.store, code_ttl=300, session_ttl=8 * 3600, default_scopes=DEFAULT_SCOPES)
    return await issuer.issue_code(
        world.directory,
        application_arn=APP,
        user_id=user,
        redirect_uri=REDIRECT,
        scopes=scopes,
        code_challenge=s256(VERIFIER) if pkce else None,
        code_challenge_method="S256" if pkce else None,
        now=world.clock.now(),
    )


def req(code: str | None, redirect: str | None = REDIRECT, verifier: str | None = VERIFIER) -> TokenRequest:
    return TokenRequest(
        client_id=APP,
        grant_type=AUTHORIZATION_CODE.uri,
        code=code,
        redirect_uri=redirect,
        code_verifier=verifier,
    )


async def test_a_code_is_redeemed_once_and_a_second_redemption_is_refused(world: World) -> None:
    grant = world.handler(AUTHORIZATION_CODE)
    code = await mint(world, scopes=["openid", "app:read"])
    result = await grant.exchange(req(code), world.ctx(AUTHORIZATION_CODE))
    assert result.scope == ("openid", "app:read")
    assert result.refresh_token is not None
    with pytest.raises(InvalidGrant, match="already redeemed"):
        await grant.exchange(req(code), world.ctx(AUTHORIZATION_CODE))


async def test_every_binding_is_checked_before_the_code_is_consumed(world: World) -> None:
    grant = world.handler(AUTHORIZATION_CODE)
    code = await mint(world)
    with pytest.raises(InvalidGrant, match="redirectUri does not match"):
        await grant.exchange(req(code, redirect="https://evil.example.com/cb"), world.ctx(AUTHORIZATION_CODE))
    with pytest.raises(InvalidGrant, match="codeVerifier is required"):
        await grant.exchange(req(code, verifier=None), world.ctx(AUTHORIZATION_CODE))
    with pytest.raises(InvalidGrant, match="does not match the PKCE"):
        await grant.exchange(req(code, verifier="w" * 43), world.ctx(AUTHORIZATION_CODE))
    assert (await grant.exchange(req(code), world.ctx(AUTHORIZATION_CODE))).access_token


async def test_a_verifier_for_a_code_without_challenge_is_refused(world: World) -> None:
    code = await mint(world, pkce=False)
    grant = world.handler(AUTHORIZATION_CODE)
    with pytest.raises(InvalidGrant, match="without a PKCE challenge"):
        await grant.exchange(req(code), world.ctx(AUTHORIZATION_CODE))
    assert (await grant.exchange(req(code, verifier=None), world.ctx(AUTHORIZATION_CODE))).access_token


async def test_expired_unknown_and_missing_codes(world: World) -> None:
    grant = world.handler(AUTHORIZATION_CODE)
    code = await mint(world)
    world.clock.advance(301)
    with pytest.raises(InvalidGrant, match="expired"):
        await grant.exchange(req(code), world.ctx(AUTHORIZATION_CODE))
    with pytest.raises(InvalidGrant, match=r"^Invalid authorization code provided$"):
        await grant.exchange(req("no-such-code"), world.ctx(AUTHORIZATION_CODE))
    with pytest.raises(InvalidRequest, match="code is required"):
        await grant.exchange(req(None), world.ctx(AUTHORIZATION_CODE))
    with pytest.raises(InvalidRequest, match="redirectUri is required"):
        await grant.exchange(req("x", redirect=None), world.ctx(AUTHORIZATION_CODE))


async def test_a_user_unassigned_since_the_code_was_issued_gets_invalid_grant(world: World) -> None:
    world.change_app(assignment_required=False)
    code = await mint(world, BOB)
    world.change_app(assignment_required=True)
    with pytest.raises(InvalidGrant, match=r"^Invalid authorization code provided$"):
        await world.handler(AUTHORIZATION_CODE).exchange(req(code), world.ctx(AUTHORIZATION_CODE))
