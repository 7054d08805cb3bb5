"""TokenService (AWS SSO OIDC ``CreateTokenWithIAM``; RFC 6749 section 4 / 5): the checks every grant shares, in
their order, the undeclared-member rule, and the grant registry as the one place a grant type is added.

A test-only grant type, ``urn:example:test-grant``, is served by a TokenService next to the four rows of ``GRANTS``
(TokenService takes the served grants it is given). The last tests show that every other consumer derives its list
of grant types from ``GRANTS``: OIDC discovery, the file schema, the sso-admin ``Grant`` mapping, ``ssoidc
apply``/``export`` and the storage codec, and that the botocore models know exactly the rows of ``GRANTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
import yaml

from ssoidc.aws.sso_admin import grant_in
from ssoidc.compose import build_services
from ssoidc.config.apply import parse_file, resolve
from ssoidc.config.export import export_configuration
from ssoidc.errors import (
    AccessDenied,
    ConfigError,
    InvalidClient,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ssoidc.model import GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN, GrantConfig
from ssoidc.oauth.grants.base import EmptySpec, GrantContext, GrantDeps, GrantType, MemberReader, ServedGrant
from ssoidc.oauth.grants.registry import GRANTS
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.service import TokenService, wire_name
from ssoidc.settings import Settings
from ssoidc.storage import codec
from ssoidc.web.app import build_app
from tests.helpers.config import allow_account
from tests.helpers.grants import APP, CALLER, OTHER, TTI, World

pytestmark = pytest.mark.anyio


@pytest.fixture
def allowed(world: World) -> World:
    world.change_app(APP, actor_policy=allow_account())
    return world


async def call(world: World, service: TokenService, **kw: Any) -> TokenResult:
    kw.setdefault("client_id", APP)
    return await service.create_token_with_iam(TokenRequest(**kw), CALLER, world.directory, world.clock.now())


async def test_each_shared_check(allowed: World) -> None:
    service = TokenService(GRANTS.serve(allowed.deps))
    with pytest.raises(UnsupportedGrantType) as info:
        await call(allowed, service, grant_type="password")
    assert info.value.message == (
        "Unsupported grant type; use authorization_code, refresh_token,"
        " urn:ietf:params:oauth:grant-type:jwt-bearer or urn:ietf:params:oauth:grant-type:token-exchange"
    )
    with pytest.raises(InvalidClient):
        await call(allowed, service, client_id="arn:nope", grant_type=GRANT_JWT_BEARER)
    with pytest.raises(AccessDenied, match="no IAM authentication method"):  # OTHER has no ActorPolicy
        await call(
            allowed, service, client_id=OTHER, grant_type=GRANT_JWT_BEARER, assertion=allowed.assertion()
        )
    allowed.change_app(OTHER, actor_policy=allow_account())
    with pytest.raises(UnauthorizedClient, match="refresh_token"):
        await call(allowed, service, client_id=OTHER, grant_type=GRANT_REFRESH_TOKEN, refresh_token="x")
    allowed.change_app(APP, status="DISABLED")
    with pytest.raises(InvalidClient, match="disabled"):
        await call(allowed, service, grant_type=GRANT_JWT_BEARER, assertion=allowed.assertion())


async def test_the_shared_checks_run_in_order(world: World) -> None:
    """Each request fails two checks at once; the earlier check answers (supported, client, caller, configured,
    undeclared members)."""
    service = TokenService(GRANTS.serve(world.deps))
    with pytest.raises(UnsupportedGrantType):  # unknown grant type and unknown client
        await call(world, service, client_id="arn:nope", grant_type="password")
    world.change_app(OTHER, status="DISABLED")
    with pytest.raises(InvalidClient, match="disabled"):  # disabled and no ActorPolicy
        await call(world, service, client_id=OTHER, grant_type=GRANT_JWT_BEARER, assertion="a")
    world.change_app(OTHER, status="ENABLED")
    with pytest.raises(AccessDenied):  # no ActorPolicy and no RefreshToken grant
        await call(world, service, client_id=OTHER, grant_type=GRANT_REFRESH_TOKEN, refresh_token="r")
    world.change_app(OTHER, actor_policy=allow_account())
    with pytest.raises(UnauthorizedClient):  # no RefreshToken grant and a member it does not take
        await call(world, service, client_id=OTHER, grant_type=GRANT_REFRESH_TOKEN, code="c")


@pytest.mark.parametrize(
    ("grant_type", "member", "wire"),
    [
        (GRANT_REFRESH_TOKEN, {"code": "c"}, "code"),
        (GRANT_REFRESH_TOKEN, {"redirect_uri": "https://x"}, "redirectUri"),
        (GRANT_JWT_BEARER, {"refresh_token": "r"}, "refreshToken"),
        (GRANT_JWT_BEARER, {"subject_token_type": "t"}, "subjectTokenType"),
        ("authorization_code", {"assertion": "a"}, "assertion"),
        ("urn:ietf:params:oauth:grant-type:token-exchange", {"code_verifier": "v"}, "codeVerifier"),
    ],
)
async def test_a_member_the_grant_does_not_declare_is_refused_by_name(
    allowed: World, grant_type: str, member: dict[str, str], wire: str
) -> None:
    service = TokenService(GRANTS.serve(allowed.deps))
    with pytest.raises(InvalidRequest) as info:
        await call(allowed, service, grant_type=grant_type, **member)
    assert info.value.message.startswith(f"{wire} is not a parameter of the {grant_type} grant")


# -- the extension recipe (CONTRIBUTING.md, "Adding a grant") -----------------------------------------------------

TEST_GRANT = "urn:example:test-grant"


@dataclass(frozen=True, slots=True)
class ExampleGrantConfig(GrantConfig):
    greeting: str


class ExampleGrantHandler:
    """Answers ``assertion`` with a token-less result naming the configured greeting (enough to see it ran with
    the application's config of its type)."""

    async def exchange(self, req: TokenRequest, ctx: GrantContext[ExampleGrantConfig]) -> TokenResult:
        return TokenResult(
            access_token=f"{ctx.config.greeting}:{req.assertion}",
            expires_in=1,
            id_token="",
            issued_token_type="urn:example:none",
            scope=req.scope or (),
            identity_context="",
        )


def _from_wire(body: Mapping[str, Any], reader: MemberReader) -> ExampleGrantConfig:
    return ExampleGrantConfig(str(body["Greeting"]))


def _handler(deps: GrantDeps) -> ExampleGrantHandler:
    return ExampleGrantHandler()


TEST_ROW: GrantType[ExampleGrantConfig] = GrantType(
    uri=TEST_GRANT,
    member="TestGrant",
    config_type=ExampleGrantConfig,
    parameters=frozenset({"assertion", "scope"}),
    file_spec=EmptySpec,
    to_wire=lambda c: {"Greeting": c.greeting},
    from_wire=_from_wire,
    store_tag="test_grant",
    to_store=lambda c: {"greeting": c.greeting},
    from_store=lambda d: ExampleGrantConfig(d["greeting"]),
    handler=_handler,
)


async def test_a_grant_row_is_served_by_the_token_service(allowed: World) -> None:
    served = (*GRANTS.serve(allowed.deps), ServedGrant(TEST_ROW, TEST_ROW.handler(allowed.deps)))
    service = TokenService(served)
    assert service.grant_types == (*GRANTS.uris, TEST_GRANT)
    grants = allowed.directory.applications[APP].grants
    for greeting in ("hi", "bye"):  # the handler runs with the application's config of its type, as it is now
        allowed.change_app(grants={**grants, TEST_GRANT: ExampleGrantConfig(greeting)})
        result = await call(allowed, service, grant_type=TEST_GRANT, assertion="there", scope=("openid",))
        assert result.access_token == f"{greeting}:there"
    with pytest.raises(InvalidRequest) as info:
        await call(allowed, service, grant_type=TEST_GRANT, code="x")
    assert info.value.message == (
        "code is not a parameter of the urn:example:test-grant grant; send only assertion, scope"
        " (besides clientId and grantType)"
    )
    with pytest.raises(UnsupportedGrantType) as unsupported:
        await call(allowed, service, grant_type="urn:example:other")
    assert unsupported.value.message.endswith(
        "urn:ietf:params:oauth:grant-type:token-exchange or " + TEST_GRANT
    )
    allowed.change_app(OTHER, actor_policy=allow_account())
    with pytest.raises(UnauthorizedClient, match=TEST_GRANT):  # served, but OTHER is not configured for it
        await call(allowed, service, client_id=OTHER, grant_type=TEST_GRANT, assertion="x")
    with pytest.raises(UnsupportedGrantType):  # a service without the row does not serve it
        await call(allowed, TokenService(GRANTS.serve(allowed.deps)), grant_type=TEST_GRANT, assertion="x")


# -- every other consumer derives its list from GRANTS -------------------------------------------------------------


async def test_discovery_lists_the_rows_of_grants(tmp_path: Path) -> None:
    services = await build_services(Settings(data_dir=tmp_path / "node"))
    try:
        instance_id = services.snapshot.current.instance.instance_id
        url = f"/{instance_id}/.well-known/openid-configuration"
        transport = httpx.ASGITransport(app=build_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://ssoidc.test") as client:
            listed = (await client.get(url)).json()["grant_types_supported"]
    finally:
        await services.close()
    assert listed == list(GRANTS.uris)


def test_the_file_schema_takes_exactly_the_rows_of_grants(world: World) -> None:
    app = world.directory.applications[APP]
    for kind in GRANTS:  # each row's key, with its member read by the row's file_spec
        doc = {"Applications": [{"Name": "app", "Grants": {kind.uri: GRANTS.union_of(app.grants[kind.uri])}}]}
        assert list(parse_file(yaml.safe_dump(doc)).Applications[0].Grants[kind.uri].members) == [kind.member]
    with pytest.raises(ConfigError) as info:
        parse_file(yaml.safe_dump({"Applications": [{"Name": "app", "Grants": {TEST_GRANT: {}}}]}))
    listed = ", ".join(repr(u) for u in GRANTS.uris[:-1])
    assert f"Grants.{TEST_GRANT}.[key]: Input should be {listed} or {GRANTS.uris[-1]!r}" in info.value.message
    with pytest.raises(ConfigError, match=r"Grants\.refresh_token\.TestGrant: Extra inputs"):
        parse_file(
            yaml.safe_dump(
                {"Applications": [{"Name": "app", "Grants": {"refresh_token": {"TestGrant": {}}}}]}
            )
        )


def test_every_row_round_trips_through_sso_admin_the_file_and_the_store(world: World) -> None:
    config = world.directory.config
    app = world.directory.applications[APP]
    assert list(app.grants) == list(GRANTS.uris)  # APP has one grant of every row
    for uri, grant in app.grants.items():
        assert grant_in(uri, GRANTS.union_of(grant)) == grant  # PutApplicationGrant <- GetApplicationGrant
        assert codec.grant_from_doc(codec.grant_to_doc(grant)) == grant
    exported = export_configuration(config)
    back = resolve(parse_file(exported), None, config.instance.owner_account_id, now=0.0)
    assert next(a for a in back.applications if a.arn == APP).grants == app.grants


def test_the_botocore_models_know_exactly_the_rows_of_grants() -> None:
    """sso-admin's ``GrantType`` enum and ``Grant`` union, and CreateTokenWithIAM's members, are the registry's:
    the skeleton validates against them, so ``grant_in`` never sees a grant type outside ``GRANTS``."""
    session = botocore.session.get_session()
    admin = session.get_service_model("sso-admin")
    assert admin.shape_for("GrantType").enum == list(GRANTS.uris)
    assert sorted(admin.shape_for("Grant").members) == sorted(k.member for k in GRANTS)
    members = session.get_service_model("sso-oidc").operation_model("CreateTokenWithIAM").input_shape.members
    assert {wire_name(p) for k in GRANTS for p in k.parameters} <= set(members)


def test_the_stored_format_is_unchanged(world: World) -> None:
    app = world.directory.applications[APP]
    docs = {gt: codec.grant_to_doc(g) for gt, g in app.grants.items()}
    assert docs == {
        "authorization_code": {
            "type": "authorization_code",
            "redirect_uris": ["https://app.example.com/callback"],
        },
        "refresh_token": {"type": "refresh_token"},
        GRANT_JWT_BEARER: {
            "type": "jwt_bearer",
            "issuers": [
                {
                    "arn": TTI,
                    "audiences": ["ssoidc-tests"],
                }
            ],
        },
        "urn:ietf:params:oauth:grant-type:token-exchange": {"type": "token_exchange"},
    }
    assert {gt: codec.grant_from_doc(d) for gt, d in docs.items()} == dict(app.grants)
    exported = yaml.safe_load(export_configuration(world.directory.config))
    assert exported["Applications"][0]["Grants"]["refresh_token"] == {"RefreshToken": {}}
