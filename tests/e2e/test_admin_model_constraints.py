"""Model-driven input validation of every served sso-admin and identitystore operation.

The operations are the ones the server implements (the handler methods of ``SsoAdminApi`` and ``IdentityStoreApi``, ``skeleton.handler_table``).
For each, the botocore input shape is walked recursively (nested structures, list members, map keys and values)
and every modelled constraint becomes one test case: a required member left out, a value outside an enum, a
string / list / map outside its min/max length, an integer outside its range, a string that fails the pattern, a
union with two members set. Each case sends the operation's baseline input (valid for every constrained member)
with exactly that member made invalid, through a botocore client with ``parameter_validation=False``, and
expects HTTP 400 ValidationException whose message names the member path. The baseline itself must pass
validation (it may still fail with ResourceNotFoundException and the like: its identifiers mostly name nothing).

Valid strings for a pattern come from ``hypothesis.strategies.from_regex(pattern, fullmatch=True)``; patterns
with ``\\p{...}`` classes (which Python's ``re`` lacks; the server uses the ``regex`` module) take known-good
samples. Every generated value is checked locally against the model with the ``regex`` module before it is sent,
so the cases are only as strong as the model, never weaker. A few members get semantically valid values
(``OVERRIDES``) so a baseline gets past the handlers' own checks.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import regex
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import Shape, StructureShape
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st

from ssoidc.aws.models import service_model
from ssoidc.aws.skeleton import MAX_BODY
from tests.helpers.clients import make_admin_client
from tests.helpers.config import ACCOUNT, JWT_BEARER, allow_account
from tests.helpers.handlers import served
from tests.helpers.servers import LiveServer, private_server

SERVICES = {service: served(service) for service in ("sso-admin", "identitystore")}
BAD_ENUM = "NOT_A_MODELLED_VALUE"
#: Characters tried, one at a time, to break a pattern without changing the value's length.
BREAKERS = ["\x01", "#", " ", "~", "!", "\u2028", "é", "Z", "a", "0", "-", ":", "/", "."]
HYPOTHESIS = settings(
    database=None,
    max_examples=500,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
#: Known-good values for patterns Python's ``re`` cannot compile (``\p{...}`` classes).
SAMPLES = ["Sample", "sample", "userName", "emails.value", "aws:identitystore:enterprise", "team-a"]
POLICY = allow_account(ACCOUNT)


@dataclass(frozen=True)
class Context:
    instance_arn: str
    store_id: str


#: (operation or "*", member path) -> a value that also passes the handler's own checks (a callable gets the
#: context).
OVERRIDES: dict[tuple[str, str], Any] = {
    # operations whose model has no ResourceNotFoundException answer an unknown instance with a
    # ValidationException: they name the real instance (all are reads, or a create on this module's server)
    # identitystore: the real store, so the baselines get past the store check into the handlers
    ("*", "IdentityStoreId"): lambda c: c.store_id,
    ("DescribeInstance", "InstanceArn"): lambda c: c.instance_arn,
    ("ListApplications", "InstanceArn"): lambda c: c.instance_arn,
    ("ListTrustedTokenIssuers", "InstanceArn"): lambda c: c.instance_arn,
    ("AddRegion", "InstanceArn"): lambda c: c.instance_arn,
    ("ListRegions", "InstanceArn"): lambda c: c.instance_arn,
    # ssoidc has no VPC endpoints: it refuses a network configuration that requires one
    ("UpdateIdentityStore", "NetworkConfiguration.VpceAccessRequired"): False,
    ("CreateTrustedTokenIssuer", "InstanceArn"): lambda c: c.instance_arn,
    ("CreateTrustedTokenIssuer", "TrustedTokenIssuerConfiguration.OidcJwtConfiguration.IssuerUrl"): (
        "https://constraints.example.com/issuer"
    ),
    (
        "CreateTrustedTokenIssuer",
        "TrustedTokenIssuerConfiguration.OidcJwtConfiguration.ClaimAttributePath",
    ): "email",
    (
        "CreateTrustedTokenIssuer",
        "TrustedTokenIssuerConfiguration.OidcJwtConfiguration.IdentityStoreAttributePath",
    ): "emails.value",
    (
        "UpdateTrustedTokenIssuer",
        "TrustedTokenIssuerConfiguration.OidcJwtConfiguration.ClaimAttributePath",
    ): "email",
    (
        "UpdateTrustedTokenIssuer",
        "TrustedTokenIssuerConfiguration.OidcJwtConfiguration.IdentityStoreAttributePath",
    ): "emails.value",
    ("PutApplicationAuthenticationMethod", "AuthenticationMethod.Iam.ActorPolicy"): POLICY,
    ("GetUserId", "AlternateIdentifier.UniqueAttribute.AttributePath"): "userName",
    ("GetUserId", "AlternateIdentifier.UniqueAttribute.AttributeValue"): "sample",
    ("GetGroupId", "AlternateIdentifier.UniqueAttribute.AttributePath"): "displayName",
    ("GetGroupId", "AlternateIdentifier.UniqueAttribute.AttributeValue"): "sample",
    ("ListUsers", "Filters[0].AttributePath"): "UserName",
    ("ListGroups", "Filters[0].AttributePath"): "DisplayName",
    ("UpdateUser", "Operations[0].AttributePath"): "displayName",
    ("UpdateUser", "Operations[0].AttributeValue"): "Sample",
    ("UpdateGroup", "Operations[0].AttributePath"): "description",
    ("UpdateGroup", "Operations[0].AttributeValue"): "Sample",
    ("CreateUser", "Extensions<key>"): "aws:identitystore:enterprise",
    ("CreateUser", "Extensions.aws:identitystore:enterprise"): {"employeeNumber": "1"},
    ("DescribeUser", "Extensions[0]"): "aws:identitystore:enterprise",
    ("ListUsers", "Extensions[0]"): "aws:identitystore:enterprise",
}
#: Members left out of baselines unless a case is about them: a well-formed NextToken that no listing issued is
#: (rightly) a ValidationException of its own.
OMIT = frozenset({"NextToken"})
#: Per operation, members also left out of its baseline unless a case is about them: UpdateInstance takes only
#: one of EncryptionConfiguration, PermissionSetsEnabled and NetworkConfiguration per request, and a VPC
#: restriction on the identity store is refused (ssoidc has no VPC endpoints).
OMIT_IN = {
    "UpdateInstance": frozenset({"EncryptionConfiguration", "NetworkConfiguration"}),
    "UpdateIdentityStore": frozenset({"ApiRestrictSourceVpcs"}),
}
#: Union member chosen when the case does not go through the union (PutApplicationGrant: see ``coherent``).
UNION_DEFAULT = {"Grant": "JwtBearer", "AlternateIdentifier": "UniqueAttribute"}
GRANT_TYPE_OF = {
    "AuthorizationCode": "authorization_code",
    "JwtBearer": JWT_BEARER,
    "RefreshToken": "refresh_token",
    "TokenExchange": "urn:ietf:params:oauth:grant-type:token-exchange",
}
#: Baselines that still (and correctly) answer ValidationException: an operation without ResourceNotFound in its
#: model names a missing instance this way, and DeleteInstance cannot be sent with the real one.
SEMANTIC_BASELINE = {"DeleteInstance": "InstanceArn"}

Step = tuple[str, ...]  # ("m", name) | ("i",) first list item | ("k",) map key | ("v",) map value


@dataclass(frozen=True)
class Case:
    service: str
    op: str
    path: str  # the member path as the server names it
    kind: str  # required | union | enum | min | max | pattern
    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        where = (self.path or "(input)") + ("<key>" if self.steps and self.steps[-1] == ("k",) else "")
        return f"{self.op}:{where}:{self.kind}"


def input_shape(service: str, op: str) -> StructureShape:
    shape = service_model(service).operation_model(op).input_shape
    assert isinstance(shape, StructureShape)
    return shape


@functools.cache
def compiled(pattern: str) -> Any:
    return regex.compile(pattern, regex.V0)


def fits(shape: Shape, value: str) -> bool:
    meta = shape.metadata
    if not meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 30):
        return False
    return "pattern" not in meta or compiled(meta["pattern"]).fullmatch(value) is not None


@functools.cache
def pattern_sample(pattern: str, lo: int, hi: int) -> str:
    try:
        strategy = st.from_regex(pattern, fullmatch=True)
        value = find(strategy, lambda s: lo <= len(s) <= hi, settings=HYPOTHESIS)
        if compiled(pattern).fullmatch(value):
            return str(value)
    except Exception:  # noqa: S110 - \p{...} classes: Python's re cannot compile them; fall back to samples
        pass
    for sample in SAMPLES:
        if lo <= len(sample) <= hi and compiled(pattern).fullmatch(sample):
            return sample
    raise AssertionError(f"no valid sample for pattern {pattern!r} ({lo}..{hi})")


def valid_string(shape: Shape) -> str:
    enum = getattr(shape, "enum", None)
    if enum:
        return str(enum[0])
    meta = shape.metadata
    lo, hi = meta.get("min", 0), meta.get("max", 1 << 30)
    if "pattern" in meta:
        return pattern_sample(meta["pattern"], max(lo, min(1, hi)), hi)  # not empty when it may not be
    return "s" * int(max(lo, min(6, hi)))


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def build(shape: Shape, op: str, path: str, ctx: Context, focus: tuple[Step, ...] | None) -> Any:
    """A valid value for ``shape``; along ``focus`` (the steps to a case's member) unions take that member."""
    for key in ((op, path), ("*", path)):
        if key in OVERRIDES:
            value = OVERRIDES[key]
            return value(ctx) if callable(value) else value
    t, meta = shape.type_name, shape.metadata

    def sub(step: Step) -> tuple[Step, ...] | None:
        return focus[1:] if focus and focus[0] == step else None

    if t == "structure":
        if meta.get("document"):
            return {"sample": "value"}
        assert isinstance(shape, StructureShape)
        omit = OMIT | OMIT_IN.get(op, frozenset())
        names = [n for n in shape.members if n not in omit or (focus and focus[0] == ("m", n))]
        if meta.get("union"):
            chosen = focus[0][1] if focus and focus[0][0] == "m" else UNION_DEFAULT.get(shape.name, names[0])
            names = [chosen]
        return {n: build(shape.members[n], op, join(path, n), ctx, sub(("m", n))) for n in names}
    if t == "list":
        count = max(meta.get("min", 0), 1)
        return [build(shape.member, op, f"{path}[0]", ctx, sub(("i",))) for _ in range(count)]
    if t == "map":
        key = build(shape.key, op, f"{path}<key>", ctx, None)
        return {key: build(shape.value, op, f"{path}.{key}", ctx, sub(("v",)))}
    if t == "string":
        value = valid_string(shape)
        assert fits(shape, value), (op, path, value)
        return value
    if t in ("integer", "long"):
        return max(int(meta.get("min", 1)), min(int(meta.get("max", 10)), 10))
    if t == "boolean":
        return True
    raise AssertionError(f"{op} {path}: no generator for {t}")


def coherent(op: str, inp: dict[str, Any]) -> dict[str, Any]:
    """Members whose valid values depend on each other."""
    if op == "PutApplicationGrant" and isinstance(inp.get("Grant"), dict) and len(inp["Grant"]) == 1:
        inp["GrantType"] = GRANT_TYPE_OF[next(iter(inp["Grant"]))]
    return inp


def baseline(case_or_op: Case | str, ctx: Context) -> dict[str, Any]:
    if isinstance(case_or_op, Case):
        service, op, focus = case_or_op.service, case_or_op.op, case_or_op.steps
    else:
        service, op, focus = service_of(case_or_op), case_or_op, ()
    return coherent(op, build(input_shape(service, op), op, "", ctx, focus))


def service_of(op: str) -> str:
    return next(s for s, ops in SERVICES.items() if op in ops)


def invalid_string(shape: Shape, valid: str) -> str | None:
    """A string of the same length as ``valid`` that the pattern refuses (None: the pattern accepts anything)."""
    for i in (len(valid) - 1, 0):
        for ch in BREAKERS:
            candidate = valid[:i] + ch + valid[i + 1 :]
            if candidate != valid and not compiled(shape.metadata["pattern"]).fullmatch(candidate):
                return candidate
    return None


def cases_of(service: str, op: str) -> Iterator[Case]:
    ctx = Context("arn:aws:sso:::instance/ssoins-0000000000000000", "d-0000000000")

    def walk(shape: Shape, path: str, steps: tuple[Step, ...]) -> Iterator[Case]:
        t, meta = shape.type_name, shape.metadata
        if t == "structure":
            if meta.get("document"):
                return
            assert isinstance(shape, StructureShape)
            for name, member in shape.members.items():
                sub = (*steps, ("m", name))
                if name in shape.required_members:
                    yield Case(service, op, join(path, name), "required", sub)
                yield from walk(member, join(path, name), sub)
            if meta.get("union") and len(shape.members) > 1:
                yield Case(service, op, path, "union", steps)
            return
        if t in ("list", "map"):
            if meta.get("min", 0) > 0:
                yield Case(service, op, path, "min", steps)
            if "max" in meta:
                yield Case(service, op, path, "max", steps)
            if t == "list":
                yield from walk(shape.member, f"{path}[0]", (*steps, ("i",)))
            else:
                key = build(shape.key, op, f"{path}<key>", ctx, None)
                yield from walk(shape.key, path, (*steps, ("k",)))
                yield from walk(shape.value, f"{path}.{key}", (*steps, ("v",)))
            return
        if t == "string":
            if getattr(shape, "enum", None):
                yield Case(service, op, path, "enum", steps)
                return
            if meta.get("min", 0) > 0:
                yield Case(service, op, path, "min", steps)
            if "max" in meta:
                yield Case(service, op, path, "max", steps)
            if "pattern" in meta and invalid_string(shape, valid_string(shape)) is not None:
                yield Case(service, op, path, "pattern", steps)
            return
        if t in ("integer", "long"):
            for bound in ("min", "max"):
                if bound in meta:
                    yield Case(service, op, path, bound, steps)

    yield from walk(input_shape(service, op), "", ())


CASES = [case for service, ops in SERVICES.items() for op in ops for case in cases_of(service, op)]


def locate(inp: dict[str, Any], shape: Shape, steps: tuple[Step, ...]) -> tuple[Any, Any, Shape]:
    """(container, key in it, shape) of the member the steps lead to; for a map key: (map, its key, key shape)."""
    container: Any = None
    key: Any = None
    value: Any = inp
    for step in steps:
        if step[0] == "m":
            container, key, shape = value, step[1], shape.members[step[1]]
        elif step[0] == "i":
            container, key, shape = value, 0, shape.member
        elif step[0] == "k":
            return value, next(iter(value)), shape.key
        else:
            container, key, shape = value, next(iter(value)), shape.value
        value = container[key]
    return container, key, shape


def make_invalid(case: Case, ctx: Context) -> dict[str, Any]:
    inp = baseline(case, ctx)
    root = input_shape(case.service, case.op)
    if case.kind == "required":
        container, key, _ = locate(inp, root, case.steps)
        del container[key]
        return inp
    container, key, shape = locate(inp, root, case.steps)
    is_key = bool(case.steps) and case.steps[-1] == ("k",)
    current: Any = key if is_key else (container[key] if container is not None else inp)
    meta = shape.metadata
    new: Any
    if case.kind == "union":
        others = [n for n in shape.members if n not in current]
        extra = others[0]
        new = {**current, extra: build(shape.members[extra], case.op, "", ctx, None)}
    elif case.kind == "enum":
        new = BAD_ENUM
    elif shape.type_name in ("integer", "long"):
        new = meta["min"] - 1 if case.kind == "min" else meta["max"] + 1
    elif shape.type_name == "string":
        if case.kind == "min":
            new = current[: meta["min"] - 1]
        elif case.kind == "max":
            new = (current * (meta["max"] // max(len(current), 1) + 2))[: meta["max"] + 1]
        else:
            new = invalid_string(shape, current)
    elif shape.type_name == "list":
        new = current[: meta["min"] - 1] if case.kind == "min" else [current[0]] * (meta["max"] + 1)
    else:  # map
        if case.kind == "min":
            new = {}
        else:
            ((k, v),) = current.items()
            keys = dict.fromkeys([k] + [k[:-1] + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"])
            valid_keys = [x for x in keys if fits(shape.key, x)]
            assert len(valid_keys) > meta["max"], case
            new = {x: v for x in valid_keys[: meta["max"] + 1]}
    if is_key:
        container[new] = container.pop(key)
    elif container is None:
        return dict(new)
    else:
        container[key] = new
    return inp


# -- the server --------------------------------------------------------------------------------------------------


# This module's own server: a baseline may create something (a trusted token issuer on the real instance).
live = private_server("constraints")


@pytest.fixture(scope="module")
def clients(live: LiveServer) -> dict[str, Any]:
    return {
        service: make_admin_client(live, service, config={"parameter_validation": False})
        for service in SERVICES
    }


@pytest.fixture(scope="module")
def ctx(clients: dict[str, Any]) -> Context:
    (instance,) = clients["sso-admin"].list_instances()["Instances"]
    return Context(instance["InstanceArn"], instance["IdentityStoreId"])


def send(clients: dict[str, Any], service: str, op: str, inp: dict[str, Any]) -> tuple[int, str, str]:
    """(HTTP status, error code or "", message) of one call."""
    try:
        resp = getattr(clients[service], xform_name(op))(**inp)
    except ClientError as exc:
        r = exc.response
        return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")
    return resp["ResponseMetadata"]["HTTPStatusCode"], "", ""


# -- tests -------------------------------------------------------------------------------------------------------


def test_every_served_operation_has_cases() -> None:
    assert len(SERVICES["sso-admin"]) >= 49
    assert len(SERVICES["identitystore"]) == 22
    per_op = {case.op for case in CASES}
    assert per_op == {op for ops in SERVICES.values() for op in ops}
    kinds = {case.kind for case in CASES}
    assert kinds == {"required", "union", "enum", "min", "max", "pattern"}
    # nested members are covered, not only top-level ones
    assert any("[0]." in c.path for c in CASES)
    assert any(c.path.count(".") >= 2 for c in CASES)


@pytest.mark.parametrize("op", [op for ops in SERVICES.values() for op in ops])
def test_baseline_passes_validation(clients: dict[str, Any], ctx: Context, op: str) -> None:
    inp = baseline(op, ctx)
    status, code, message = send(clients, service_of(op), op, inp)
    assert status < 500, (status, code, message)
    if op in SEMANTIC_BASELINE:
        assert code == "ValidationException"
        assert "validation error detected" not in message
        member = SEMANTIC_BASELINE[op]
        assert message.startswith(f"Instance {inp[member]} does not exist")
        assert member in message  # the validation error names its member
        return
    assert code != "ValidationException", (json.dumps(inp)[:500], message)
    assert code in ("", "ResourceNotFoundException", "ConflictException"), (code, message)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_member_is_validation_exception(clients: dict[str, Any], ctx: Context, case: Case) -> None:
    inp = make_invalid(case, ctx)
    assert inp != baseline(case, ctx)
    status, code, message = send(clients, case.service, case.op, inp)
    assert (status, code) == (400, "ValidationException"), (json.dumps(inp)[:500], message)
    if len(json.dumps(inp)) > MAX_BODY:
        # a modelled maximum beyond the server's body limit (identitystore NextToken: 65535 characters)
        assert message == f"Request body is too large (limit {MAX_BODY // 1024} KiB)"
    else:
        assert f"Value at '{case.path}'" in message, message


def test_invalid_requests_change_nothing(clients: dict[str, Any], ctx: Context) -> None:
    sso, ids = clients["sso-admin"], clients["identitystore"]

    def state() -> Any:
        return (
            sso.list_instances()["Instances"],
            sso.list_applications(InstanceArn=ctx.instance_arn)["Applications"],
            sso.list_trusted_token_issuers(InstanceArn=ctx.instance_arn)["TrustedTokenIssuers"],
            ids.list_users(IdentityStoreId=ctx.store_id)["Users"],
            ids.list_groups(IdentityStoreId=ctx.store_id)["Groups"],
        )

    before = state()
    assert before[1] and before[3]  # the e2e configuration: there is something to lose
    rejected = 0
    for case in CASES:
        if case.op.startswith(("Create", "Update", "Delete", "Put", "Tag", "Untag")):
            _, code, _ = send(clients, case.service, case.op, make_invalid(case, ctx))
            assert code == "ValidationException"
            rejected += 1
    assert rejected > 300
    assert state() == before
