"""The refresh-token grant alone (RFC 6749 section 6; rotation and reuse detection, RFC 9700 section 4.14.2)."""

from __future__ import annotations

import dataclasses

import pytest

from ssoidc.errors import InvalidGrant, InvalidRequest, InvalidScope
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.grants.jwt_bearer import JWT_BEARER
from ssoidc.oauth.grants.refresh_token import REFRESH_TOKEN
from ssoidc.oauth.request import TokenRequest
from tests.helpers.grants import ALICE, APP, OTHER, World

pytestmark = pytest.mark.anyio


def req(token: str | None, scope: tuple[str, ...] | None = None, app: str = APP) -> TokenRequest:
    return TokenRequest(client_id=app, grant_type=REFRESH_TOKEN.uri, refresh_token=token, scope=scope)


async def first_refresh_token(world: World, scope: tuple[str, ...] | None = None) -> str:
    jwt_req = TokenRequest(client_id=APP, grant_type=JWT_BEARER.uri, assertion=world.assertion(), scope=scope)
    result = await world.handler(JWT_BEARER).exchange(jwt_req, world.ctx(JWT_BEARER))
    assert result.refresh_token is not None
    return result.refresh_token


async def test_each_redemption_rotates_the_refresh_token(world: World) -> None:
    grant = world.handler(REFRESH_TOKEN)
    token = await first_refresh_token(world)
    second = await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    assert second.refresh_token is not None and second.refresh_token != token
    third = await grant.exchange(req(second.refresh_token), world.ctx(REFRESH_TOKEN))
    assert third.scope == second.scope


async def test_a_retry_inside_the_grace_window_is_refused_without_revoking(world: World) -> None:
    grant = world.handler(REFRESH_TOKEN)
    token = await first_refresh_token(world)
    second = await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    world.clock.advance(2)
    with pytest.raises(InvalidGrant, match="rotated moments ago"):
        await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    assert second.refresh_token is not None
    assert (await grant.exchange(req(second.refresh_token), world.ctx(REFRESH_TOKEN))).access_token


async def test_reuse_after_the_grace_window_revokes_the_family(world: World) -> None:
    grant = world.handler(REFRESH_TOKEN)
    token = await first_refresh_token(world)
    second = await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    world.clock.advance(10)
    with pytest.raises(InvalidGrant, match="reuse detection"):
        await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    assert second.refresh_token is not None
    with pytest.raises(InvalidGrant):
        await grant.exchange(req(second.refresh_token), world.ctx(REFRESH_TOKEN))


async def test_scope_may_narrow_but_not_widen(world: World) -> None:
    grant = world.handler(REFRESH_TOKEN)
    token = await first_refresh_token(world, ("openid", "aws"))
    with pytest.raises(InvalidScope, match="app:read"):
        await grant.exchange(req(token, ("app:read",)), world.ctx(REFRESH_TOKEN))
    narrowed = await grant.exchange(req(token, ("aws",)), world.ctx(REFRESH_TOKEN))
    assert narrowed.scope == ("aws",)


async def test_a_token_of_another_application_or_garbage_is_invalid(world: World) -> None:
    grant = world.handler(REFRESH_TOKEN)
    token = await first_refresh_token(world)
    world.change_app(OTHER, grants={**world.directory.applications[APP].grants})
    with pytest.raises(InvalidGrant, match=r"^Invalid refresh token provided$"):
        await grant.exchange(req(token, app=OTHER), world.ctx(REFRESH_TOKEN, OTHER))
    with pytest.raises(InvalidGrant, match=r"^Invalid refresh token provided$"):
        await grant.exchange(req("aorAAAAAGgarbage:tag"), world.ctx(REFRESH_TOKEN))
    with pytest.raises(InvalidRequest, match="refreshToken is required"):
        await grant.exchange(req(None), world.ctx(REFRESH_TOKEN))


async def test_the_session_ends_when_the_user_is_unassigned_or_removed(world: World) -> None:
    grant = world.handler(REFRESH_TOKEN)
    token = await first_refresh_token(world)
    assigned = world.directory
    config = assigned.config
    world.directory = ConfigSnapshot(dataclasses.replace(config, assignments=()), assigned.version + 1)
    with pytest.raises(InvalidGrant, match=r"^Invalid refresh token provided$"):
        await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    users = tuple(u for u in config.users if u.user_id != ALICE)
    world.directory = ConfigSnapshot(dataclasses.replace(config, users=users), assigned.version + 2)
    with pytest.raises(InvalidGrant, match=r"^Invalid refresh token provided$"):
        await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))
    world.directory = assigned  # nothing was consumed by the refusals
    assert (await grant.exchange(req(token), world.ctx(REFRESH_TOKEN))).access_token


async def test_refresh_tokens_die_with_their_session(world: World) -> None:
    token = await first_refresh_token(world)
    world.clock.advance(8 * 3600 + 1)
    with pytest.raises(InvalidGrant):
        await world.handler(REFRESH_TOKEN).exchange(req(token), world.ctx(REFRESH_TOKEN))
