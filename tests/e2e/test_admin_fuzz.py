"""Fuzzing the configuration plane: no client mistake on sso-admin or identitystore is a 5xx or changes anything.

For every operation the server implements (the handler methods of ``SsoAdminApi`` and ``IdentityStoreApi``, ``skeleton.handler_table``),
hypothesis generates inputs from the operation's botocore input shape: shape-typed values (strings drawn from the
live server's own ARNs, ids, names and scopes, from valid-looking ARNs and ids that name nothing, from near misses
of real ones, from the member's pattern and from arbitrary text; integers in and out of range; lists, maps,
nested structures, unions with zero, one or two members, free-form documents) and, now and then, a scalar of the
wrong JSON type. Each input goes, signed with the bootstrap admin, through a botocore client with
``parameter_validation=False``, so the server sees it as sent.

Every answer must be HTTP 200 with a JSON object of the output shape, or a 4xx JSON error whose code the
operation models (``x-amzn-ErrorType`` and ``__type`` agreeing); never a 5xx, never a body that is not JSON. A
rejected call must leave the stored configuration, its version, the idempotency records and the revocations as
they were. Reads are fuzzed freely; writes mostly fail (random ids), and when one succeeds the pool of realistic
values is refreshed from the store, so later examples name what exists now. Writes run after reads, deletes
last, DeleteInstance at the very end (a module server per xdist worker). The server log must hold no
``Traceback``.

``EDGE_CASES`` adds hand-picked hostile requests a random draw rarely reaches (lone surrogates, NUL, integers
beyond 64 bits, NaN and Infinity, 300-deep documents, forged NextTokens, bodies over 64 KiB...); they run first,
against the intact e2e configuration.

``SSOIDC_FUZZ_EXAMPLES`` (default 15) sets the examples per operation; ``SSOIDC_FUZZ_RANDOM=1`` draws new
examples each run instead of the fixed (derandomized) ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sqlite3
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import regex
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssoidc.aws.models import service_model, validate
from ssoidc.ids import (
    membership_id,
    new_application_arn,
    new_directory_id,
    new_identity_store_id,
    new_issuer_arn,
)
from ssoidc.model import Configuration
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.config import ACCOUNT, ADMIN_KEY, ADMIN_SECRET, JWT_BEARER, allow_account
from tests.helpers.handlers import served
from tests.helpers.servers import LiveServer, start_server

SERVICES = {service: served(service) for service in ("sso-admin", "identitystore")}
SERVICE_OF = {op: service for service, ops in SERVICES.items() for op in ops}
EXAMPLES = int(os.environ.get("SSOIDC_FUZZ_EXAMPLES", "15"))
RANDOM = os.environ.get("SSOIDC_FUZZ_RANDOM", "") == "1"
READ_PREFIXES = ("List", "Describe", "Get", "IsMember")
CUSTOM_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"
GRANT_TYPES = [
    "authorization_code",
    "refresh_token",
    JWT_BEARER,
    "urn:ietf:params:oauth:grant-type:token-exchange",
]
POLICY: dict[str, Any] = allow_account()


def _order(op: str) -> tuple[int, str]:
    """Reads first, then creates and updates, then deletes; DeleteInstance last of all."""
    if op == "DeleteInstance":
        return (3, op)
    if op.startswith(READ_PREFIXES):
        return (0, op)
    if op.startswith(("Delete", "Untag")):
        return (2, op)
    return (1, op)


OPERATIONS = sorted(SERVICE_OF, key=_order)


# -- realistic values: references into the live configuration, resolved when the request is sent ----------------


@dataclass(frozen=True)
class Ref:
    """The ``index``-th value of kind ``kind`` in the live pool (modulo its size), resolved at send time."""

    kind: str
    index: int
    mutate: int = -1  # >= 0: change the character at this position (a near miss)


@dataclass
class Pool:
    values: dict[str, list[str]] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)  # NextTokens the server returned

    def saw(self, doc: dict[str, Any]) -> None:
        token = doc.get("NextToken")
        if isinstance(token, str) and token not in self.tokens:
            self.tokens = [*self.tokens[-19:], token]

    def refresh(self, config: Configuration | None) -> None:
        v: dict[str, list[str]] = {}
        if config is not None:
            inst = config.instance
            apps = [a.arn for a in config.applications]
            issuers = [t.arn for t in config.trusted_token_issuers]
            users = [u.user_id for u in config.users]
            groups = [g.group_id for g in config.groups]
            permission_sets = [p.arn for p in config.permission_sets]
            v = {
                "instance": [inst.instance_arn],
                "store": [inst.identity_store_id],
                "account": [inst.owner_account_id],
                "app": apps,
                "issuer": issuers,
                "user": users,
                "group": groups,
                "membership": [
                    membership_id(g.group_id, u) for g in config.groups for u in g.member_user_ids
                ],
                "scope": sorted({s.scope for a in config.applications for s in a.access_scopes}),
                "tagkey": sorted(
                    {
                        *inst.tags,
                        *(k for a in config.applications for k in a.tags),
                        *(k for t in config.trusted_token_issuers for k in t.tags),
                    }
                ),
                "name": [a.name for a in config.applications]
                + [t.name for t in config.trusted_token_issuers]
                + [u.user_name for u in config.users]
                + [g.display_name for g in config.groups],
                "email": [e.value for u in config.users for e in u.emails],
                "url": [t.issuer_url for t in config.trusted_token_issuers],
                "audience": sorted(
                    {
                        aud
                        for a in config.applications
                        for g in a.grants.values()
                        for ati in getattr(g, "authorized_token_issuers", ())
                        for aud in ati.authorized_audiences
                    }
                ),
                "arn": [inst.instance_arn, *apps, *issuers, *permission_sets],
                "permissionset": permission_sets,
                "target": sorted({a.account_id for a in config.account_assignments} | {"111111111111"}),
                "principal": users + groups,
            }
        v["nexttoken"] = self.tokens
        v["provider"] = [CUSTOM_PROVIDER]
        v["granttype"] = list(GRANT_TYPES)
        self.values = v

    def resolve(self, ref: Ref) -> str:
        if ref.kind == "nexttoken":
            return self.tokens[ref.index % len(self.tokens)] if self.tokens else forge_token(str(ref.index))
        items = self.values.get(ref.kind) or self.values.get("arn") or ["sample"]
        value = items[ref.index % len(items)]
        if ref.mutate >= 0 and value:
            i = ref.mutate % len(value)
            value = value[:i] + ("0" if value[i] != "0" else "1") + value[i + 1 :]
        return value


def kinds_for(member: str) -> list[str]:
    """The realistic kinds worth trying for a member (by its name; list and map members take their parent's)."""
    n = member.lower()
    table = [
        ("applicationproviderarn", ["provider"]),
        ("applicationprovider", ["provider"]),
        ("instancearn", ["instance"]),
        ("applicationarn", ["app"]),
        ("authorizedtargets", ["app", "instance"]),
        ("trustedtokenissuerarn", ["issuer"]),
        ("resourcearn", ["instance", "app", "issuer", "permissionset"]),
        ("permissionsetarn", ["permissionset"]),
        ("targetid", ["target"]),
        ("accountid", ["target"]),
        ("identitystoreid", ["store"]),
        ("membershipid", ["membership"]),
        ("principalid", ["principal"]),
        ("groupids", ["group"]),
        ("groupid", ["group"]),
        ("userid", ["user"]),
        ("granttype", ["granttype"]),
        ("scope", ["scope"]),
        ("tagkeys", ["tagkey"]),
        ("key", ["tagkey"]),
        ("nexttoken", ["nexttoken"]),
        ("applicationaccount", ["account"]),
        ("issuerurl", ["url"]),
        ("authorizedaudiences", ["audience"]),
        ("attributevalue", ["name", "email", "principal"]),
        ("username", ["name"]),
        ("displayname", ["name"]),
        ("name", ["name"]),
        ("value", ["email", "name"]),
    ]
    for suffix, kinds in table:
        if n.endswith(suffix):
            return kinds
    return ["arn", "name", "principal"]


def refs(member: str) -> st.SearchStrategy[Ref]:
    return st.builds(
        Ref,
        st.sampled_from(kinds_for(member)),
        st.integers(0, 50),
        st.one_of(st.just(-1), st.just(-1), st.integers(0, 80)),
    )


HEX = "0123456789abcdef"


def forge_token(after: str) -> str:
    """A NextToken in the server's format that no listing issued (keyset: it lists what sorts after ``after``)."""
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": after}).encode()).decode().rstrip("=")


def fake_ids() -> st.SearchStrategy[str]:
    """Valid-looking identifiers that name nothing."""
    hex_ = st.text(HEX, min_size=16, max_size=16)
    return st.one_of(
        hex_.map(lambda h: f"arn:aws:sso:::instance/ssoins-{h}"),
        hex_.map(lambda h: new_application_arn(ACCOUNT, f"ssoins-{h}")),
        hex_.map(lambda h: new_issuer_arn(ACCOUNT, f"ssoins-{h}")),
        st.builds(new_identity_store_id),
        st.builds(new_directory_id),
        st.builds(lambda: str(uuid.uuid4())),
        st.sampled_from(
            [
                CUSTOM_PROVIDER,
                "arn:aws:sso::aws:applicationProvider/other",
                f"arn:aws:iam::{ACCOUNT}:root",
                "arn:aws:sso:::permissionSet/ssoins-0000000000000000/ps-0000000000000000",
                "https://issuer.example.com",
                "http://127.0.0.1:1/x",
                "aws:identitystore:enterprise",
                "userName",
                "emails.value",
                "displayName",
                "name.givenName",
                "Name",
                "email",
                ACCOUNT,
                "123456789013",
            ]
        ),
    )


# -- strategies from the model -------------------------------------------------------------------------------------


def _compilable(pattern: str) -> bool:
    try:
        import re

        re.compile(pattern)
    except Exception:
        return False
    return "\\p" not in pattern


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


def wrong_scalar() -> st.SearchStrategy[Any]:
    return st.one_of(st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=5))


