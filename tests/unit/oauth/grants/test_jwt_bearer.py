"""The JWT-bearer grant alone (RFC 7523 section 2.1 / 3): issuer match, signature, audience, user match, the
assignment gate, scopes and jti replay, each decided by the handler with a frozen clock."""

from __future__ import annotations

import pytest

from ssoidc.errors import AccessDenied, InvalidGrant, InvalidRequest, InvalidScope
from ssoidc.model import AuthorizedTokenIssuer, JwtBearerGrantConfig
from ssoidc.oauth.grants.jwt_bearer import JWT_BEARER
from ssoidc.oauth.request import TokenRequest
from tests.helpers.grants import APP, AUDIENCE, DEFAULT_SCOPES, OTHER, TTI, World

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


async def test_our_own_issuer_is_refused_even_when_configured(world: World) -> None:
    """Defence in depth (self-trust): the admin API and ``ssoidc apply`` refuse such an issuer; a configuration
    that has one anyway (written to the store directly, or the public URL changed since) is still refused."""
    own = "https://ssoidc.test/ssoins-1111111111111111"
    for spelling in (
        own,
        "https://SSOIDC.test:443/ssoins-1111111111111111/",
        "https://ssoidc.test/ssoins-2222222222222222",
    ):
        world.change_issuer(issuer_url=spelling)
        with pytest.raises(InvalidGrant, match="own idToken issuer"):
            await world.handler(JWT_BEARER).exchange(
                req(world.assertion(iss=spelling)), world.ctx(JWT_BEARER)
            )


@pytest.mark.parametrize("verified", [False, None, "true", 1])
async def test_an_unverified_email_is_refused_unless_the_issuer_opts_out(
    world: World, verified: object
) -> None:
    grant = world.handler(JWT_BEARER)
    assertion = world.assertion(email_verified=verified)
    with pytest.raises(InvalidGrant, match="email_verified"):
        await grant.exchange(req(assertion), world.ctx(JWT_BEARER))
    world.change_issuer(accept_unverified_email=True)  # AcceptUnverifiedEmail: true in the file
    assert (
        await grant.exchange(req(assertion), world.ctx(JWT_BEARER))
    ).access_token  # jti not consumed before


async def test_an_email_claim_mapped_to_user_names_needs_verification_too(world: World) -> None:
    world.change_issuer(identity_store_attribute_path="userName")
    grant = world.handler(JWT_BEARER)
    with pytest.raises(InvalidGrant, match="email_verified"):
        await grant.exchange(req(world.assertion("alice", email_verified=None)), world.ctx(JWT_BEARER))
    assert (await grant.exchange(req(world.assertion("alice")), world.ctx(JWT_BEARER))).access_token
    world.change_issuer(claim_attribute_path="sub", identity_store_attribute_path="userName")
    assert (
        await grant.exchange(req(world.assertion("alice", email_verified=None)), world.ctx(JWT_BEARER))
    ).access_token


async def test_an_audience_list_must_hold_only_authorized_audiences(world: World) -> None:
    grant = world.handler(JWT_BEARER)
    with pytest.raises(InvalidGrant, match="besides the AuthorizedAudiences"):
        await grant.exchange(req(world.assertion(aud=[AUDIENCE, "other"])), world.ctx(JWT_BEARER))
    assert (await grant.exchange(req(world.assertion(aud=[AUDIENCE])), world.ctx(JWT_BEARER))).access_token
