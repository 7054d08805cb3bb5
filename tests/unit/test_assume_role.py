"""AssumeRole decisions in process (``ssoidc.iam.assume_role``; docs/sts.md): the trust policy with the caller as
principal, ``sts:SetContext`` with ``sts:RequestContextProviders``, the identity context opened with ssoidc's
sealing, durations, session policies; every refusal is the modelled error and decides nothing."""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import replace
from typing import Any

import pytest

from ssoidc.errors import (
    ContextExpired,
    InvalidInput,
    InvalidParameterValue,
    MalformedPolicy,
    PolicyTooLarge,
    RoleAccessDenied,
)
from ssoidc.iam.assume_role import (
    IDENTITY_CENTER_PROVIDER,
    AssumeRoleRequest,
    RoleAssumer,
    RoleCaller,
)
from ssoidc.iam.authority import Authority
from ssoidc.iam.policy import Policy
from ssoidc.model import ConfigSnapshot, Configuration, Instance, Role, User
from ssoidc.oauth.tokens import TokenMinter

pytestmark = pytest.mark.anyio

ACCOUNT = "123456789012"
NOW = 1_700_000_000.0
APP_USER = f"arn:aws:iam::{ACCOUNT}:user/app"
OTHER_USER = f"arn:aws:iam::{ACCOUNT}:user/other"
INSTANCE = Instance("arn:aws:sso:::instance/ssoins-1111111111111111", "d-1111111111", ACCOUNT, "one")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/team/reader"
MINTER = TokenMinter(b"k" * 32)


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ASSUME = {"Effect": "Allow", "Principal": {"AWS": APP_USER}, "Action": "sts:AssumeRole"}
SET_CONTEXT = {
    "Effect": "Allow",
    "Principal": {"AWS": APP_USER},
    "Action": "sts:SetContext",
    "Condition": {"ForAllValues:ArnEquals": {"sts:RequestContextProviders": IDENTITY_CENTER_PROVIDER}},
}


def role(doc: dict[str, Any] | None = None, **kw: Any) -> Role:
    return Role(
        arn=ROLE_ARN,
        role_name="reader",
        role_id="AROAAAAAAAAAAAAAAAAAA",
        trust_policy=doc if doc is not None else trust(ASSUME, SET_CONTEXT),
        path="/team/",
        **kw,
    )


_VERSIONS = itertools.count(1)


def snapshot(*roles: Role) -> ConfigSnapshot:
    """A new configuration version each time (parsed policies are cached by owner and version, as in serving)."""
    config = Configuration(instance=INSTANCE, users=(User("u-1", "alice"),), roles=roles or (role(),))
    return ConfigSnapshot(config, next(_VERSIONS))


def context(**over: Any) -> str:
    doc: dict[str, Any] = {
        "v": 1,
        "iss": "https://x",
        "sub": "u-1",
        "isa": INSTANCE.identity_store_arn,
        "app": "arn:app",
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 3600,
        "fam": "f",
    }
    doc.update(over)
    return MINTER.seal_identity_context(doc)


def request(**kw: Any) -> AssumeRoleRequest:
    return AssumeRoleRequest(**{"role_arn": ROLE_ARN, "role_session_name": "s1", **kw})


CALLER = RoleCaller(APP_USER, "AKIAAPP")


def authority(*docs: dict[str, Any]) -> Authority:
    """The caller's identity-side policies, each a layer that must allow (as IdentityPolicies builds them)."""
    return Authority(tuple((Policy.parse(d, kind="identity"),) for d in docs))


ASSUMER = RoleAssumer(MINTER.open_identity_context)


async def test_the_trust_policy_allows_the_named_caller() -> None:
    session = await ASSUMER.decide(request(), CALLER, snapshot(), NOW)
    assert session.session_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1"  # no path, as AWS
    assert session.assumed_role_id == "AROAAAAAAAAAAAAAAAAAA:s1"
    assert session.duration_seconds == 3600
    assert session.on_behalf_of is None
    assert session.packed_policy_size is None
    assert session.session_policy is None


async def test_a_caller_the_trust_policy_does_not_name_is_denied() -> None:
    with pytest.raises(RoleAccessDenied) as info:
        await ASSUMER.decide(request(), RoleCaller(OTHER_USER, "AKIAOTHER"), snapshot(), NOW)
    assert info.value.message == (
        f"User: {OTHER_USER} is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN}"
    )


async def test_an_unknown_role_is_denied_alike() -> None:
    other = ROLE_ARN.replace("reader", "nobody")
    with pytest.raises(RoleAccessDenied) as info:
        await ASSUMER.decide(request(role_arn=other), CALLER, snapshot(), NOW)
    assert (
        info.value.message
        == f"User: {APP_USER} is not authorized to perform: sts:AssumeRole on resource: {other}"
    )


async def test_an_identity_policy_on_the_caller_must_allow_it_too() -> None:
    deny = {"Statement": [{"Effect": "Allow", "Action": "sso:*", "Resource": "*"}]}
    with pytest.raises(RoleAccessDenied):
        await ASSUMER.decide(request(), replace(CALLER, identity=authority(deny)), snapshot(), NOW)
    allow = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}]}
    await ASSUMER.decide(request(), replace(CALLER, identity=authority(allow)), snapshot(), NOW)


async def test_external_id_is_a_condition_key() -> None:
    needs = dict(ASSUME, Condition={"StringEquals": {"sts:ExternalId": "xyz"}})
    snap = snapshot(role(trust(needs)))
    with pytest.raises(RoleAccessDenied):
        await ASSUMER.decide(request(), CALLER, snap, NOW)
    with pytest.raises(RoleAccessDenied):
        await ASSUMER.decide(request(external_id="abc"), CALLER, snap, NOW)
    await ASSUMER.decide(request(external_id="xyz"), CALLER, snap, NOW)