def document(member: str) -> st.SearchStrategy[Any]:
    if member == "ActorPolicy":
        statement = POLICY["Statement"][0]
        mutated = st.fixed_dictionaries(
            {},
            optional={
                "Version": st.sampled_from(["2012-10-17", "2008-10-17", "x"]),
                "Statement": st.one_of(
                    st.just([statement]),
                    st.lists(
                        st.dictionaries(
                            st.sampled_from([*statement, "NotAction", "Condition", "Sid", "NotPrincipal"]),
                            json_values(),
                            max_size=6,
                        ),
                        max_size=3,
                    ),
                    json_values(),
                ),
                "Id": json_values(),
            },
        )
        return st.one_of(st.just(POLICY), mutated, json_values())
    return st.one_of(
        json_values(),
        refs(member),
        st.sampled_from(
            [
                {"employeeNumber": "1"},
                {"manager": {"value": "x"}},
                {"GivenName": "G", "FamilyName": "F"},
                [{"Value": "a@example.com", "Type": "work", "Primary": True}],
            ]
        ),
    )


SAMPLES = [
    "Sample",
    "sample",
    "userName",
    "emails.value",
    "displayName",
    "aws:identitystore:enterprise",
    "team",
]


USER_PATHS = [
    "userName",
    "displayName",
    "name",
    "name.givenName",
    "name.familyName",
    "name.middleName",
    "Name.Formatted",
    "nickName",
    "emails",
    "emails.value",
    "addresses",
    "phoneNumbers",
    "photos",
    "roles",
    "title",
    "locale",
    "timezone",
    "profileUrl",
    "userType",
    "preferredLanguage",
    "website",
    "birthdate",
    "externalIds",
    "identityStoreId",
    "extensions",
    "description",
    "aws:identitystore:enterprise",
    "aws:identitystore:enterprise.manager",
    "aws:identitystore:enterprise.manager.value",
    "aws:identitystore:enterprise.employeeNumber",
    "AWS:IDENTITYSTORE:ENTERPRISE.COSTCENTER",
    "aws:identitystore:enterprise.nothing",
]
#: Member name -> values that get a call past the handlers' own checks (names are fresh: a create may succeed).
HINTS: dict[str, st.SearchStrategy[Any]] = {
    "UserName": st.text(string.ascii_lowercase, min_size=3, max_size=8).map(lambda s: f"fuzz-{s}"),
    "DisplayName": st.text(string.ascii_lowercase, min_size=3, max_size=8).map(lambda s: f"Fuzz {s}"),
    "GivenName": st.just("Given"),
    "FamilyName": st.just("Family"),
    "Name": st.text(string.ascii_lowercase, min_size=3, max_size=8).map(lambda s: f"fuzz-{s}"),
    "IssuerUrl": st.text(HEX, min_size=4, max_size=8).map(lambda h: f"https://fuzz-{h}.example.com"),
    "ClaimAttributePath": st.sampled_from(["email", "sub", "upn", "a.b"]),
    "IdentityStoreAttributePath": st.sampled_from(["emails.value", "userName", "externalIds.id", "name"]),
    "AttributePath": st.one_of(
        st.sampled_from(["userName", "emails.value", "displayName", "description", "externalIds"]),
        st.sampled_from(USER_PATHS),
    ),
    "RedirectUris": st.sampled_from(
        ["https://app.example.com/cb", "http://127.0.0.1/cb", "com.example.app:/cb"]
    ),
    "AuthorizedAudiences": st.sampled_from(["aud", "test-audience"]),
    "Scope": st.sampled_from(["openid", "aws", "data:read", "fuzz:scope", "sts:identity_context"]),
    "Key": st.sampled_from(["env", "team", "aws:reserved", "k"]),
    "InlinePolicy": st.sampled_from(
        [
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}',
            '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
            "[1, 2]",
            "not json",
        ]
    ),
    "SessionDuration": st.sampled_from(["PT1H", "PT12H", "PT13H", "PT30M", "P1D", "PT2H30M"]),
    "ManagedPolicyArn": st.sampled_from(
        ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"]
    ),
    "Value": st.sampled_from(["fuzz@example.com", "v", ""]),
    "Extensions": st.just("aws:identitystore:enterprise"),
    "NextToken": st.one_of(
        st.text(max_size=30).map(forge_token),
        st.sampled_from(["arn:aws:sso", "0", "d-", "~"]).map(forge_token),
    ),
}


