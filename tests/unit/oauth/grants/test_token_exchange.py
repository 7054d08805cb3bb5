"""The token-exchange grant alone (RFC 8693): the subject token, its AuthorizedTargets, token types, the
assignment gate at the target, and what carries over (scopes, act, expiry)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from ssoidc.errors import AccessDenied, InvalidGrant, InvalidRequest
from ssoidc.model import GRANT_REFRESH_TOKEN, TOKEN_TYPE_ACCESS, TOKEN_TYPE_REFRESH, ConfigSnapshot
from ssoidc.oauth.grants.jwt_bearer import JWT_BEARER
from ssoidc.oauth.grants.refresh_token import REFRESH_TOKEN
from ssoidc.oauth.grants.token_exchange import TOKEN_EXCHANGE
from ssoidc.oauth.request import TokenRequest, TokenResult
from tests.helpers.grants import APP, OTHER, World

pytestmark = pytest.mark.anyio


def req(subject: str | None, **kw: str | None) -> TokenRequest:
    kw.setdefault("subject_token_type", TOKEN_TYPE_ACCESS)
    return TokenRequest(client_id=APP, grant_type=TOKEN_EXCHANGE.uri, subject_token=subject, **kw)  # type: ignore[arg-type]


async def subject(
    world: World, app: str = OTHER, who: str = "alice@example.com", scope: tuple[str, ...] | None = None
) -> TokenResult:
    jwt_req = TokenRequest(
        client_id=app, grant_type=JWT_BEARER.uri, assertion=world.assertion(who), scope=scope
    )
    return await world.handler(JWT_BEARER).exchange(jwt_req, world.ctx(JWT_BEARER, app))


async def test_an_authorized_subject_token_yields_an_access_token_that_never_outlives_it(
    world: World,
) -> None:
    sub = await subject(world)
    world.clock.advance(600)
    result = await world.handler(TOKEN_EXCHANGE).exchange(req(sub.access_token), world.ctx(TOKEN_EXCHANGE))
    assert result.refresh_token is None  # access_token is the default requestedTokenType
    assert result.issued_token_type == TOKEN_TYPE_ACCESS
    assert result.expires_in == 3600 - 600  # capped by the subject token's expiry
    assert result.scope == ("sts:identity_context", "openid", "aws")  # other:* is not APP's to grant


async def test_a_refresh_token_is_issued_when_requested_and_the_target_has_the_refresh_grant(
    world: World,
) -> None:
    grant = world.handler(TOKEN_EXCHANGE)
    sub = await subject(world)
    result = await grant.exchange(
        req(sub.access_token, requested_token_type=TOKEN_TYPE_REFRESH), world.ctx(TOKEN_EXCHANGE)
    )
    assert result.refresh_token is not None
    grants = dict(world.directory.applications[APP].grants)
    del grants[GRANT_REFRESH_TOKEN]
    world.change_app(grants=grants)
    with pytest.raises(InvalidRequest, match="no RefreshToken grant"):
        await grant.exchange(
            req(sub.access_token, requested_token_type=TOKEN_TYPE_REFRESH), world.ctx(TOKEN_EXCHANGE)
        )


async def test_token_types_are_checked(world: World) -> None:
    grant = world.handler(TOKEN_EXCHANGE)
    sub = await subject(world)
    with pytest.raises(InvalidRequest, match="subjectTokenType is required"):
        await grant.exchange(req(sub.access_token, subject_token_type=None), world.ctx(TOKEN_EXCHANGE))
    with pytest.raises(InvalidRequest, match="Unsupported subjectTokenType"):
        await grant.exchange(req(sub.access_token, subject_token_type="urn:x"), world.ctx(TOKEN_EXCHANGE))
    with pytest.raises(InvalidRequest, match="Unsupported requestedTokenType"):
        await grant.exchange(req(sub.access_token, requested_token_type="urn:x"), world.ctx(TOKEN_EXCHANGE))
    with pytest.raises(InvalidRequest, match="subjectToken is required"):
        await grant.exchange(req(None), world.ctx(TOKEN_EXCHANGE))


async def test_the_subject_must_be_another_applications_live_token(world: World) -> None:
    grant = world.handler(TOKEN_EXCHANGE)
    own = await subject(world, APP)
    with pytest.raises(InvalidGrant, match="same application"):
        await grant.exchange(req(own.access_token), world.ctx(TOKEN_EXCHANGE))
    with pytest.raises(InvalidGrant, match=r"^Invalid subject token provided$"):
        await grant.exchange(req("aoa-not-a-token"), world.ctx(TOKEN_EXCHANGE))
    sub = await subject(world)
    world.clock.advance(3601)
    with pytest.raises(InvalidGrant, match=r"^Invalid subject token provided$"):
        await grant.exchange(req(sub.access_token), world.ctx(TOKEN_EXCHANGE))


async def test_the_subject_needs_a_scope_that_targets_this_application(world: World) -> None:
    sub = await subject(world, scope=("openid", "other:private"))
    with pytest.raises(InvalidRequest, match="AuthorizedTargets"):
        await world.handler(TOKEN_EXCHANGE).exchange(req(sub.access_token), world.ctx(TOKEN_EXCHANGE))


async def test_the_target_applications_assignment_gate_applies(world: World) -> None:
    sub = await subject(world, who="bob@example.com")  # OTHER does not require assignment; APP does
    with pytest.raises(AccessDenied, match="not assigned"):
        await world.handler(TOKEN_EXCHANGE).exchange(req(sub.access_token), world.ctx(TOKEN_EXCHANGE))


async def test_an_exchanged_session_ends_when_the_issuer_behind_its_subject_goes(world: World) -> None:
    """The chain is walked: target <- OTHER (exchanged from) <- the trusted token issuer (authorized on OTHER)."""
    sub = await subject(world)
    exchanged = await world.handler(TOKEN_EXCHANGE).exchange(
        req(sub.access_token, requested_token_type=TOKEN_TYPE_REFRESH), world.ctx(TOKEN_EXCHANGE)
    )
    assert exchanged.refresh_token is not None

    def refresh(token: str) -> TokenRequest:
        return TokenRequest(client_id=APP, grant_type=REFRESH_TOKEN.uri, refresh_token=token)

    again = await world.handler(REFRESH_TOKEN).exchange(
        refresh(exchanged.refresh_token), world.ctx(REFRESH_TOKEN)
    )
    assert again.refresh_token is not None
    world.change_app(OTHER, grants={})  # the issuer is no longer authorized where the assertion was redeemed
    with pytest.raises(InvalidGrant, match="trusted token issuer"):
        await world.handler(REFRESH_TOKEN).exchange(refresh(again.refresh_token), world.ctx(REFRESH_TOKEN))
    record = await world.store.find_token(hashlib.sha256(sub.access_token.encode()).digest())
    assert (
        record is not None and record.revoked_at is not None
    )  # the family, the subject token included, is revoked


async def test_an_exchanged_session_ends_when_its_source_application_is_deleted(world: World) -> None:
    sub = await subject(world)
    exchanged = await world.handler(TOKEN_EXCHANGE).exchange(
        req(sub.access_token, requested_token_type=TOKEN_TYPE_REFRESH), world.ctx(TOKEN_EXCHANGE)
    )
    assert exchanged.refresh_token is not None
    config = world.directory.config
    world.directory = ConfigSnapshot(
        dataclasses.replace(config, applications=tuple(a for a in config.applications if a.arn != OTHER)), 9
    )
    with pytest.raises(InvalidGrant, match="no longer exists"):
        await world.handler(REFRESH_TOKEN).exchange(
            TokenRequest(client_id=APP, grant_type=REFRESH_TOKEN.uri, refresh_token=exchanged.refresh_token),
            world.ctx(REFRESH_TOKEN),
        )
