"""The JWT-bearer grant alone (RFC 7523 section 2.1 / 3): issuer match, signature, audience, user match, the
assignment gate, scopes and jti replay, each decided by the handler with a frozen clock."""

from __future__ import annotations

import pytest

from ssoidc.errors import AccessDenied, InvalidGrant, InvalidRequest, InvalidScope
from ssoidc.model import AuthorizedTokenIssuer, JwtBearerGrantConfig
from ssoidc.oauth.grants.jwt_bearer import JWT_BEARER
from ssoidc.oauth.request import TokenRequest
from tests.helpers.grants import APP, DEFAULT_SCOPES, OTHER, TTI, World

pytestmark = pytest.mark.anyio


def req(assertion: str | None, scope: tuple[str, ...] | None = None) -> TokenRequest:
    return TokenRequest(client_id=APP, grant_type=JWT_BEARER.uri, assertion=assertion, scope=scope)


async def test_a_valid_assertion_yields_every_grantable_scope_and_records_the_issuer(world: World) -> None:
    result = await world.handler(JWT_BEARER).exchange(req(world.assertion()), world.ctx(JWT_BEARER))
    assert result.scope == ("sts:identity_context", "app:read", "openid", "aws")
    assert result.refresh_token is not None  # the application has the RefreshToken grant
    assert result.expires_in == 3600


async def test_scope_narrows_and_cannot_widen(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    narrowed = await grant.exchange(req(world.assertion(), ("openid",)), world.ctx(JWT_BEARER))
    assert narrowed.scope == ("openid",)
    with pytest.raises(InvalidScope, match="other:read"):
        await grant.exchange(req(world.assertion(), ("other:read",)), world.ctx(JWT_BEARER))


async def test_the_same_jti_is_redeemed_once(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    assertion = world.assertion()
    await grant.exchange(req(assertion), world.ctx(JWT_BEARER))
    with pytest.raises(InvalidGrant, match="already been used"):
        await grant.exchange(req(assertion), world.ctx(JWT_BEARER))


async def test_a_failed_request_consumes_no_jti(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    assertion = world.assertion()
    with pytest.raises(InvalidScope):
        await grant.exchange(req(assertion, ("nope",)), world.ctx(JWT_BEARER))
    assert (await grant.exchange(req(assertion), world.ctx(JWT_BEARER))).access_token


async def test_the_issuer_must_be_one_the_grant_authorizes(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    with pytest.raises(InvalidGrant, match=r"issuer \(iss\)"):
        await grant.exchange(req(world.assertion(iss="https://other.example.com")), world.ctx(JWT_BEARER))
    world.change_app(
        grants={JWT_BEARER.uri: JwtBearerGrantConfig((AuthorizedTokenIssuer("arn:none", ("x",)),))}
    )
    with pytest.raises(InvalidGrant, match=r"issuer \(iss\)"):
        await grant.exchange(req(world.assertion()), world.ctx(JWT_BEARER))


async def test_audience_expiry_and_user_are_checked(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    with pytest.raises(InvalidGrant, match=r"audience \(aud\)"):
        await grant.exchange(req(world.assertion(aud="someone-else")), world.ctx(JWT_BEARER))
    expired = world.assertion()
    world.clock.advance(300 + 61)  # exp plus the leeway
    with pytest.raises(InvalidGrant):
        await grant.exchange(req(expired), world.ctx(JWT_BEARER))
    with pytest.raises(InvalidGrant, match="No user"):
        await grant.exchange(req(world.assertion("nobody@example.com")), world.ctx(JWT_BEARER))
    with pytest.raises(InvalidGrant, match="no string claim"):
        await grant.exchange(req(world.assertion(email=None)), world.ctx(JWT_BEARER))


async def test_a_bad_signature_is_invalid_grant(world: World) -> None:
    token = world.assertion()
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    with pytest.raises(InvalidGrant):
        await world.handler(JWT_BEARER).exchange(req(forged), world.ctx(JWT_BEARER))


async def test_an_unassigned_user_is_access_denied_unless_assignment_is_not_required(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    with pytest.raises(AccessDenied, match="not assigned"):
        await grant.exchange(req(world.assertion("bob@example.com")), world.ctx(JWT_BEARER))
    world.change_app(assignment_required=False)
    assert (await grant.exchange(req(world.assertion("bob@example.com")), world.ctx(JWT_BEARER))).access_token


async def test_assertion_is_required(world: World) -> None:
    with pytest.raises(InvalidRequest, match="assertion is required"):
        await world.handler(JWT_BEARER).exchange(req(None), world.ctx(JWT_BEARER))


async def test_an_application_without_refresh_grant_gets_no_refresh_token(world: World) -> None:
    result = await world.handler(JWT_BEARER).exchange(req(world.assertion()), world.ctx(JWT_BEARER, OTHER))
    assert result.refresh_token is None
    assert set(result.scope) == {"other:read", "other:private", *DEFAULT_SCOPES}
    assert TTI  # the issuer every assertion here names