def fits(shape: Shape, value: str) -> bool:
    meta = shape.metadata
    if not meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 30):
        return False
    return "pattern" not in meta or regex.fullmatch(meta["pattern"], value, regex.V0) is not None


def strings(shape: Shape, member: str, valid: bool) -> st.SearchStrategy[Any]:
    """Strings for ``shape``; ``valid``: (mostly) ones the model accepts, else anything."""
    meta = shape.metadata
    enum = getattr(shape, "enum", None)
    if enum:
        if valid:
            return st.sampled_from(list(enum))
        return st.one_of(st.sampled_from(list(enum)), st.text(max_size=12))
    lo, hi = int(meta.get("min", 0)), int(meta.get("max", 2048))
    pattern = meta.get("pattern")
    fitting: list[st.SearchStrategy[Any]] = [refs(member), refs(member)]
    if member in HINTS:
        fitting = [HINTS[member], HINTS[member], refs(member)]
    if pattern and _compilable(pattern):
        fitting.append(st.from_regex(pattern, fullmatch=True).filter(lambda s: lo <= len(s) <= min(hi, 5000)))
    elif pattern:
        fitting.append(st.sampled_from([s for s in SAMPLES if fits(shape, s)] or SAMPLES))
        alphabet = string.ascii_letters + string.digits + " ._-@"
        fitting.append(
            st.text(alphabet, min_size=max(lo, 1), max_size=min(hi, 24)).filter(lambda s: fits(shape, s))
        )
    else:
        fitting.append(st.text(min_size=max(lo, 1), max_size=min(hi, 40)))
    if valid:
        return st.one_of(*fitting)
    return st.one_of(
        *fitting,
        fake_ids(),
        st.text(max_size=40),
        st.text(string.printable, max_size=40),
        st.sampled_from(["", "a" * max(lo - 1, 0), "a" * lo, "a" * min(hi, 5000), "a" * min(hi + 1, 70000)]),
    )


