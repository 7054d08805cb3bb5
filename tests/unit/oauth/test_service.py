"""TokenService (AWS SSO OIDC ``CreateTokenWithIAM``; RFC 6749 section 4 / 5): the checks every grant shares, the
undeclared-member rule, and the grant registry as the one place a grant type is added.

The last tests register a test-only grant type, ``urn:example:test-grant``, into a copy of the registry and show it
served by TokenService, listed by OIDC discovery (``ssoidc.web.app`` is not touched), accepted by the file schema,
``ssoidc apply``/``export``, the sso-admin ``Grant`` mapping, the storage codec and the configuration rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import BaseModel, Field

from ssoidc.aws.sso_admin import grant_in, grant_out
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
    ValidationFailed,
)
from ssoidc.model import GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN, Configuration, GrantConfig
from ssoidc.oauth.grants.base import (
    MEMBER_SPEC,
    GrantContext,
    GrantDeps,
    GrantRegistry,
    GrantType,
    MemberReader,
)
from ssoidc.oauth.grants.registry import GRANTS
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.service import TokenService
from ssoidc.settings import Settings
from ssoidc.storage import codec
from ssoidc.web.app import build_app
from tests.helpers.grants import APP, CALLER, OTHER, TTI, World

pytestmark = pytest.mark.anyio
ALLOW = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "123456789012"},
            "Action": "sso-oauth:CreateTokenWithIAM",
            "Resource": "*",
        }
    ],
}


@pytest.fixture
def allowed(world: World) -> World:
    world.change_app(APP, actor_policy=ALLOW)
    return world


async def call(world: World, service: TokenService, **kw: Any) -> TokenResult:
    kw.setdefault("client_id", APP)
    return await service.create_token_with_iam(TokenRequest(**kw), CALLER, world.directory, world.clock.now())


async def test_each_shared_check_in_order(allowed: World) -> None:
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
    allowed.change_app(OTHER, actor_policy=ALLOW)
    with pytest.raises(UnauthorizedClient, match="refresh_token"):
        await call(allowed, service, client_id=OTHER, grant_type=GRANT_REFRESH_TOKEN, refresh_token="x")
    allowed.change_app(APP, status="DISABLED")
    with pytest.raises(InvalidClient, match="disabled"):
        await call(allowed, service, grant_type=GRANT_JWT_BEARER, assertion=allowed.assertion())


async def test_the_grant_runs_with_its_typed_config(allowed: World) -> None:
    service = TokenService(GRANTS.serve(allowed.deps))
    result = await call(allowed, service, grant_type=GRANT_JWT_BEARER, assertion=allowed.assertion())
    assert result.access_token.startswith("aoa")


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


class ExampleGrantSpec(BaseModel):
    model_config = MEMBER_SPEC
    Greeting: str = Field(min_length=1)


class ExampleGrantHandler:
    """Answers ``assertion`` with a token-less result naming the configured greeting (enough to see it ran)."""

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
    if not body.get("Greeting"):
        reader.problem("Greeting is required", "Greeting")
    return ExampleGrantConfig(str(body.get("Greeting", "")))


def _check(config: ExampleGrantConfig, configuration: Configuration) -> None:
    if config.greeting == "forbidden":
        raise ValidationFailed("Greeting may not be forbidden", "Grant.TestGrant.Greeting")


def _handler(deps: GrantDeps) -> ExampleGrantHandler:
    return ExampleGrantHandler()


TEST_ROW: GrantType[ExampleGrantConfig] = GrantType(
    uri=TEST_GRANT,
    member="TestGrant",
    config_type=ExampleGrantConfig,
    parameters=frozenset({"assertion", "scope"}),
    file_spec=ExampleGrantSpec,
    to_wire=lambda c: {"Greeting": c.greeting},
    from_wire=_from_wire,
    store_tag="test_grant",
    to_store=lambda c: {"greeting": c.greeting},
    from_store=lambda d: ExampleGrantConfig(d["greeting"]),
    handler=_handler,
    check=_check,
)
REGISTRY = GRANTS.with_grant(TEST_ROW)


def test_the_default_registry_is_unchanged_by_the_copy() -> None:
    assert TEST_GRANT in REGISTRY
    assert TEST_GRANT not in GRANTS
    assert REGISTRY.uris[: len(GRANTS.uris)] == GRANTS.uris


async def test_an_added_grant_is_served_by_the_token_service(allowed: World) -> None:
    allowed.change_app(
        grants={**allowed.directory.applications[APP].grants, TEST_GRANT: ExampleGrantConfig("hi")}
    )
    service = TokenService(REGISTRY.serve(allowed.deps))
    result = await call(allowed, service, grant_type=TEST_GRANT, assertion="there", scope=("openid",))
    assert result.access_token == "hi:there"
    with pytest.raises(InvalidRequest, match=r"^code is not a parameter of the urn:example:test-grant grant"):
        await call(allowed, service, grant_type=TEST_GRANT, code="x")
    with pytest.raises(
        UnsupportedGrantType, match="urn:ietf:params:oauth:grant-type:token-exchange or urn:example"
    ):
        await call(allowed, service, grant_type="urn:example:other")
    allowed.change_app(OTHER, actor_policy=ALLOW)
    with pytest.raises(UnauthorizedClient):  # served, but OTHER is not configured for it
        await call(allowed, service, client_id=OTHER, grant_type=TEST_GRANT, assertion="x")
    with pytest.raises(UnsupportedGrantType):  # the default registry does not serve it
        await call(allowed, TokenService(GRANTS.serve(allowed.deps)), grant_type=TEST_GRANT, assertion="x")


async def test_an_added_grant_is_listed_by_discovery(tmp_path: Path, world: World) -> None:
    async def listed(registry: GrantRegistry) -> list[str]:
        services = await build_services(Settings(data_dir=tmp_path / "node"), grants=registry)
        try:
            instance_id = services.snapshot.current.instance.instance_id
            url = f"/{instance_id}/.well-known/openid-configuration"
            transport = httpx.ASGITransport(app=build_app(services))
            async with httpx.AsyncClient(transport=transport, base_url="http://ssoidc.test") as client:
                return list((await client.get(url)).json()["grant_types_supported"])
        finally:
            await services.close()

    before, after = await listed(GRANTS), await listed(REGISTRY)
    assert before == list(GRANTS.uris)
    assert after == [*GRANTS.uris, TEST_GRANT]


def test_an_added_grant_is_read_and_written_by_the_file_and_the_store() -> None:
    doc = {
        "Applications": [
            {
                "Name": "app",
                "Grants": {
                    TEST_GRANT: {"TestGrant": {"Greeting": "hello"}},
                    "refresh_token": {"RefreshToken": {}},
                },
            }
        ]
    }
    text = yaml.safe_dump(doc)
    with pytest.raises(ConfigError, match=r"Grants\.urn:example:test-grant\.\[key\]"):
        parse_file(text)  # not a grant type of the default registry
    config = resolve(parse_file(text, registry=REGISTRY), None, "123456789012", now=0.0, registry=REGISTRY)
    grants = config.applications[0].grants
    assert grants[TEST_GRANT] == ExampleGrantConfig("hello")
    stored = codec.grant_to_doc(grants[TEST_GRANT], REGISTRY)
    assert stored == {"type": "test_grant", "greeting": "hello"}
    assert codec.grant_from_doc(stored, REGISTRY) == ExampleGrantConfig("hello")
    assert REGISTRY.union_of(grants[TEST_GRANT]) == {"TestGrant": {"Greeting": "hello"}}
    bad = yaml.safe_dump({"Applications": [{"Name": "app", "Grants": {TEST_GRANT: {"TestGrant": {}}}}]})
    with pytest.raises(ConfigError, match=r"Grants\.urn:example:test-grant\.TestGrant\.Greeting"):
        parse_file(bad, registry=REGISTRY)
    wrong = yaml.safe_dump({"Applications": [{"Name": "app", "Grants": {TEST_GRANT: {"RefreshToken": {}}}}]})
    with pytest.raises(ConfigError, match="must set exactly the TestGrant member"):
        resolve(parse_file(wrong, registry=REGISTRY), None, "123456789012", now=0.0, registry=REGISTRY)


def test_an_added_grant_is_mapped_by_sso_admin_and_checked_by_its_rules(world: World) -> None:
    config = grant_in(TEST_GRANT, {"TestGrant": {"Greeting": "hey"}}, REGISTRY)
    assert config == ExampleGrantConfig("hey")
    assert grant_out(config, REGISTRY) == {"TestGrant": {"Greeting": "hey"}}
    with pytest.raises(ValidationFailed) as info:
        grant_in(TEST_GRANT, {"TestGrant": {}}, REGISTRY)
    assert info.value.message == "Greeting is required"
    with pytest.raises(ValidationFailed, match="takes a Grant with the TestGrant member"):
        grant_in(TEST_GRANT, {"RefreshToken": {}}, REGISTRY)
    with pytest.raises(ValidationFailed):
        grant_in(TEST_GRANT, {"TestGrant": {"Greeting": "hey"}})  # the default registry does not know it
    with pytest.raises(ValidationFailed, match="forbidden"):
        REGISTRY.of(ExampleGrantConfig("forbidden")).check(
            ExampleGrantConfig("forbidden"), world.directory.config
        )
    REGISTRY.of(ExampleGrantConfig("fine")).check(ExampleGrantConfig("fine"), world.directory.config)


def test_the_default_registry_round_trips_the_stored_format_unchanged(world: World) -> None:
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
