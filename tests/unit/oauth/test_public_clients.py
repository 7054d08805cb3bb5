"""The public-client operations in process, on the memory store and a frozen clock (issue 14): RegisterClient
validation, client authentication, StartDeviceAuthorization, every CreateToken outcome of the device-code,
authorization-code (PKCE) and refresh-token grants, and that a refused request issues and consumes nothing.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from ssoidc.clock import FrozenClock
from ssoidc.compose import Services
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidClient,
    InvalidClientMetadata,
    InvalidGrant,
    InvalidRedirectUri,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    SlowDown,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.authorize import AuthorizeError
from ssoidc.oauth.clients import GRANT_DEVICE_CODE, REGISTRATION_TTL, Registered, RegisterRequest
from ssoidc.oauth.device import USER_CODE_ALPHABET, normalize_user_code
from ssoidc.oauth.pkce import s256
from ssoidc.oauth.request import PublicTokenRequest, TokenResult
from ssoidc.oauth.start_url import default_start_url, is_start_url
from ssoidc.settings import Settings
from ssoidc.storage.memory import MemoryData
from tests.helpers.inprocess import memory_services
from tests.helpers.text import altered

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
CONFIG = {
    "Instance": {"Name": "public"},
    "Users": [
        {"UserName": "alice", "Emails": [{"Value": "alice@example.com"}]},
        {"UserName": "bob", "Emails": [{"Value": "bob@example.com"}]},
    ],
}
CLI_REDIRECT = "http://127.0.0.1/oauth/callback"


@dataclass
class World:
    node: Services
    data: MemoryData
    clock: FrozenClock
    users: dict[str, str]
    start_url: str

    async def register(self, **kw: Any) -> Registered:
        kw.setdefault("client_name", "botocore-client-test")
        kw.setdefault("client_type", "public")
        return await self.node.public.register_client(RegisterRequest(**kw))

    async def token(self, reg: Registered, grant_type: str, **kw: Any) -> TokenResult:
        return await self.node.public.create_token(
            PublicTokenRequest(
                client_id=reg.client.client_id,
                client_secret=reg.client_secret,
                grant_type=grant_type,
                **kw,
            )
        )

    def counts(self) -> tuple[int, int, int, int]:
        """(tokens, codes, registrations, device authorizations) stored."""
        d = self.data
        return len(d.tokens), len(d.codes), len(d.clients), len(d.devices)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FrozenClock(NOW)
    data = MemoryData()
    node = await memory_services(Settings(data_dir=tmp_path / "node"), clock, data)
    try:
        config = await apply_to_store(node.store, parse_file(yaml.safe_dump(CONFIG)), "123456789012", NOW)
        await node.snapshot.refresh()
        users = {u.user_name: u.user_id for u in config.users}
        yield World(node, data, clock, users, default_start_url(config.instance.identity_store_id))
    finally:
        await node.close()


async def device_flow(w: World, reg: Registered, user: str = "alice") -> tuple[str, str]:
    started = await w.node.public.start_device_authorization(
        reg.client.client_id, reg.client_secret, w.start_url
    )
    decided = await w.node.public.devices.decide(
        started.user_code, approve=True, user_id=w.users[user], auth_time=NOW, now=w.clock.now(), via="test"
    )
    assert decided is not None
    return started.device_code, started.user_code


# -- RegisterClient ------------------------------------------------------------------------------------------------


async def test_a_registration_is_stored_without_its_secret_for_90_days(world: World) -> None:
    reg = await world.register(scopes=("sso:account:access",))
    c = reg.client
    assert c.created_at == NOW and c.expires_at == NOW + REGISTRATION_TTL == NOW + 90 * 86400
    stored = world.data.clients[c.client_id]
    assert stored == c
    assert reg.client_secret not in repr(world.data.clients)
    assert await world.node.public.registry.authenticate(c.client_id, reg.client_secret, NOW) == c


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"client_type": "confidential"}, InvalidClientMetadata),
        ({"client_name": ""}, InvalidClientMetadata),
        ({"client_name": "x" * 257}, InvalidClientMetadata),
        ({"client_name": "bad\nname"}, InvalidClientMetadata),
        ({"scopes": ("not a scope",)}, InvalidScope),
        ({"scopes": tuple(f"s:{i}" for i in range(26))}, InvalidScope),
        ({"grant_types": ("password",)}, UnsupportedGrantType),
        ({"grant_types": ("urn:ietf:params:oauth:grant-type:jwt-bearer",)}, UnsupportedGrantType),
        ({"grant_types": ("authorization_code",)}, InvalidRedirectUri),  # no redirect URI
        ({"redirect_uris": ("javascript:alert(1)",)}, InvalidRedirectUri),
        ({"redirect_uris": ("data:text/html,x",)}, InvalidRedirectUri),
        ({"redirect_uris": ("http://example.com/cb",)}, InvalidRedirectUri),
        ({"redirect_uris": ("https://example.com/cb#frag",)}, InvalidRedirectUri),
        ({"redirect_uris": ("https://*.example.com/cb",)}, InvalidRedirectUri),
        ({"redirect_uris": tuple(f"https://e.example.com/{i}" for i in range(11))}, InvalidRedirectUri),
        ({"issuer_url": "https://evil.example.com/start"}, InvalidRequest),
        (
            {"entitled_application_arn": "arn:aws:sso::123456789012:application/ssoins-x/apl-x"},
            InvalidRequest,
        ),
    ],
)
async def test_a_bad_registration_is_refused_and_stores_nothing(
    world: World, kw: dict[str, Any], error: type[OAuthError]
) -> None:
    with pytest.raises(error):
        await world.register(**kw)
    assert world.counts() == (0, 0, 0, 0)


async def test_the_cli_registrations_are_accepted(world: World) -> None:
    pkce = await world.register(
        scopes=("sso:account:access",),
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(CLI_REDIRECT,),
        issuer_url=world.start_url,
    )
    assert pkce.client.grant_types == ("authorization_code", "refresh_token")
    device = await world.register()  # the legacy device flow: name and type only
    assert device.client.grant_types is None and device.client.scopes == ()
    for uri in ("https://app.example.com/cb", "http://[::1]:8080/cb", "com.example.app:/callback"):
        await world.register(redirect_uris=(uri,))


def test_start_urls() -> None:
    ok = dict(identity_store_id="d-1234567890", base_url="https://sso.example.com")
    assert default_start_url("d-1234567890") == "https://d-1234567890.awsapps.com/start"
    for url in (
        "https://d-1234567890.awsapps.com/start",
        "https://D-1234567890.AWSAPPS.com/start/",
        "https://d-1234567890.awsapps.com/start#/",
        "https://sso.example.com/start",
    ):
        assert is_start_url(url, **ok), url
    for url in (
        "https://d-0000000000.awsapps.com/start",
        "http://d-1234567890.awsapps.com/start",
        "https://d-1234567890.awsapps.com/start?x=1",
        "https://user@d-1234567890.awsapps.com/start",
        "https://d-1234567890.awsapps.com/other",
        "",
        "x" * 2000,
    ):
        assert not is_start_url(url, **ok), url


# -- client authentication -----------------------------------------------------------------------------------------


async def test_a_wrong_forged_foreign_or_expired_secret_is_invalid_client(world: World) -> None:
    a = await world.register()
    b = await world.register()
    registry = world.node.public.registry
    cid = a.client.client_id
    for secret in ("", "x", b.client_secret, altered(a.client_secret, 2), "é" * 10, "A" * 5000):
        with pytest.raises(InvalidClient):
            await registry.authenticate(cid, secret, NOW)
    with pytest.raises(InvalidClient):
        await registry.authenticate("unknown", a.client_secret, NOW)
    with pytest.raises(InvalidClient, match="expired"):
        await registry.authenticate(cid, a.client_secret, NOW + REGISTRATION_TTL)
    del world.data.clients[cid]  # purged: its secret no longer opens anything
    with pytest.raises(InvalidClient):
        await registry.authenticate(cid, a.client_secret, NOW)


async def test_start_device_authorization_checks_the_client_and_the_start_url(world: World) -> None:
    reg = await world.register()
    public = world.node.public
    with pytest.raises(InvalidClient):
        await public.start_device_authorization(reg.client.client_id, "nope", world.start_url)
    with pytest.raises(InvalidRequest, match="startUrl"):
        await public.start_device_authorization(
            reg.client.client_id, reg.client_secret, "https://d-0000000000.awsapps.com/start"
        )
    assert world.counts()[3] == 0
    started = await public.start_device_authorization(
        reg.client.client_id, reg.client_secret, world.start_url
    )
    assert len(started.device_code) == 86 and started.expires_in == 600 and started.interval == 1
    code = normalize_user_code(started.user_code)
    assert code is not None and started.user_code == f"{code[:4]}-{code[4:]}"
    assert set(code) <= set(USER_CODE_ALPHABET)
    stored = next(iter(world.data.devices.values()))
    raw = repr(stored).encode()
    assert started.device_code.encode() not in raw and code.encode() not in raw  # only hashes stored
    assert normalize_user_code(started.user_code.lower().replace("-", " ")) == code
    for bad in ("", "AAAA-AAAA", "BCDF-GHJ", "BCDF-GHJKL", "B" * 40):
        assert normalize_user_code(bad) is None


# -- CreateToken: device code ----------------------------------------------------------------------------------------


async def test_the_device_code_grant_polls_then_issues_once(world: World) -> None:
    reg = await world.register(scopes=("sso:account:access",))
    public = world.node.public
    started = await public.start_device_authorization(
        reg.client.client_id, reg.client_secret, world.start_url
    )
    dc = started.device_code
    with pytest.raises(AuthorizationPending, match="Authorization is still pending"):
        await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    with pytest.raises(SlowDown, match="wait 6 seconds"):  # polled again at once: +5 s (RFC 8628 3.5)
        await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    world.clock.advance(2)
    with pytest.raises(SlowDown, match="wait 11 seconds"):
        await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    world.clock.advance(11)
    with pytest.raises(AuthorizationPending):
        await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    assert world.counts()[0] == 0
    await public.devices.decide(
        started.user_code,
        approve=True,
        user_id=world.users["alice"],
        auth_time=NOW,
        now=world.clock.now(),
        via="t",
    )
    world.clock.advance(11)
    result = await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    assert result.id_token is None and result.identity_context == ""
    assert result.scope == ("sso:account:access",) and result.refresh_token is not None
    assert result.expires_in == 3600
    issued = world.counts()[0]
    world.clock.advance(11)
    with pytest.raises(InvalidGrant, match="Invalid device code"):
        await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    assert world.counts()[0] == issued
    record = next(t for t in world.data.tokens.values())
    assert "client:" + reg.client.client_id in repr(record.row)


async def test_a_device_code_expires_is_denied_or_is_not_yours(world: World) -> None:
    reg = await world.register()
    other = await world.register()
    public = world.node.public
    started = await public.start_device_authorization(
        reg.client.client_id, reg.client_secret, world.start_url
    )
    with pytest.raises(InvalidGrant):  # another client's device code
        await world.token(other, GRANT_DEVICE_CODE, device_code=started.device_code)
    flipped = started.device_code[:-1] + ("B" if started.device_code.endswith("A") else "A")  # one char off
    for bad in ("x", flipped, "A" * 600):
        with pytest.raises(InvalidGrant):
            await world.token(reg, GRANT_DEVICE_CODE, device_code=bad)
    with pytest.raises(InvalidRequest, match="deviceCode"):
        await world.token(reg, GRANT_DEVICE_CODE)
    denied = await public.start_device_authorization(reg.client.client_id, reg.client_secret, world.start_url)
    await public.devices.decide(
        denied.user_code, approve=False, user_id=world.users["bob"], auth_time=NOW, now=NOW, via="t"
    )
    with pytest.raises(AccessDenied, match="denied"):
        await world.token(reg, GRANT_DEVICE_CODE, device_code=denied.device_code)
    world.clock.advance(600)
    with pytest.raises(ExpiredToken):
        await world.token(reg, GRANT_DEVICE_CODE, device_code=started.device_code)
    late = await public.devices.decide(
        started.user_code,
        approve=True,
        user_id=world.users["alice"],
        auth_time=NOW,
        now=world.clock.now(),
        via="t",
    )
    assert late is None  # an expired code cannot be approved
    assert world.counts()[0] == 0


async def test_a_registration_without_scopes_gets_no_refresh_token(world: World) -> None:
    reg = await world.register()
    dc, _ = await device_flow(world, reg)
    result = await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    assert result.refresh_token is None and result.scope == ("sso:account:access",)
    with pytest.raises(UnauthorizedClient):
        await world.token(reg, "refresh_token", refresh_token="aorX:Y")


async def test_grant_checks_before_any_grant_runs(world: World) -> None:
    reg = await world.register(grant_types=("urn:ietf:params:oauth:grant-type:device_code",))
    with pytest.raises(UnsupportedGrantType):
        await world.token(reg, "password")
    with pytest.raises(UnsupportedGrantType):
        await world.token(reg, "urn:ietf:params:oauth:grant-type:jwt-bearer")
    with pytest.raises(UnauthorizedClient):
        await world.token(reg, "authorization_code", code="c", redirect_uri=CLI_REDIRECT, code_verifier="v")
    with pytest.raises(InvalidRequest, match="code is not a parameter"):
        await world.token(reg, GRANT_DEVICE_CODE, device_code="d", code="c")
    with pytest.raises(InvalidClient):
        await world.node.public.create_token(
            PublicTokenRequest(
                client_id=reg.client.client_id, client_secret="x", grant_type=GRANT_DEVICE_CODE
            )
        )


# -- CreateToken: refresh token --------------------------------------------------------------------------------------


async def test_refresh_rotates_and_a_reuse_ends_the_session(world: World) -> None:
    reg = await world.register(scopes=("sso:account:access",))
    dc, _ = await device_flow(world, reg)
    first = await world.token(reg, GRANT_DEVICE_CODE, device_code=dc)
    assert first.refresh_token is not None
    second = await world.token(reg, "refresh_token", refresh_token=first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token) and second.id_token is None
    other = await world.register(scopes=("sso:account:access",))
    with pytest.raises(InvalidGrant):  # sealed for the client it was issued to
        await world.token(other, "refresh_token", refresh_token=second.refresh_token)
    world.clock.advance(10)  # past the grace window
    with pytest.raises(InvalidGrant, match="already used"):
        await world.token(reg, "refresh_token", refresh_token=first.refresh_token)
    with pytest.raises(InvalidGrant):  # the whole family was revoked
        await world.token(reg, "refresh_token", refresh_token=second.refresh_token or "")


# -- /authorize and CreateToken: authorization code with PKCE ----------------------------------------------------------


async def authorize_code(w: World, reg: Registered, verifier: str, redirect: str, **params: str) -> str:
    from urllib.parse import parse_qs

    from ssoidc.oauth.authorize import parse_authorize_request

    query = {
        "response_type": "code",
        "client_id": reg.client.client_id,
        "redirect_uri": redirect,
        "state": "st",
        "code_challenge_method": "S256",
        "code_challenge": s256(verifier),
        "scopes": "sso:account:access",
        **params,
    }
    directory = w.node.snapshot.current
    areq = parse_authorize_request(
        parse_qs(urlencode(query)), directory, w.node.settings.default_scopes, reg.client
    )
    assert areq.public_client == reg.client and areq.scopes == ("sso:account:access",)
    return await w.node.code_issuer.issue_code(
        directory,
        application_arn=areq.application.arn,
        user_id=w.users["alice"],
        redirect_uri=areq.redirect_uri,
        scopes=areq.scopes,
        code_challenge=areq.code_challenge,
        code_challenge_method=areq.code_challenge_method,
        now=w.clock.now(),
        public_client=areq.public_client,
    )


async def test_pkce_code_for_a_loopback_redirect_on_any_port(world: World) -> None:
    reg = await world.register(
        scopes=("sso:account:access",),
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(CLI_REDIRECT,),
    )
    verifier = secrets.token_urlsafe(48)
    redirect = "http://127.0.0.1:49152/oauth/callback"
    code = await authorize_code(world, reg, verifier, redirect)
    args = {"code": code, "redirect_uri": redirect}
    with pytest.raises(InvalidRequest, match="codeVerifier"):
        await world.token(reg, "authorization_code", **args)
    with pytest.raises(InvalidGrant, match="codeVerifier does not match"):
        await world.token(reg, "authorization_code", **args, code_verifier=secrets.token_urlsafe(48))
    with pytest.raises(InvalidGrant, match="redirectUri"):
        await world.token(
            reg, "authorization_code", code=code, redirect_uri=CLI_REDIRECT, code_verifier=verifier
        )
    assert world.counts()[0] == 0  # nothing issued, the code not consumed
    result = await world.token(reg, "authorization_code", **args, code_verifier=verifier)
    assert result.refresh_token is not None and result.id_token is None
    with pytest.raises(InvalidGrant, match="already redeemed"):
        await world.token(reg, "authorization_code", **args, code_verifier=verifier)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"redirect_uri": "http://127.0.0.1:5000/other"}, "invalid_request"),
        ({"redirect_uri": "http://localhost:5000/oauth/callback"}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"scopes": "sso:account:access openid"}, "invalid_scope"),
    ],
)
async def test_bad_authorize_requests_of_a_public_client(
    world: World, params: dict[str, str], error: str
) -> None:
    reg = await world.register(
        scopes=("sso:account:access",), grant_types=("authorization_code",), redirect_uris=(CLI_REDIRECT,)
    )
    with pytest.raises(AuthorizeError) as info:
        await authorize_code(
            world, reg, secrets.token_urlsafe(48), "http://127.0.0.1:5000/oauth/callback", **params
        )
    assert info.value.error == error
    assert world.counts()[1] == 0


async def test_a_public_client_must_send_a_pkce_challenge(world: World) -> None:
    from urllib.parse import parse_qs

    from ssoidc.oauth.authorize import parse_authorize_request

    reg = await world.register(grant_types=("authorization_code",), redirect_uris=(CLI_REDIRECT,))
    query = {"response_type": "code", "client_id": reg.client.client_id, "redirect_uri": CLI_REDIRECT}
    with pytest.raises(AuthorizeError, match="code_challenge is required"):
        parse_authorize_request(parse_qs(urlencode(query)), world.node.snapshot.current, (), reg.client)
    device_only = await world.register(grant_types=(GRANT_DEVICE_CODE,), redirect_uris=(CLI_REDIRECT,))
    query["client_id"] = device_only.client.client_id
    with pytest.raises(AuthorizeError) as info:
        parse_authorize_request(
            parse_qs(urlencode(query)), world.node.snapshot.current, (), device_only.client
        )
    assert info.value.error == "unauthorized_client" and not info.value.redirect
    with pytest.raises(InvalidRequest):  # and the issuer refuses a code without S256 whatever called it
        await world.node.code_issuer.issue_code(
            world.node.snapshot.current,
            application_arn="client:" + reg.client.client_id,
            user_id=world.users["alice"],
            redirect_uri=CLI_REDIRECT,
            scopes=None,
            code_challenge=None,
            code_challenge_method=None,
            now=NOW,
            public_client=reg.client,
        )


async def test_an_instance_that_is_not_active_starts_no_device_authorization(world: World) -> None:
    reg = await world.register()
    directory = world.node.snapshot.current
    config = directory.config
    deleted = ConfigSnapshot(
        dataclasses.replace(config, instance=dataclasses.replace(config.instance, status="DELETED")),
        directory.version,
        directory.directory,
    )
    before = world.counts()
    with pytest.raises(InvalidRequest, match="not active"):
        await world.node.public.devices.start(reg.client, world.start_url, deleted, NOW)
    assert world.counts() == before  # nothing stored
    started = await world.node.public.devices.start(reg.client, world.start_url, directory, NOW)
    assert started.user_code  # the same call on the active instance goes through