def integers(shape: Shape, valid: bool) -> st.SearchStrategy[int]:
    meta = shape.metadata
    lo, hi = int(meta.get("min", -(2**31))), int(meta.get("max", 2**31 - 1))
    if valid:
        return st.one_of(
            st.sampled_from([lo, hi, min(max(lo, 1), hi), min(max(lo, 2), hi)]), st.integers(lo, hi)
        )
    edges = [0, -1, 1, 2, 100, 2**31, -(2**31) - 1, 2**63 - 1, 2**64, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1]
    return st.one_of(st.sampled_from(edges), st.integers(-(2**40), 2**40))


def structures(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]], tenths: int
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with every ``required`` member and each ``optional`` one with probability ``tenths``/10 (fewer
    optional members: a well-formed example more often gets through every check to the handler's core)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = {n: draw(s) for n, s in required.items()}
        for n, s in optional.items():
            if draw(st.integers(0, 9)) < tenths:
                out[n] = draw(s)
        return out

    return build()


#: Members the model leaves optional but the handlers require: well-formed examples always set them.
ALWAYS = {
    ("CreateUserRequest", "UserName"),
    ("CreateUserRequest", "DisplayName"),
    ("CreateUserRequest", "Name"),
    ("Name", "GivenName"),
    ("Name", "FamilyName"),
    ("CreateGroupRequest", "DisplayName"),
    ("OidcJwtConfiguration", "IssuerUrl"),
}


def for_shape(shape: Shape, member: str = "", valid: bool = False, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for ``shape``. ``valid``: of the right types and within the modelled constraints (mostly: realistic
    references may still miss a pattern); otherwise anything of the shape's JSON structure, now and then a scalar
    of the wrong type, and structures with members missing."""
    t, meta = shape.type_name, shape.metadata
    if t == "structure" and meta.get("document"):
        return document(member)
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if depth > 6:
            return st.just({})
        members = {n: for_shape(m, n, valid, depth + 1) for n, m in shape.members.items()}
        if meta.get("union"):
            names = list(members)
            one = st.sampled_from(names).flatmap(lambda n: st.fixed_dictionaries({n: members[n]}))
            return one if valid else st.one_of(one, one, st.fixed_dictionaries({}, optional=members))
        required = {
            n: members[n]
            for n in shape.members
            if n in shape.required_members or (valid and (shape.name, n) in ALWAYS)
        }
        optional = {n: s for n, s in members.items() if n not in required}
        complete = structures(required, optional, 3 if valid else 5)
        if valid:
            return complete
        return st.one_of(complete, complete, complete, structures({}, members, 5))
    if t == "list":
        lo, hi = int(meta.get("min", 0)), int(meta.get("max", 4))
        item = for_shape(shape.member, member, valid, depth + 1)
        if valid:
            return st.lists(item, min_size=lo, max_size=max(lo, min(hi, 4)))
        return st.lists(item, max_size=min(hi + 1, 5))
    if t == "map":
        lo, hi = int(meta.get("min", 0)), int(meta.get("max", 3))
        keys, values = strings(shape.key, member, valid), for_shape(shape.value, member, valid, depth + 1)
        if valid:
            return st.dictionaries(keys, values, min_size=lo, max_size=max(lo, min(hi, 3)))
        return st.dictionaries(keys, values, max_size=3)
    if t == "string":
        s = strings(shape, member, valid)
        return s if valid else st.one_of(s, s, s, wrong_scalar())
    if t in ("integer", "long"):
        i = integers(shape, valid)
        return i if valid else st.one_of(i, i, i, wrong_scalar())
    if t == "boolean":
        return (
            st.booleans() if valid else st.one_of(st.booleans(), st.booleans(), st.booleans(), wrong_scalar())
        )
    if t in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    raise AssertionError(f"{member}: no strategy for {t}")


def inputs(op: str) -> st.SearchStrategy[Any]:
    """Two thirds of the examples well-formed (they reach the handlers), half anything."""
    shape = input_shape(op)
    valid = for_shape(shape, valid=True)
    return st.one_of(valid, valid, for_shape(shape, valid=False))


def input_shape(op: str) -> StructureShape:
    shape = service_model(SERVICE_OF[op]).operation_model(op).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def resolve(value: Any, pool: Pool) -> Any:
    if isinstance(value, Ref):
        return pool.resolve(value)
    if isinstance(value, dict):
        return {resolve(k, pool): resolve(v, pool) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, pool) for v in value]
    return value


# -- the server ----------------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def doc(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fuzz:
    server: LiveServer
    clients: dict[str, Any]
    store: SqliteStore
    loop: asyncio.AbstractEventLoop
    pool: Pool
    db: sqlite3.Connection
    last: list[Response] = field(default_factory=list)

    def config(self) -> tuple[Configuration | None, int]:
        return self.loop.run_until_complete(self.store.load_configuration())

    def state(self) -> Any:
        config, version = self.config()
        counts = self.db.execute(
            "SELECT (SELECT COUNT(*) FROM idempotency), (SELECT COUNT(*) FROM revoked_subjects)"
        ).fetchone()
        return (config, version, *counts)

    def send(self, op: str, inp: dict[str, Any]) -> Response:
        """Send ``inp`` as ``op`` and return the raw HTTP answer (the client's parsing does not matter here)."""
        self.last.clear()
        with contextlib.suppress(ClientError):
            getattr(self.clients[SERVICE_OF[op]], xform_name(op))(**inp)
        assert len(self.last) == 1, f"{len(self.last)} attempts"
        return self.last[0]

    def log_size(self) -> int:
        return (self.server.data_dir.parent / "server.log").stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.server.data_dir.parent / "server.log", "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    """This module's own server (fuzzed writes may delete anything, the instance included)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    server = start_server(tmp)
    loop = asyncio.new_event_loop()
    store = server.store()
    assert isinstance(store, SqliteStore)
    holder: list[Response] = []

    def capture(response_dict: dict[str, Any], **_: Any) -> None:
        holder.append(
            Response(
                int(response_dict["status_code"]),
                bytes(response_dict["body"]),
                {k.lower(): v for k, v in response_dict["headers"].items()},
            )
        )

    clients = {}
    for service in SERVICES:
        c = boto3.client(
            service,
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_SECRET,
            # one attempt: botocore's max_attempts counts retries only, so max_attempts=1 would retry a 5xx once
            config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
        )
        c.meta.events.register("before-parse.*.*", capture)
        clients[service] = c
    db = sqlite3.connect(f"file:{server.data_dir / 'ssoidc.db'}?mode=ro", uri=True, isolation_level=None)
    f = Fuzz(server, clients, store, loop, Pool(), db, holder)
    f.pool.refresh(f.config()[0])
    try:
        yield f
    finally:
        db.close()
        loop.run_until_complete(store.close())
        loop.close()
        server.stop()
    log = (tmp / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[max(log.index("Traceback") - 300, 0) :][:6000]


def modelled_errors(op: str) -> set[str]:
    return {e.name for e in service_model(SERVICE_OF[op]).operation_model(op).error_shapes}


def check_answer(fuzz: Fuzz, op: str, inp: dict[str, Any], resp: Response) -> None:
    where = f"{op} {json.dumps(inp, default=str)[:1500]}"
    assert resp.status < 500, (resp.status, resp.body[:500], where)
    try:
        doc = resp.doc
    except ValueError:
        raise AssertionError(f"not JSON: {resp.status} {resp.body[:300]!r} {where}") from None
    assert isinstance(doc, dict), where
    assert resp.headers.get("content-type", "").startswith("application/x-amz-json-1.1"), where
    if resp.status == 200:
        output = service_model(SERVICE_OF[op]).operation_model(op).output_shape
        if output is not None:
            validate(output, doc, "")
        return
    assert 400 <= resp.status < 500, where
    code = resp.headers.get("x-amzn-errortype", "")
    assert doc.get("__type") == code, (doc, where)
    assert code in modelled_errors(op), (code, doc, where)


def fuzz_one(fuzz: Fuzz, op: str, raw: dict[str, Any]) -> Response:
    inp = resolve(raw, fuzz.pool)
    before = fuzz.state()
    resp = fuzz.send(op, inp)
    check_answer(fuzz, op, inp, resp)
    if resp.status != 200 or op.startswith(READ_PREFIXES):
        after = fuzz.state()
        assert after == before, f"{op} answered {resp.status} {resp.body[:300]!r} but changed the state"
    else:
        fuzz.pool.refresh(fuzz.config()[0])
    if resp.status == 200:
        fuzz.pool.saw(resp.doc)
    return resp


STRATEGIES = {op: inputs(op) for op in OPERATIONS}
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not RANDOM,
    suppress_health_check=list(HealthCheck),
)


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _token(doc: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


STATEMENT = POLICY["Statement"][0]
#: Hand-picked hostile requests (the corners a random draw rarely reaches): each must be a modelled 4xx that
#: changes nothing. ``{store}``, ``{instance}``, ``{app}``, ``{user}``, ``{group}`` name live resources.
EDGE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("lone-surrogate", "CreateGroup", {"IdentityStoreId": "{store}", "DisplayName": "bad\ud800name"}),
    ("nul-character", "CreateUser", {"IdentityStoreId": "{store}", "UserName": "a\x00b", "DisplayName": "D"}),
    ("integer-beyond-64-bit", "ListUsers", {"IdentityStoreId": "{store}", "MaxResults": 2**70}),
    ("integer-as-float", "ListApplications", {"InstanceArn": "{instance}", "MaxResults": 1.0}),
    ("infinity", "ListGroups", {"IdentityStoreId": "{store}", "MaxResults": float("inf")}),
    ("nan", "ListGroups", {"IdentityStoreId": "{store}", "MaxResults": float("nan")}),
    ("boolean-as-integer", "ListGroups", {"IdentityStoreId": "{store}", "MaxResults": True}),
    ("integer-as-string", "DescribeUser", {"IdentityStoreId": "{store}", "UserId": 1234}),
    ("null-required", "DescribeGroup", {"IdentityStoreId": "{store}", "GroupId": None}),
    ("body-over-64-kib", "CreateGroup", {"IdentityStoreId": "{store}", "DisplayName": "g" * 70000}),
    (
        "nested-policy-300-deep",
        "PutApplicationAuthenticationMethod",
        {
            "ApplicationArn": "{app}",
            "AuthenticationMethodType": "IAM",
            "AuthenticationMethod": {
                "Iam": {"ActorPolicy": {**POLICY, "Statement": [{**STATEMENT, "Sid": _deep(300)}]}}
            },
        },
    ),
    (
        "nested-condition-value",
        "PutApplicationAuthenticationMethod",
        {
            "ApplicationArn": "{app}",
            "AuthenticationMethodType": "IAM",
            "AuthenticationMethod": {
                "Iam": {
                    "ActorPolicy": {
                        **POLICY,
                        "Statement": [
                            {**STATEMENT, "Condition": {"StringEquals": {"aws:username": _deep(200)}}}
                        ],
                    }
                }
            },
        },
    ),
    (
        "policy-not-an-object",
        "PutApplicationAuthenticationMethod",
        {
            "ApplicationArn": "{app}",
            "AuthenticationMethodType": "IAM",
            "AuthenticationMethod": {"Iam": {"ActorPolicy": ["not", "an", "object"]}},
        },
    ),
    ("next-token-not-base64", "ListUsers", {"IdentityStoreId": "{store}", "NextToken": "%%%%"}),
    ("next-token-list", "ListUsers", {"IdentityStoreId": "{store}", "NextToken": _token([1, 2])}),
    (
        "next-token-after-number",
        "ListGroups",
        {"IdentityStoreId": "{store}", "NextToken": _token({"v": 1, "after": 5})},
    ),
    (
        "next-token-wrong-version",
        "ListApplicationAccessScopes",
        {
            "ApplicationArn": "{app}",
            "NextToken": _token({"v": 2, "after": "x"}),
        },
    ),
    ("max-results-zero", "ListApplicationAssignments", {"ApplicationArn": "{app}", "MaxResults": 0}),
    (
        "update-user-deep-value",
        "UpdateUser",
        {
            "IdentityStoreId": "{store}",
            "UserId": "{user}",
            "Operations": [{"AttributePath": "addresses", "AttributeValue": _deep(200)}],
        },
    ),
    (
        "update-user-required-removed",
        "UpdateUser",
        {
            "IdentityStoreId": "{store}",
            "UserId": "{user}",
            "Operations": [{"AttributePath": "userName"}],
        },
    ),
    (
        "update-user-manager-object",
        "UpdateUser",
        {
            "IdentityStoreId": "{store}",
            "UserId": "{user}",
            "Operations": [
                {"AttributePath": "aws:identitystore:enterprise.manager.value", "AttributeValue": {"a": 1}}
            ],
        },
    ),
    (
        "update-group-number",
        "UpdateGroup",
        {
            "IdentityStoreId": "{store}",
            "GroupId": "{group}",
            "Operations": [{"AttributePath": "displayName", "AttributeValue": 12}],
        },
    ),
    (
        "extension-not-object",
        "CreateUser",
        {
            "IdentityStoreId": "{store}",
            "UserName": "edge-ext",
            "DisplayName": "D",
            "Name": {"GivenName": "G", "FamilyName": "F"},
            "Extensions": {"aws:identitystore:enterprise": ["x"]},
        },
    ),
    (
        "get-user-id-object-value",
        "GetUserId",
        {
            "IdentityStoreId": "{store}",
            "AlternateIdentifier": {
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": {"a": [1]}}
            },
        },
    ),
    (
        "union-two-members",
        "GetGroupId",
        {
            "IdentityStoreId": "{store}",
            "AlternateIdentifier": {
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "team"},
                "ExternalId": {"Issuer": "i", "Id": "x"},
            },
        },
    ),
    (
        "grant-member-mismatch",
        "PutApplicationGrant",
        {
            "ApplicationArn": "{app}",
            "GrantType": "refresh_token",
            "Grant": {
                "JwtBearer": {
                    "AuthorizedTokenIssuers": [
                        {"TrustedTokenIssuerArn": "{app}", "AuthorizedAudiences": ["a"]}
                    ]
                }
            },
        },
    ),
    (
        "redirect-uri-not-absolute",
        "PutApplicationGrant",
        {
            "ApplicationArn": "{app}",
            "GrantType": "authorization_code",
            "Grant": {"AuthorizationCode": {"RedirectUris": ["http://[::1/cb"]}},
        },
    ),
    (
        "duplicate-tag-keys",
        "TagResource",
        {"ResourceArn": "{app}", "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]},
    ),
    ("reserved-tag-key", "CreateInstance", {"Tags": [{"Key": "aws:x", "Value": "1"}]}),
]


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


@pytest.mark.parametrize(
    ("op", "inp"), [(op, inp) for _, op, inp in EDGE_CASES], ids=[c[0] for c in EDGE_CASES]
)
def test_hostile_request_is_rejected_and_changes_nothing(fuzz: Fuzz, op: str, inp: dict[str, Any]) -> None:
    config, _ = fuzz.config()
    assert config is not None and config.instance.status == "ACTIVE"
    names = {
        "{store}": config.instance.identity_store_id,
        "{instance}": config.instance.instance_arn,
        "{app}": config.applications[0].arn,
        "{user}": config.users[0].user_id,
        "{group}": config.groups[0].group_id,
    }
    inp = fill(inp, names)
    before = fuzz.state()
    resp = fuzz.send(op, inp)
    check_answer(fuzz, op, inp, resp)
    assert resp.status == 400, resp.body
    assert fuzz.state() == before


@pytest.mark.parametrize("op", OPERATIONS)
def test_fuzz_operation(fuzz: Fuzz, op: str) -> None:
    offset = fuzz.log_size()
    statuses: list[int] = []

    @FUZZ_SETTINGS
    @given(raw=STRATEGIES[op])
    def run(raw: dict[str, Any]) -> None:
        statuses.append(fuzz_one(fuzz, op, raw).status)

    run()
    assert statuses
    log = fuzz.log_since(offset)
    assert "Traceback" not in log, log[log.index("Traceback") :][:4000]


def test_the_fuzzed_operations_are_the_documented_ones() -> None:
    """The fuzz covers what the servers' handler tables serve (by construction); this pins those tables against
    what docs/admin-api.md and docs/permission-sets.md promise (all 79 sso-admin and all 22 identitystore
    operations), and checks that every one is a modelled operation of its service."""
    assert len(SERVICES["sso-admin"]) == 79
    assert set(SERVICES["identitystore"]) == set(service_model("identitystore").operation_names)
    for service, ops in SERVICES.items():
        assert set(ops) <= set(service_model(service).operation_names), service
