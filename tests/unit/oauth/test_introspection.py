"""RFC 7662 introspection and RFC 7009 revocation, in process on the memory store (``ssoidc.oauth.introspection``):
what is active, what revocation ends, and that refusals and foreign tokens change nothing."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from ssoidc.errors import AccessDenied, InvalidClient, InvalidRequest
from ssoidc.model import Application, ConfigSnapshot, Configuration, Instance
from ssoidc.oauth.introspection import INTROSPECT_ACTION, REVOKE_ACTION, TokenIntrospection, TokenQuery
from ssoidc.oauth.request import Caller
from ssoidc.oauth.tokens import RefreshClaims, TokenMinter
from ssoidc.storage.base import TokenRecord
from ssoidc.storage.memory import MemoryStore
from tests.helpers.text import altered

pytestmark = pytest.mark.anyio

INST = "arn:aws:sso:::instance/ssoins-1111111111111111"
APP = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111"
OTHER = APP.replace("apl-1111111111111111", "apl-2222222222222222")
NOW = 1_700_000_000.0
CALLER = Caller("arn:aws:iam::123456789012:user/rs", "AKIARS")
MINTER = TokenMinter(b"m" * 32)


def snapshot() -> ConfigSnapshot:
    apps = (
        Application(APP, "app", INST),
        Application(OTHER, "other", INST),
        Application(
            APP.replace("apl-1111111111111111", "apl-3333333333333333"), "off", INST, status="DISABLED"
        ),
    )
    return ConfigSnapshot(
        Configuration(Instance(INST, "d-1111111111", "123456789012", "one"), applications=apps), 1
    )


class Harness:
    def __init__(self) -> None:
        self.store = MemoryStore(master_key=b"k" * 32)
        self.asked: list[str] = []
        self.deny = False

        def authorize(
            snap: ConfigSnapshot, app: Application, caller: Caller, now: float, action: str
        ) -> None:
            self.asked.append(action)
            if self.deny:
                raise AccessDenied("no")

        self.service = TokenIntrospection(
            store=self.store,
            minter=MINTER,
            authorize=authorize,
            issuer_url=lambda s: "https://ssoidc/ssoins-1",
        )

    async def issue(
        self, app: str = APP, *, expires: float = NOW + 3600, family: str = "f1"
    ) -> dict[str, Any]:
        access, access_hash = MINTER.mint("access")
        claims = RefreshClaims("u1", ("openid",), family, NOW - 10, NOW + 7200, NOW + 7200, NOW - 10, None)
        refresh, refresh_hash = MINTER.mint_refresh(app, claims)

        def record(h: bytes, kind: Literal["access", "refresh"], exp: float) -> TokenRecord:
            return TokenRecord(
                h, kind, family, None, app, "u1", ("openid", "aws"), NOW - 10, exp, NOW + 7200, "g"
            )

        await self.store.issue(
            [record(access_hash, "access", expires), record(refresh_hash, "refresh", NOW + 7200)]
        )
        return {"access": access, "refresh": refresh}

    async def introspect(self, token: str, app: str = APP, now: float = NOW) -> dict[str, Any]:
        return await self.service.introspect(TokenQuery(app, token), CALLER, snapshot(), now)

    async def revoke(self, token: str, app: str = APP) -> None:
        await self.service.revoke(TokenQuery(app, token), CALLER, snapshot(), NOW)


async def test_a_live_access_token_is_described() -> None:
    h = Harness()
    t = await h.issue()
    assert await h.introspect(t["access"]) == {
        "active": True,
        "scope": "openid aws",
        "client_id": APP,
        "sub": "u1",
        "exp": int(NOW + 3600),
        "iat": int(NOW - 10),
        "aud": APP,
        "iss": "https://ssoidc/ssoins-1",
        "token_type": "Bearer",
    }
    assert h.asked == [INTROSPECT_ACTION]


async def test_everything_else_is_inactive_and_nothing_more() -> None:
    h = Harness()
    t = await h.issue()
    other = await h.issue(OTHER, family="f2")
    assert await h.introspect(t["access"], now=NOW + 3600) == {"active": False}  # expired
    assert await h.introspect(t["refresh"]) == {"active": False}
    assert await h.introspect(other["access"]) == {"active": False}  # another application's
    assert await h.introspect(altered(t["access"])) == {"active": False}  # MAC fails
    assert await h.introspect("junk") == {"active": False}
    forged, _ = MINTER.mint("access")  # well formed, never stored
    assert await h.introspect(forged) == {"active": False}


async def test_revoking_an_access_token_ends_that_token_only() -> None:
    h = Harness()
    t = await h.issue()
    await h.revoke(t["access"])
    assert await h.introspect(t["access"]) == {"active": False}
    opened = MINTER.open_refresh(t["refresh"], APP)
    assert opened is not None
    kept = await h.store.find_token(opened[0])
    assert kept is not None and kept.revoked_at is None
    assert h.asked == [REVOKE_ACTION, INTROSPECT_ACTION]


async def test_revoking_a_refresh_token_ends_its_family() -> None:
    h = Harness()
    t = await h.issue()
    await h.revoke(t["refresh"])
    assert await h.introspect(t["access"]) == {"active": False}


async def test_revoking_what_is_not_the_applications_changes_nothing() -> None:
    h = Harness()
    mine, other = await h.issue(), await h.issue(OTHER, family="f2")
    for token in (other["access"], other["refresh"], "aoa-nope:x", "aor-nope:x", "junk"):
        await h.revoke(token)
    assert (await h.introspect(mine["access"]))["active"] is True
    assert (await h.introspect(other["access"], OTHER))["active"] is True


async def test_refusals_come_first_and_change_nothing() -> None:
    h = Harness()
    t = await h.issue()
    with pytest.raises(InvalidClient):
        await h.revoke(t["access"], "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-nope")
    with pytest.raises(InvalidClient):  # disabled
        await h.revoke(t["access"], APP.replace("apl-1111111111111111", "apl-3333333333333333"))
    with pytest.raises(InvalidRequest):
        await h.revoke("")
    h.deny = True
    with pytest.raises(AccessDenied):
        await h.revoke(t["access"])
    with pytest.raises(AccessDenied):
        await h.introspect(t["access"])
    h.deny = False
    assert (await h.introspect(t["access"]))["active"] is True