async def test_duration_is_bounded_by_the_roles_maximum() -> None:
    snap = snapshot(role(max_session_duration=7200))
    assert (await ASSUMER.decide(request(duration_seconds=7200), CALLER, snap, NOW)).duration_seconds == 7200
    with pytest.raises(InvalidInput, match="exceeds the MaxSessionDuration"):
        await ASSUMER.decide(request(duration_seconds=7201), CALLER, snap, NOW)


async def test_role_chaining_is_limited_to_one_hour() -> None:
    chained = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s"
    doc = trust(dict(ASSUME, Principal={"AWS": chained}))
    snap = snapshot(role(doc, max_session_duration=7200))
    caller = RoleCaller(chained, "ASIACHAIN")
    await ASSUMER.decide(request(duration_seconds=3600), caller, snap, NOW)
    with pytest.raises(InvalidInput, match="role chaining"):
        await ASSUMER.decide(request(duration_seconds=3601), caller, snap, NOW)


async def test_a_context_makes_an_identity_enhanced_session() -> None:
    req = request(provided_contexts=((IDENTITY_CENTER_PROVIDER, context()),))
    session = await ASSUMER.decide(req, CALLER, snapshot(), NOW)
    assert session.on_behalf_of is not None
    assert session.on_behalf_of.user_id == "u-1"
    assert session.on_behalf_of.identity_store_arn == INSTANCE.identity_store_arn


async def test_a_context_needs_set_context_in_the_trust_policy() -> None:
    req = request(provided_contexts=((IDENTITY_CENTER_PROVIDER, context()),))
    with pytest.raises(RoleAccessDenied, match="sts:SetContext"):
        await ASSUMER.decide(req, CALLER, snapshot(role(trust(ASSUME))), NOW)
    # a condition on another provider does not allow this one
    other = dict(
        SET_CONTEXT,
        Condition={"ArnEquals": {"sts:RequestContextProviders": "arn:aws:iam::aws:contextProvider/Other"}},
    )
    with pytest.raises(RoleAccessDenied, match="sts:SetContext"):
        await ASSUMER.decide(req, CALLER, snapshot(role(trust(ASSUME, other))), NOW)
    # without the context, the same trust policy is enough
    await ASSUMER.decide(request(), CALLER, snapshot(role(trust(ASSUME))), NOW)


def _tamper(blob: str) -> str:
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    "assertion",
    [
        _tamper(context()),
        TokenMinter(b"x" * 32).seal_identity_context(
            {"v": 1, "sub": "u-1", "isa": INSTANCE.identity_store_arn, "exp": int(NOW) + 99}
        ),
        context(isa="arn:aws:identitystore::123456789012:identitystore/d-2222222222"),
        context(sub="u-gone"),
        context(v=2),
        "not base64!",
        base64.b64encode(b"short").decode(),
    ],
    ids=["tampered", "foreign-key", "other-store", "unknown-user", "version", "not-base64", "garbage"],
)
async def test_a_context_that_is_not_ours_is_refused(assertion: str) -> None:
    req = request(provided_contexts=((IDENTITY_CENTER_PROVIDER, assertion),))
    with pytest.raises(InvalidParameterValue) as info:
        await ASSUMER.decide(req, CALLER, snapshot(), NOW)
    assert assertion not in info.value.message


async def test_an_expired_context_is_refused() -> None:
    req = request(provided_contexts=((IDENTITY_CENTER_PROVIDER, context(exp=int(NOW))),))
    with pytest.raises(ContextExpired):
        await ASSUMER.decide(req, CALLER, snapshot(), NOW)


async def test_other_providers_and_repeats_are_refused() -> None:
    c = context()
    for contexts in (
        (("arn:aws:iam::aws:contextProvider/Other", c),),
        ((IDENTITY_CENTER_PROVIDER, c), (IDENTITY_CENTER_PROVIDER, c)),
    ):
        with pytest.raises(InvalidParameterValue):
            await ASSUMER.decide(request(provided_contexts=contexts), CALLER, snapshot(), NOW)


async def test_session_policies() -> None:
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sso:List*", "Resource": "*"}]}
    )
    session = await ASSUMER.decide(request(policy=policy), CALLER, snapshot(), NOW)
    assert session.session_policy == json.loads(policy)
    assert session.packed_policy_size == -(-len(policy) * 100 // 2048)
    with pytest.raises(MalformedPolicy, match="duplicate"):
        await ASSUMER.decide(request(policy='{"Statement": [], "Statement": []}'), CALLER, snapshot(), NOW)
    with pytest.raises(MalformedPolicy):
        await ASSUMER.decide(request(policy='{"Statement": {"Effect": "Allow"}}'), CALLER, snapshot(), NOW)
    with pytest.raises(PolicyTooLarge):
        await ASSUMER.decide(request(policy=" " * 2049), CALLER, snapshot(), NOW)
    with pytest.raises(InvalidParameterValue, match="managed"):
        await ASSUMER.decide(
            request(policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",)), CALLER, snapshot(), NOW
        )
    with pytest.raises(InvalidParameterValue, match="Tags"):
        await ASSUMER.decide(request(unsupported=("Tags",)), CALLER, snapshot(), NOW)


async def test_every_identity_policy_of_the_caller_must_allow() -> None:
    """A role session's policies are its role's permission policies and its session policy: both must allow."""
    allow = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    narrow = {"Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}
    snap = snapshot()
    await ASSUMER.decide(request(), replace(CALLER, identity=authority(allow, allow)), snap, NOW)
    with pytest.raises(RoleAccessDenied):
        await ASSUMER.decide(request(), replace(CALLER, identity=authority(allow, narrow)), snap, NOW)
