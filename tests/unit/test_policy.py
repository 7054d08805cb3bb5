"""Tests for ssoidc.iam.policy: table-driven rules, PolicyError paths, safe explanations, and properties."""

from __future__ import annotations

import fnmatch
import string
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssoidc.iam.policy import (
    Decision,
    Evaluation,
    Policy,
    PolicyError,
    RequestContext,
    combine,
    wildcard_match,
)

ACCT = "111122223333"
OTHER = "444455556666"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
ROOT = f"arn:aws:iam::{ACCT}:root"
ROLE = f"arn:aws:iam::{ACCT}:role/MyRole"
ROLE_WITH_PATH = f"arn:aws:iam::{ACCT}:role/team/MyRole"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/MyRole/session1"
SESSION2 = f"arn:aws:sts::{ACCT}:assumed-role/MyRole/session2"
OTHER_ROLE_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/OtherRole/session1"
FED = f"arn:aws:sts::{ACCT}:federated-user/carol"
OTHER_USER = f"arn:aws:iam::{OTHER}:user/mallory"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
ACTION = "sso-oauth:CreateTokenWithIAM"
APP = f"arn:aws:sso::{ACCT}:application/ssoins-1111/apl-2222"
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z

_DROP = object()


def ctx(principal: str = ALICE, **kw: Any) -> RequestContext:
    kw.setdefault("action", ACTION)
    kw.setdefault("resource", APP)
    kw.setdefault("current_time", NOW)
    return RequestContext(principal_arn=principal, **kw)


def stmt(**overrides: Any) -> dict[str, Any]:
    """An Allow statement for alice on APP; override or drop (``_DROP``) any element."""
    s: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": ACTION, "Resource": APP}
    s.update(overrides)
    return {k: v for k, v in s.items() if v is not _DROP}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def evaluate(
    statements: Sequence[dict[str, Any]], context: RequestContext, kind: str = "resource"
) -> Evaluation:
    return Policy.parse(doc(*statements), kind=kind).evaluate(context)  # type: ignore[arg-type]


def decide(statements: Sequence[dict[str, Any]], context: RequestContext, kind: str = "resource") -> Decision:
    return evaluate(statements, context, kind).decision


A, X, N = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY  # N: implicit deny ("no")


# ---------------------------------------------------------------------------------------------------------
# Principal


PRINCIPAL_CASES: list[tuple[str, object, str, str | None, bool]] = [
    ("lone star", "*", ALICE, None, True),
    ("lone star, unparseable caller", "*", "not-an-arn", None, True),
    ("AWS star", {"AWS": "*"}, SESSION, None, True),
    ("user exact", {"AWS": ALICE}, ALICE, None, True),
    ("other user", {"AWS": ALICE}, BOB, None, False),
    ("user case-sensitive", {"AWS": ALICE}, f"arn:aws:iam::{ACCT}:user/Alice", None, False),
    ("user vs root", {"AWS": ALICE}, ROOT, None, False),
    ("user list", {"AWS": [BOB, ALICE]}, ALICE, None, True),
    ("account id: user", {"AWS": ACCT}, ALICE, None, True),
    ("account id: root", {"AWS": ACCT}, ROOT, None, True),
    ("account id: session", {"AWS": ACCT}, SESSION, None, True),
    ("account id: federated", {"AWS": ACCT}, FED, None, True),
    ("account id: other account", {"AWS": ACCT}, OTHER_USER, None, False),
    ("root arn: user", {"AWS": ROOT}, ALICE, None, True),
    ("root arn: session", {"AWS": ROOT}, SESSION, None, True),
    ("root arn: other account", {"AWS": ROOT}, OTHER_USER, None, False),
    ("root arn: other partition", {"AWS": f"arn:aws-cn:iam::{ACCT}:root"}, ALICE, None, False),
    ("role: derived session", {"AWS": ROLE}, SESSION, None, True),
    ("role: any session", {"AWS": ROLE}, SESSION2, None, True),
    ("role: given role_arn", {"AWS": ROLE}, SESSION, ROLE, True),
    ("role: path mismatch with role_arn", {"AWS": ROLE}, SESSION, ROLE_WITH_PATH, False),
    ("role with path: matching role_arn", {"AWS": ROLE_WITH_PATH}, SESSION, ROLE_WITH_PATH, True),
    ("role with path: role_arn without path", {"AWS": ROLE_WITH_PATH}, SESSION, ROLE, False),
    ("role with path: no role_arn, by name", {"AWS": ROLE_WITH_PATH}, SESSION, None, True),
    ("role: other role's session", {"AWS": ROLE}, OTHER_ROLE_SESSION, None, False),
    ("role: same name other account", {"AWS": f"arn:aws:iam::{OTHER}:role/MyRole"}, SESSION, None, False),
    ("role: not a user", {"AWS": ROLE}, ALICE, None, False),
    (
        "role: inconsistent role_arn fails closed",
        {"AWS": ROLE},
        SESSION,
        f"arn:aws:iam::{OTHER}:role/MyRole",
        False,
    ),
    (
        "account: inconsistent role_arn still same account",
        {"AWS": ACCT},
        SESSION,
        f"arn:aws:iam::{OTHER}:role/X",
        True,
    ),
    ("session exact", {"AWS": SESSION}, SESSION, None, True),
    ("session: other session", {"AWS": SESSION}, SESSION2, None, False),
    ("federated user exact", {"AWS": FED}, FED, None, True),
    ("unparseable caller", {"AWS": ALICE}, "not-an-arn", None, False),
    ("Service never matches", {"Service": "ec2.amazonaws.com"}, ALICE, None, False),
    ("Federated never matches", {"Federated": "cognito-identity.amazonaws.com"}, ALICE, None, False),
    ("CanonicalUser never matches", {"CanonicalUser": "79a59df900b949e55d96a1e698fbace"}, ALICE, None, False),
    ("mixed types", {"AWS": ALICE, "Service": "ec2.amazonaws.com"}, ALICE, None, True),
]


@pytest.mark.parametrize(
    ("principal", "caller", "role_arn", "expected"),
    [c[1:] for c in PRINCIPAL_CASES],
    ids=[c[0] for c in PRINCIPAL_CASES],
)
def test_principal(principal: object, caller: str, role_arn: str | None, expected: bool) -> None:
    result = decide([stmt(Principal=principal)], ctx(caller, role_arn=role_arn))
    assert result is (A if expected else N)


ALLOW_ALL = {"Sid": "AllowAll", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}

NOT_PRINCIPAL_CASES: list[tuple[str, object, str, Decision]] = [
    ("user listed without account: still denied", [ALICE], ALICE, X),
    ("user and root arn listed: exempt", [ALICE, ROOT], ALICE, A),
    ("user and account id listed: exempt", [ALICE, ACCT], ALICE, A),
    ("other user of listed account: denied", [ALICE, ROOT], BOB, X),
    ("account listed: root exempt", [ROOT], ROOT, A),
    ("account listed: users not exempt", [ROOT], ALICE, X),
    ("role without account: sessions denied", [ROLE], SESSION, X),
    ("role and account: sessions exempt", [ROLE, ROOT], SESSION, A),
    ("session and account without role: denied", [SESSION, ROOT], SESSION, X),
    ("session, role and account: exempt", [SESSION, ROLE, ROOT], SESSION, A),
    ("other account listed: denied", [OTHER_USER, OTHER_ROOT], ALICE, X),
    ("star: nobody denied", "*", ALICE, A),
]


@pytest.mark.parametrize(
    ("listed", "caller", "expected"),
    [c[1:] for c in NOT_PRINCIPAL_CASES],
    ids=[c[0] for c in NOT_PRINCIPAL_CASES],
)
def test_not_principal_deny(listed: object, caller: str, expected: Decision) -> None:
    principal = listed if listed == "*" else {"AWS": listed}
    deny = stmt(Sid="DenyOthers", Effect="Deny", Principal=_DROP, NotPrincipal=principal)
    assert decide([ALLOW_ALL, deny], ctx(caller)) is expected


# ---------------------------------------------------------------------------------------------------------
# Action / NotAction, Resource / NotResource


ACTION_CASES: list[tuple[object, str, bool]] = [
    (ACTION, ACTION, True),
    ("sso-oauth:createtokenwithiam", ACTION, True),
    (ACTION, "SSO-OAUTH:CREATETOKENWITHIAM", True),
    ("SSO-OAUTH:*", ACTION, True),
    ("sso-oauth:Create*", ACTION, True),
    ("sso-oauth:*WithIAM", ACTION, True),
    ("sso-oauth:CreateTokenWithIAM*", ACTION, True),
    ("sso-oauth:CreateTokenWith???", ACTION, True),
    ("sso-oauth:CreateTokenWith??", ACTION, False),
    ("s?o-oauth:CreateTokenWithIAM", ACTION, True),
    ("sso-oauth:CreateToken", ACTION, False),
    ("sso:*", ACTION, False),
    ("*", ACTION, True),
    (["sso:List*", "sso-oauth:Create*"], ACTION, True),
    (["sso:List*", "identitystore:*"], ACTION, False),
]


@pytest.mark.parametrize(("pattern", "action", "expected"), ACTION_CASES)
def test_action(pattern: object, action: str, expected: bool) -> None:
    assert decide([stmt(Action=pattern)], ctx(action=action)) is (A if expected else N)


RESOURCE_CASES: list[tuple[object, str, bool]] = [
    (APP, APP, True),
    ("*", APP, True),
    (APP.replace("application", "Application"), APP, False),
    (f"arn:aws:sso::{ACCT}:application/*", APP, True),
    (f"arn:aws:sso::{ACCT}:application/ssoins-1111/apl-????", APP, True),
    (f"arn:aws:sso::{ACCT}:application/ssoins-1111/apl-???", APP, False),
    (f"arn:aws:sso::{OTHER}:application/*", APP, False),
    ("arn:aws:sso::*:application/*", APP, True),
    ("arn:aws:sso:*", APP, True),  # a '*' ending a segment may cross ':'
    ("arn:aws:s3:::a*", "arn:aws:s3:::a:xb", True),
    ("arn:aws:s3:::a*b", "arn:aws:s3:::a:xb", False),  # a '*' inside a segment may not
    ("arn:aws:s3:::a?b", "arn:aws:s3:::a:b", False),
    ("arn:aws:s3:::bucket/*/x", "arn:aws:s3:::bucket/p/q/x", True),
    ([f"arn:aws:sso::{OTHER}:application/*", APP], APP, True),
]


@pytest.mark.parametrize(("pattern", "resource", "expected"), RESOURCE_CASES)
def test_resource(pattern: object, resource: str, expected: bool) -> None:
    assert decide([stmt(Resource=pattern)], ctx(resource=resource)) is (A if expected else N)


NOT_ELEMENT_CASES: list[tuple[str, list[dict[str, Any]], RequestContext, Decision]] = [
    ("NotAction excludes other service", [stmt(Action=_DROP, NotAction="sso:*")], ctx(), A),
    ("NotAction excludes this action", [stmt(Action=_DROP, NotAction="sso-oauth:*")], ctx(), N),
    ("NotResource excludes this resource", [stmt(Resource=_DROP, NotResource=APP)], ctx(), N),
    ("NotResource excludes other", [stmt(Resource=_DROP, NotResource=f"arn:aws:sso::{OTHER}:*")], ctx(), A),
    (
        "Deny NotAction: other actions denied",
        [ALLOW_ALL, stmt(Effect="Deny", Principal="*", Action=_DROP, NotAction=ACTION)],
        ctx(action="sso-oauth:CreateToken"),
        X,
    ),
    (
        "Deny NotAction: named action not denied",
        [ALLOW_ALL, stmt(Effect="Deny", Principal="*", Action=_DROP, NotAction=ACTION)],
        ctx(),
        A,
    ),
    (
        "Deny NotResource: other resources denied",
        [ALLOW_ALL, stmt(Effect="Deny", Principal="*", Resource=_DROP, NotResource=APP)],
        ctx(resource=f"arn:aws:sso::{ACCT}:application/ssoins-1111/apl-9999"),
        X,
    ),
]


@pytest.mark.parametrize(
    ("statements", "context", "expected"),
    [c[1:] for c in NOT_ELEMENT_CASES],
    ids=[c[0] for c in NOT_ELEMENT_CASES],
)
def test_not_action_not_resource(
    statements: list[dict[str, Any]], context: RequestContext, expected: Decision
) -> None:
    assert decide(statements, context) is expected


# ---------------------------------------------------------------------------------------------------------
# Conditions: (operator, key, policy value, context overrides, expected condition result)

MISSING: dict[str, Any] = {}


def extra(**kv: str | list[str]) -> dict[str, Any]:
    return {"extra": kv}


CONDITION_CASES: list[tuple[str, str, object, dict[str, Any], bool]] = [
    # String
    ("StringEquals", "team", "blue", extra(team="blue"), True),
    ("StringEquals", "team", "blue", extra(team="Blue"), False),
    ("StringEquals", "team", ["red", "blue"], extra(team="blue"), True),
    ("StringEquals", "team", "blue", MISSING, False),
    ("StringEquals", "team", "bl*", extra(team="blue"), False),
    ("StringEquals", "team", "bl*", extra(team="bl*"), True),
    ("StringEquals", "TEAM", "blue", extra(team="blue"), True),
    ("StringEquals", "team", "blue", extra(TeAm="blue"), True),
    ("StringEquals", "team", "${aws:username}", extra(team="alice"), False),
    ("StringEquals", "team", "${aws:username}", extra(team="${aws:username}"), True),
    ("StringEquals", "n", 10, extra(n="10"), True),
    ("StringNotEquals", "team", "blue", extra(team="blue"), False),
    ("StringNotEquals", "team", "blue", extra(team="red"), True),
    ("StringNotEquals", "team", ["red", "blue"], extra(team="blue"), False),
    ("StringNotEquals", "team", "blue", MISSING, True),
    ("StringEqualsIgnoreCase", "team", "BLUE", extra(team="blue"), True),
    ("StringEqualsIgnoreCase", "team", "BLUE", extra(team="red"), False),
    ("StringEqualsIgnoreCase", "team", "BLUE", MISSING, False),
    ("StringNotEqualsIgnoreCase", "team", "BLUE", extra(team="blue"), False),
    ("StringNotEqualsIgnoreCase", "team", "BLUE", extra(team="red"), True),
    ("StringNotEqualsIgnoreCase", "team", "BLUE", MISSING, True),
    ("StringLike", "team", "bl*", extra(team="blue"), True),
    ("StringLike", "team", "b?ue", extra(team="blue"), True),
    ("StringLike", "team", "b?e", extra(team="blue"), False),
    ("StringLike", "team", "Bl*", extra(team="blue"), False),
    ("StringLike", "team", ["r*", "g*"], extra(team="blue"), False),
    ("StringLike", "team", "bl*", MISSING, False),
    ("StringNotLike", "team", "bl*", extra(team="blue"), False),
    ("StringNotLike", "team", "bl*", extra(team="red"), True),
    ("StringNotLike", "team", "bl*", MISSING, True),
    # ARN
    ("ArnEquals", "aws:PrincipalArn", ALICE, {}, True),
    ("ArnEquals", "aws:PrincipalArn", BOB, {}, False),
    ("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::*:user/alice", {}, True),
    ("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:user/*", {}, True),
    ("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:role/*", {}, False),
    ("ArnLike", "src", "arn:aws:iam::*:user/alice", extra(src="arn:aws:iam::1:2:user/alice"), False),
    ("ArnLike", "src", "arn:aws:iam::*:user/alice", extra(src="alice"), False),
    ("ArnLike", "src", "arn:aws:iam::*:user/alice", MISSING, False),
    ("ArnNotEquals", "aws:PrincipalArn", BOB, {}, True),
    ("ArnNotEquals", "aws:PrincipalArn", ALICE, {}, False),
    ("ArnNotLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:role/*", {}, True),
    ("ArnNotLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:user/*", {}, False),
    ("ArnNotLike", "src", f"arn:aws:iam::{ACCT}:user/*", MISSING, True),
    # IP
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "10.1.2.3"}, True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "11.0.0.1"}, False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", MISSING, False),
    ("IpAddress", "aws:SourceIp", "203.0.113.5", {"source_ip": "203.0.113.5"}, True),
    ("IpAddress", "aws:SourceIp", "10.0.0.1/8", {"source_ip": "10.200.0.1"}, True),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "192.168.0.0/16"], {"source_ip": "192.168.1.1"}, True),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", {"source_ip": "2001:db8::1"}, True),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", {"source_ip": "2001:db9::1"}, False),
    ("IpAddress", "aws:SourceIp", "::/0", {"source_ip": "10.0.0.1"}, False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "::ffff:10.1.2.3"}, True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "garbage"}, False),
    (
        "IpAddress",
        "aws:SourceIp",
        "10.0.0.0/8",
        extra(**{"aws:SourceIp": "10.1.1.1"}),
        False,
    ),  # not spoofable
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "10.1.2.3"}, False),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "11.0.0.1"}, True),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", MISSING, True),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "garbage"}, True),
    # Date (NOW = 2023-11-14T22:13:20Z)
    ("DateEquals", "aws:CurrentTime", "2023-11-14T22:13:20Z", {}, True),
    ("DateEquals", "aws:CurrentTime", "1700000000", {}, True),
    ("DateEquals", "aws:CurrentTime", "2023-11-14T22:13:21Z", {}, False),
    ("DateEquals", "aws:CurrentTime", "2023-11-14T22:13:20Z", {"current_time": NOW + 0.9}, True),
    ("DateNotEquals", "aws:CurrentTime", "2023-11-14T22:13:20Z", {}, False),
    ("DateNotEquals", "aws:CurrentTime", "2023-11-14T22:13:21Z", {}, True),
    ("DateLessThan", "aws:CurrentTime", "2024-01-01T00:00:00Z", {}, True),
    ("DateLessThan", "aws:CurrentTime", "2023-01-01", {}, False),
    ("DateLessThan", "aws:CurrentTime", "2023-11-14T23:13:20+02:00", {}, False),  # = 21:13:20Z
    ("DateLessThanEquals", "aws:CurrentTime", "2023-11-14T22:13:20Z", {}, True),
    ("DateLessThanEquals", "aws:CurrentTime", "2023-11-14T22:13:19Z", {}, False),
    ("DateGreaterThan", "aws:CurrentTime", "2023-01-01", {}, True),
    ("DateGreaterThan", "aws:CurrentTime", "1700000000", {}, False),
    ("DateGreaterThanEquals", "aws:CurrentTime", "1700000000", {}, True),
    ("DateGreaterThanEquals", "aws:CurrentTime", "1700000001", {}, False),
    ("DateLessThan", "aws:EpochTime", 1700000001, {}, True),
    ("DateLessThan", "aws:EpochTime", 1700000000, {}, False),
    ("DateLessThan", "created", "2023-01-01T00:00:00Z", extra(created="2023-01-01T00:00:00+02:00"), True),
    ("DateLessThan", "created", "2023-01-01T00:00:00Z", extra(created="1600000000"), True),
    ("DateLessThan", "created", "2023-01-01T00:00:00Z", extra(created="yesterday"), False),
    ("DateLessThan", "created", "2023-01-01T00:00:00Z", MISSING, False),
    ("DateNotEquals", "created", "2023-01-01T00:00:00Z", MISSING, True),
    ("DateEquals", "aws:currenttime", "2023-11-14T22:13:20Z", {}, True),
    ("StringEquals", "aws:CurrentTime", "2023-11-14T22:13:20Z", {}, True),
    ("StringEquals", "aws:EpochTime", "1700000000", {}, True),
    # Numeric
    ("NumericEquals", "n", "10", extra(n="10"), True),
    ("NumericEquals", "n", "10", extra(n="10.0"), True),
    ("NumericEquals", "n", 10, extra(n="11"), False),
    ("NumericEquals", "n", "10", extra(n="ten"), False),
    ("NumericEquals", "n", "10", MISSING, False),
    ("NumericNotEquals", "n", "10", extra(n="10"), False),
    ("NumericNotEquals", "n", "10", extra(n="11"), True),
    ("NumericNotEquals", "n", "10", MISSING, True),
    ("NumericLessThan", "n", "10", extra(n="9"), True),
    ("NumericLessThan", "n", "10", extra(n="10"), False),
    ("NumericLessThanEquals", "n", "10", extra(n="10"), True),
    ("NumericLessThanEquals", "n", "10", extra(n="11"), False),
    ("NumericGreaterThan", "n", "10", extra(n="11"), True),
    ("NumericGreaterThan", "n", "10", extra(n="10"), False),
    ("NumericGreaterThanEquals", "n", "1e1", extra(n="10"), True),
    ("NumericGreaterThanEquals", "n", "10", extra(n="9.5"), False),
    ("NumericLessThan", "n", "10", extra(n="abc"), False),
    # Bool
    ("Bool", "mfa", "true", extra(mfa="true"), True),
    ("Bool", "mfa", "true", extra(mfa="false"), False),
    ("Bool", "mfa", "TRUE", extra(mfa="True"), True),
    ("Bool", "mfa", True, extra(mfa="true"), True),
    ("Bool", "mfa", False, extra(mfa="true"), False),
    ("Bool", "mfa", "true", MISSING, False),
    # Null
    ("Null", "mfa", "true", MISSING, True),
    ("Null", "mfa", "true", extra(mfa="false"), False),
    ("Null", "mfa", "false", extra(mfa="false"), True),
    ("Null", "mfa", "false", MISSING, False),
    ("Null", "mfa", True, extra(mfa=[]), True),
    ("Null", "mfa", ["true", "false"], MISSING, True),
    ("Null", "aws:SourceIp", "true", MISSING, True),
    ("Null", "aws:SourceIp", "false", {"source_ip": "10.0.0.1"}, True),
    ("Null", "aws:PrincipalArn", "false", {}, True),
    # IfExists
    ("StringEqualsIfExists", "team", "blue", MISSING, True),
    ("StringEqualsIfExists", "team", "blue", extra(team="blue"), True),
    ("StringEqualsIfExists", "team", "blue", extra(team="red"), False),
    ("StringNotEqualsIfExists", "team", "blue", MISSING, True),
    ("StringNotEqualsIfExists", "team", "blue", extra(team="blue"), False),
    ("StringLikeIfExists", "team", "r*", extra(team="blue"), False),
    ("ArnLikeIfExists", "src", "arn:aws:iam::*:user/*", MISSING, True),
    ("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", MISSING, True),
    ("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", {"source_ip": "11.0.0.1"}, False),
    ("NumericLessThanIfExists", "n", "10", MISSING, True),
    ("NumericLessThanIfExists", "n", "10", extra(n="11"), False),
    ("DateLessThanIfExists", "created", "2023-01-01", MISSING, True),
    ("BoolIfExists", "mfa", "true", MISSING, True),
    ("BoolIfExists", "mfa", "true", extra(mfa="false"), False),
    # ForAnyValue / ForAllValues on a multi-valued key
    ("ForAnyValue:StringEquals", "tags", ["a", "b"], extra(tags=["b", "c"]), True),
    ("ForAnyValue:StringEquals", "tags", ["a", "b"], extra(tags=["c", "d"]), False),
    ("ForAnyValue:StringEquals", "tags", ["a", "b"], MISSING, False),
    ("ForAnyValue:StringEquals", "tags", ["a", "b"], extra(tags=[]), False),
    ("ForAnyValue:StringEqualsIfExists", "tags", ["a"], MISSING, True),
    ("ForAllValues:StringEquals", "tags", ["a", "b"], extra(tags=["b", "a"]), True),
    ("ForAllValues:StringEquals", "tags", ["a", "b"], extra(tags=["a", "c"]), False),
    ("ForAllValues:StringEquals", "tags", ["a", "b"], MISSING, True),
    ("ForAllValues:StringEquals", "tags", ["a", "b"], extra(tags=[]), True),
    ("ForAllValues:StringEquals", "tags", ["a", "b"], extra(tags="a"), True),
    ("ForAllValues:StringLike", "tags", "Created*", extra(tags=["CreatedBy", "CreatedAt"]), True),
    ("ForAllValues:StringLike", "tags", "Created*", extra(tags=["CreatedBy", "Owner"]), False),
    ("ForAnyValue:StringNotEquals", "tags", "a", extra(tags=["a", "b"]), True),
    ("ForAnyValue:StringNotEquals", "tags", "a", extra(tags=["a"]), False),
    ("ForAllValues:StringNotEquals", "tags", "a", extra(tags=["b", "c"]), True),
    ("ForAllValues:StringNotEquals", "tags", "a", extra(tags=["a", "b"]), False),
    ("ForAllValues:NumericLessThan", "ns", "10", extra(ns=["1", "9"]), True),
    ("ForAllValues:NumericLessThan", "ns", "10", extra(ns=["1", "19"]), False),
    ("ForAnyValue:IpAddress", "ips", "10.0.0.0/8", extra(ips=["192.0.2.1", "10.0.0.7"]), True),
    # a multi-valued key without a set prefix: positive = any value matches, negated = none matches
    ("StringEquals", "tags", "a", extra(tags=["a", "b"]), True),
    ("StringEquals", "tags", "z", extra(tags=["a", "b"]), False),
    ("StringNotEquals", "tags", "a", extra(tags=["a", "b"]), False),
    ("StringNotEquals", "tags", "z", extra(tags=["a", "b"]), True),
    # other built-in keys
    ("StringEquals", "aws:PrincipalAccount", ACCT, {}, True),
    ("StringEquals", "aws:PrincipalAccount", OTHER, {}, False),
    ("StringEquals", "aws:PrincipalType", "User", {}, True),
    ("StringEquals", "aws:PrincipalArn", ALICE, extra(**{"aws:PrincipalArn": BOB}), True),  # not spoofable
]


def _case_id(c: tuple[str, str, object, dict[str, Any], bool]) -> str:
    return f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}"


@pytest.mark.parametrize(
    ("op", "key", "value", "context", "expected"), CONDITION_CASES, ids=[_case_id(c) for c in CONDITION_CASES]
)
def test_condition_operator(
    op: str, key: str, value: object, context: dict[str, Any], expected: bool
) -> None:
    allowed = decide([stmt(Condition={op: {key: value}})], ctx(**context))
    assert allowed is (A if expected else N)


CALLER_KEY_CASES: list[tuple[str, str, str | None, object, bool]] = [
    ("ArnEquals", SESSION, None, ROLE, True),  # aws:PrincipalArn of a session is its role
    ("ArnEquals", SESSION, None, SESSION, False),
    ("ArnLike", SESSION, ROLE_WITH_PATH, f"arn:aws:iam::{ACCT}:role/team/*", True),
    ("ArnLike", SESSION, None, f"arn:aws:iam::{ACCT}:role/team/*", False),
    ("ArnEquals", ROOT, None, ROOT, True),
]


@pytest.mark.parametrize(("op", "caller", "role_arn", "value", "expected"), CALLER_KEY_CASES)
def test_principal_arn_key(op: str, caller: str, role_arn: str | None, value: object, expected: bool) -> None:
    s = stmt(Principal="*", Condition={op: {"aws:PrincipalArn": value}})
    assert decide([s], ctx(caller, role_arn=role_arn)) is (A if expected else N)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [(ROOT, "Account"), (ALICE, "User"), (SESSION, "AssumedRole"), (FED, "FederatedUser")],
)
def test_principal_type_key(caller: str, expected: str) -> None:
    s = stmt(Principal="*", Condition={"StringEquals": {"aws:PrincipalType": expected}})
    assert decide([s], ctx(caller)) is A
    other = stmt(Principal="*", Condition={"StringEquals": {"aws:PrincipalType": "Nobody"}})
    assert decide([other], ctx(caller)) is N


CONDITION_LOGIC_CASES: list[tuple[str, dict[str, Any], dict[str, Any], Decision]] = [
    (
        "operators AND: both hold",
        {"StringEquals": {"team": "blue"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"extra": {"team": "blue"}, "source_ip": "10.0.0.1"},
        A,
    ),
    (
        "operators AND: one fails",
        {"StringEquals": {"team": "blue"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"extra": {"team": "blue"}, "source_ip": "11.0.0.1"},
        N,
    ),
    (
        "keys AND: both hold",
        {"StringEquals": {"team": "blue", "env": "prod"}},
        extra(team="blue", env="prod"),
        A,
    ),
    (
        "keys AND: one fails",
        {"StringEquals": {"team": "blue", "env": "prod"}},
        extra(team="blue", env="dev"),
        N,
    ),
    ("values OR", {"StringEquals": {"env": ["dev", "prod"]}}, extra(env="dev"), A),
    ("empty Condition", {}, {}, A),
]


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [c[1:] for c in CONDITION_LOGIC_CASES],
    ids=[c[0] for c in CONDITION_LOGIC_CASES],
)
def test_condition_logic(condition: dict[str, Any], context: dict[str, Any], expected: Decision) -> None:
    assert decide([stmt(Condition=condition)], ctx(**context)) is expected


# ---------------------------------------------------------------------------------------------------------
# Evaluation logic


def test_explicit_deny_wins_over_allow() -> None:
    deny = stmt(Sid="DenyAll", Effect="Deny", Principal="*")
    result = evaluate([stmt(Sid="AllowAlice"), deny], ctx())
    assert result.decision is X
    assert result.statement_ids == ("DenyAll",)
    assert "DenyAll" in result.explanation
    assert not result.allowed


def test_deny_with_unmet_condition_does_not_deny() -> None:
    deny = stmt(
        Sid="DenyOutside",
        Effect="Deny",
        Principal="*",
        Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    )
    assert decide([stmt(), deny], ctx(source_ip="10.0.0.1")) is A
    assert decide([stmt(), deny], ctx(source_ip="192.0.2.1")) is X
    assert decide([stmt(), deny], ctx()) is X  # negated operator on a missing key is true


def test_allow_reports_all_allowing_statements_and_labels() -> None:
    result = evaluate([stmt(Sid="One"), stmt(), stmt(Sid="Three", Action="sso:*")], ctx())
    assert result.decision is A
    assert result.statement_ids == ("One", "Statement[1]")
    assert result.allowed


def test_implicit_deny_has_no_statement_ids() -> None:
    result = evaluate([stmt(Action="sso:*")], ctx())
    assert result == Evaluation(N, (), result.explanation)
    assert result.statement_ids == ()


@pytest.mark.parametrize("as_list", [False, True])
def test_statement_as_object_or_list(as_list: bool) -> None:
    s = stmt()
    document = {"Statement": [s] if as_list else s}
    policy = Policy.parse(document, kind="resource")
    assert policy.evaluate(ctx()).decision is A
    assert policy.evaluate(ctx(BOB)).decision is N
    assert policy.evaluate(ctx()).statement_ids == ("Statement[0]",)


@pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17", None])
def test_versions(version: str | None) -> None:
    document: dict[str, Any] = {"Statement": stmt()}
    if version is not None:
        document["Version"] = version
    assert Policy.parse(document, kind="resource").evaluate(ctx()).decision is A


IDENTITY_CASES: list[tuple[str, list[dict[str, Any]], RequestContext, Decision]] = [
    ("allow", [stmt(Principal=_DROP)], ctx(BOB), A),
    ("other action", [stmt(Principal=_DROP, Action="sso:*")], ctx(), N),
    (
        "deny wins",
        [stmt(Principal=_DROP), stmt(Principal=_DROP, Effect="Deny", Action="sso-oauth:*")],
        ctx(),
        X,
    ),
]


@pytest.mark.parametrize(
    ("statements", "context", "expected"), [c[1:] for c in IDENTITY_CASES], ids=[c[0] for c in IDENTITY_CASES]
)
def test_identity_policy(
    statements: list[dict[str, Any]], context: RequestContext, expected: Decision
) -> None:
    assert decide(statements, context, kind="identity") is expected


def _ev(decision: Decision, *ids: str) -> Evaluation:
    return Evaluation(decision, ids, f"{decision.value} {' '.join(ids)}")


COMBINE_CASES: list[tuple[str, tuple[Evaluation, ...], Decision, tuple[str, ...]]] = [
    ("single allow", (_ev(A, "r"),), A, ("r",)),
    ("both allow", (_ev(A, "r"), _ev(A, "i")), A, ("r", "i")),
    ("resource allows, identity silent", (_ev(A, "r"), _ev(N)), N, ()),
    ("identity allows, resource silent", (_ev(N), _ev(A, "i")), N, ()),
    ("both silent", (_ev(N), _ev(N)), N, ()),
    ("identity denies", (_ev(A, "r"), _ev(X, "d")), X, ("d",)),
    ("resource denies", (_ev(X, "d"), _ev(A, "i")), X, ("d",)),
    ("deny beats silence", (_ev(N), _ev(X, "d")), X, ("d",)),
    ("both deny", (_ev(X, "d1"), _ev(X, "d2")), X, ("d1", "d2")),
]


@pytest.mark.parametrize(
    ("evaluations", "expected", "ids"), [c[1:] for c in COMBINE_CASES], ids=[c[0] for c in COMBINE_CASES]
)
def test_combine(evaluations: tuple[Evaluation, ...], expected: Decision, ids: tuple[str, ...]) -> None:
    result = combine(*evaluations)
    assert result.decision is expected
    assert result.statement_ids == ids
    for e in evaluations:
        if e.decision is expected or (expected is N and e.decision is not A):
            assert e.explanation in result.explanation


def test_combine_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        combine()


def test_combine_with_real_policies() -> None:
    resource = Policy.parse(doc(stmt(Sid="R", Principal={"AWS": ACCT})), kind="resource")
    identity = Policy.parse(doc(stmt(Sid="I", Principal=_DROP, Action="sso-oauth:*")), kind="identity")
    assert combine(resource.evaluate(ctx()), identity.evaluate(ctx())).statement_ids == ("R", "I")
    narrow = Policy.parse(doc(stmt(Principal=_DROP, Action="sso:*")), kind="identity")
    result = combine(resource.evaluate(ctx()), narrow.evaluate(ctx()))
    assert result.decision is N
    assert "identity policy" in result.explanation


# ---------------------------------------------------------------------------------------------------------
# PolicyError


def _base() -> dict[str, Any]:
    return stmt()


ERROR_CASES: list[tuple[str, object, str, str]] = [
    ("not an object", "{}", "resource", ""),
    ("unknown top-level", {"Statement": _base(), "Foo": 1}, "resource", "Foo"),
    ("bad version", {"Version": "2020-01-01", "Statement": _base()}, "resource", "Version"),
    ("bad Id", {"Id": 5, "Statement": _base()}, "resource", "Id"),
    ("no statement", {"Version": "2012-10-17"}, "resource", "Statement"),
    ("empty statement list", {"Statement": []}, "resource", "Statement"),
    ("statement string", {"Statement": "x"}, "resource", "Statement"),
    ("statement item not object", {"Statement": [_base(), "x"]}, "resource", "Statement[1]"),
    ("object form path", {"Statement": stmt(Effect=_DROP)}, "resource", "Statement.Effect"),
    ("missing Effect", doc(stmt(Effect=_DROP)), "resource", "Statement[0].Effect"),
    ("lowercase Effect", doc(stmt(Effect="allow")), "resource", "Statement[0].Effect"),
    ("unknown element", doc(stmt(Foo=1)), "resource", "Statement[0].Foo"),
    ("Sid not string", doc(stmt(Sid=1)), "resource", "Statement[0].Sid"),
    ("duplicate Sid", doc(stmt(Sid="a"), stmt(Sid="a")), "resource", "Statement[1].Sid"),
    ("resource policy without principal", doc(stmt(Principal=_DROP)), "resource", "Statement[0]"),
    ("Principal and NotPrincipal", doc(stmt(NotPrincipal="*")), "resource", "Statement[0].NotPrincipal"),
    ("identity with Principal", doc(stmt()), "identity", "Statement[0].Principal"),
    (
        "identity with NotPrincipal",
        doc(stmt(Principal=_DROP, NotPrincipal="*")),
        "identity",
        "Statement[0].NotPrincipal",
    ),
    (
        "NotPrincipal with Allow",
        doc(stmt(Principal=_DROP, NotPrincipal="*")),
        "resource",
        "Statement[0].NotPrincipal",
    ),
    ("principal string", doc(stmt(Principal="alice")), "resource", "Statement[0].Principal"),
    ("principal empty object", doc(stmt(Principal={})), "resource", "Statement[0].Principal"),
    ("principal list", doc(stmt(Principal=[ALICE])), "resource", "Statement[0].Principal"),
    ("principal unknown type", doc(stmt(Principal={"Foo": "x"})), "resource", "Statement[0].Principal.Foo"),
    (
        "principal wildcard",
        doc(stmt(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/*"})),
        "resource",
        "Statement[0].Principal.AWS",
    ),
    (
        "principal wildcard ?",
        doc(stmt(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/al?ce"})),
        "resource",
        "Statement[0].Principal.AWS",
    ),
    (
        "principal wildcard account",
        doc(stmt(Principal={"AWS": [ALICE, "arn:aws:iam::*:root"]})),
        "resource",
        "Statement[0].Principal.AWS[1]",
    ),
    (
        "principal short account",
        doc(stmt(Principal={"AWS": "1111"})),
        "resource",
        "Statement[0].Principal.AWS",
    ),
    (
        "principal group",
        doc(stmt(Principal={"AWS": f"arn:aws:iam::{ACCT}:group/g"})),
        "resource",
        "Statement[0].Principal.AWS",
    ),
    (
        "principal bare session",
        doc(stmt(Principal={"AWS": f"arn:aws:sts::{ACCT}:assumed-role/R"})),
        "resource",
        "Statement[0].Principal.AWS",
    ),
    ("principal empty list", doc(stmt(Principal={"AWS": []})), "resource", "Statement[0].Principal.AWS"),
    ("principal number", doc(stmt(Principal={"AWS": 5})), "resource", "Statement[0].Principal.AWS"),
    (
        "principal list item number",
        doc(stmt(Principal={"AWS": [ALICE, 5]})),
        "resource",
        "Statement[0].Principal.AWS[1]",
    ),
    (
        "service wildcard",
        doc(stmt(Principal={"Service": "*.amazonaws.com"})),
        "resource",
        "Statement[0].Principal.Service",
    ),
    ("no action", doc(stmt(Action=_DROP)), "resource", "Statement[0]"),
    ("Action and NotAction", doc(stmt(NotAction="sso:*")), "resource", "Statement[0].NotAction"),
    ("empty Action list", doc(stmt(Action=[])), "resource", "Statement[0].Action"),
    ("Action item number", doc(stmt(Action=[ACTION, 3])), "resource", "Statement[0].Action[1]"),
    ("Action without service", doc(stmt(Action="CreateTokenWithIAM")), "resource", "Statement[0].Action"),
    ("Action object", doc(stmt(Action={"a": 1})), "resource", "Statement[0].Action"),
    ("no resource", doc(stmt(Resource=_DROP)), "resource", "Statement[0]"),
    ("Resource not ARN", doc(stmt(Resource="app")), "resource", "Statement[0].Resource"),
    ("Resource and NotResource", doc(stmt(NotResource="*")), "resource", "Statement[0].NotResource"),
    ("Condition not object", doc(stmt(Condition="x")), "resource", "Statement[0].Condition"),
    (
        "unknown operator",
        doc(stmt(Condition={"StringEqualz": {"k": "v"}})),
        "resource",
        "Statement[0].Condition.StringEqualz",
    ),
    (
        "unsupported operator",
        doc(stmt(Condition={"BinaryEquals": {"k": "dg=="}})),
        "resource",
        "Statement[0].Condition.BinaryEquals",
    ),
    (
        "unknown set prefix",
        doc(stmt(Condition={"ForSomeValues:StringEquals": {"k": "v"}})),
        "resource",
        "Statement[0].Condition.ForSomeValues:StringEquals",
    ),
    (
        "bare IfExists",
        doc(stmt(Condition={"IfExists": {"k": "v"}})),
        "resource",
        "Statement[0].Condition.IfExists",
    ),
    (
        "NullIfExists",
        doc(stmt(Condition={"NullIfExists": {"k": "true"}})),
        "resource",
        "Statement[0].Condition.NullIfExists",
    ),
    (
        "ForAnyValue:Null",
        doc(stmt(Condition={"ForAnyValue:Null": {"k": "true"}})),
        "resource",
        "Statement[0].Condition.ForAnyValue:Null",
    ),
    (
        "operator block empty",
        doc(stmt(Condition={"StringEquals": {}})),
        "resource",
        "Statement[0].Condition.StringEquals",
    ),
    (
        "operator block string",
        doc(stmt(Condition={"StringEquals": "x"})),
        "resource",
        "Statement[0].Condition.StringEquals",
    ),
    (
        "empty key",
        doc(stmt(Condition={"StringEquals": {"": "v"}})),
        "resource",
        "Statement[0].Condition.StringEquals.",
    ),
    (
        "empty value list",
        doc(stmt(Condition={"StringEquals": {"k": []}})),
        "resource",
        "Statement[0].Condition.StringEquals.k",
    ),
    (
        "value object",
        doc(stmt(Condition={"StringEquals": {"k": [{"a": 1}]}})),
        "resource",
        "Statement[0].Condition.StringEquals.k[0]",
    ),
    (
        "value null",
        doc(stmt(Condition={"StringEquals": {"k": None}})),
        "resource",
        "Statement[0].Condition.StringEquals.k",
    ),
    (
        "value nan",
        doc(stmt(Condition={"NumericEquals": {"k": float("nan")}})),
        "resource",
        "Statement[0].Condition.NumericEquals.k",
    ),
    (
        "bad IP",
        doc(_base(), stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}})),
        "resource",
        "Statement[1].Condition.IpAddress.aws:SourceIp",
    ),
    (
        "bad IP in list",
        doc(stmt(Condition={"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "x"]}})),
        "resource",
        "Statement[0].Condition.NotIpAddress.aws:SourceIp[1]",
    ),
    (
        "bad number",
        doc(stmt(Condition={"NumericLessThan": {"n": "ten"}})),
        "resource",
        "Statement[0].Condition.NumericLessThan.n",
    ),
    (
        "number inf",
        doc(stmt(Condition={"NumericLessThan": {"n": "1e999"}})),
        "resource",
        "Statement[0].Condition.NumericLessThan.n",
    ),
    (
        "bad date",
        doc(stmt(Condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}})),
        "resource",
        "Statement[0].Condition.DateLessThan.aws:CurrentTime",
    ),
    (
        "bad bool",
        doc(stmt(Condition={"Bool": {"mfa": "yes"}})),
        "resource",
        "Statement[0].Condition.Bool.mfa",
    ),
    (
        "bad null",
        doc(stmt(Condition={"Null": {"mfa": "maybe"}})),
        "resource",
        "Statement[0].Condition.Null.mfa",
    ),
    (
        "short ARN condition",
        doc(stmt(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam"}})),
        "resource",
        "Statement[0].Condition.ArnLike.aws:PrincipalArn",
    ),
]


@pytest.mark.parametrize(
    ("document", "kind", "path"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_policy_error_path(document: object, kind: str, path: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.parse(document, kind=kind)  # type: ignore[arg-type]
    assert info.value.path == path
    assert info.value.message
    assert str(info.value) == (f"{path}: {info.value.message}" if path else info.value.message)
    assert OTHER not in str(info.value)


def test_policy_error_is_value_error_and_bad_kind_is_not_policy_error() -> None:
    assert issubclass(PolicyError, ValueError)
    with pytest.raises(ValueError, match="kind") as info:
        Policy.parse(doc(stmt()), kind="session")  # type: ignore[arg-type]
    assert not isinstance(info.value, PolicyError)


def test_policy_repr_and_kind() -> None:
    policy = Policy.parse(doc(stmt(), stmt()), kind="resource")
    assert policy.kind == "resource"
    assert "statements=2" in repr(policy)


# ---------------------------------------------------------------------------------------------------------
# Explanations: say what is missing, never leak what the policy names


SECRETIVE = [
    stmt(
        Sid=f"Partner{OTHER}",
        Principal={"AWS": [OTHER_USER, OTHER_ROOT, f"arn:aws:iam::{OTHER}:role/Vendor"]},
    ),
    stmt(Sid="ForeignApps", Principal={"AWS": OTHER}, Resource=f"arn:aws:sso::{OTHER}:application/*"),
    stmt(
        Sid="Conditional",
        Principal={"AWS": ALICE},
        Condition={
            "ArnEquals": {f"aws:ResourceTag/arn:aws:iam::{OTHER}:root": OTHER_ROOT},
            "StringEquals": {f"tag{OTHER}": OTHER},
        },
    ),
    stmt(Sid="IdentityWide", Principal={"AWS": ACCT}, Action="identitystore:*", Resource="*"),
    stmt(
        Sid=f"Deny{OTHER}",
        Effect="Deny",
        Principal={"AWS": OTHER_ROOT},
        Action="*",
        Resource="*",
    ),
    stmt(
        Sid=f"DenyVia arn:aws:iam::{OTHER}:user/x",
        Effect="Deny",
        Principal="*",
        Action="*",
        Resource=f"arn:aws:sso::{ACCT}:application/blocked",
    ),
]


@pytest.mark.parametrize(
    ("context", "expected", "must_say"),
    [
        (ctx(BOB), N, "name other principals"),
        (ctx(BOB, action="identitystore:ListUsers"), A, "allowed"),
        (ctx(ALICE, resource=f"arn:aws:sso::{ACCT}:application/other"), N, "name other resources"),
        (ctx(ALICE), N, "key not present in the request"),
        (
            ctx(BOB, action="sso:ListInstances"),
            N,
            "no statement in the resource policy allows action sso:List",
        ),
        (ctx(ALICE, resource=f"arn:aws:sso::{ACCT}:application/blocked"), X, "explicitly denied"),
        (
            ctx(SESSION, action="identitystore:ListUsers", resource="arn:aws:identitystore::x:y/z"),
            A,
            "allowed",
        ),
    ],
)
def test_explanations_never_leak_policy_principals(
    context: RequestContext, expected: Decision, must_say: str
) -> None:
    result = evaluate(SECRETIVE, context)
    assert result.decision is expected
    assert must_say in result.explanation
    assert OTHER not in result.explanation
    for leaked in (OTHER_USER, OTHER_ROOT, "Vendor", "mallory"):
        assert leaked not in result.explanation
    assert context.action in result.explanation


def test_explanation_stages() -> None:
    only_bob = [stmt(Principal={"AWS": BOB})]
    assert "statements that name this action name other principals" in evaluate(only_bob, ctx()).explanation
    other_resource = [stmt(Resource=f"arn:aws:sso::{ACCT}:application/x")]
    text = evaluate(other_resource, ctx()).explanation
    assert "statements naming this action and principal name other resources" in text
    assert APP in text  # the request's own resource is fine to echo
    conditional = [stmt(Condition={"StringEquals": {"team": "blue"}})]
    assert "StringEquals on team (key not present in the request)" in evaluate(conditional, ctx()).explanation
    assert "StringEquals on team" in evaluate(conditional, ctx(extra={"team": "red"})).explanation
    identity = Policy.parse(
        doc(stmt(Principal=_DROP, Resource=f"arn:aws:sso::{ACCT}:application/x")), kind="identity"
    )
    text = identity.evaluate(ctx()).explanation
    assert "identity policy" in text
    assert "principal" not in text


# ---------------------------------------------------------------------------------------------------------
# Properties

_PRINCIPALS: list[object] = [
    "*",
    {"AWS": ALICE},
    {"AWS": ACCT},
    {"AWS": ROLE},
    {"AWS": OTHER_USER},
    {"AWS": [BOB, ROOT]},
]
_ACTIONS: list[object] = [ACTION, "sso-oauth:*", "sso:*", "*", ["sso:List*", "sso-oauth:Create*"]]
_RESOURCES: list[object] = [
    APP,
    "*",
    f"arn:aws:sso::{ACCT}:application/*",
    f"arn:aws:sso::{OTHER}:application/*",
]
_CONDITIONS: list[object] = [
    None,
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringEquals": {"team": "blue"}},
    {"StringNotEquals": {"team": "blue"}},
    {"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
    {"Null": {"team": "true"}},
    {"ForAllValues:StringLike": {"tags": "a*"}},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    eff = effect or draw(st.sampled_from(["Allow", "Deny"]))
    s: dict[str, Any] = {"Effect": eff}
    principal = draw(st.sampled_from(_PRINCIPALS))
    s["NotPrincipal" if eff == "Deny" and draw(st.booleans()) else "Principal"] = principal
    s["NotAction" if draw(st.booleans()) else "Action"] = draw(st.sampled_from(_ACTIONS))
    s["NotResource" if draw(st.booleans()) else "Resource"] = draw(st.sampled_from(_RESOURCES))
    condition = draw(st.sampled_from(_CONDITIONS))
    if condition is not None:
        s["Condition"] = condition
    return s


contexts = st.builds(
    RequestContext,
    principal_arn=st.sampled_from([ALICE, BOB, ROOT, SESSION, OTHER_USER, FED]),
    action=st.sampled_from([ACTION, "sso:ListInstances", "identitystore:ListUsers"]),
    resource=st.sampled_from([APP, f"arn:aws:sso::{OTHER}:application/x"]),
    source_ip=st.sampled_from([None, "10.1.1.1", "192.0.2.1"]),
    current_time=st.sampled_from([1.6e9, 1.8e9]),
    role_arn=st.none(),
    extra=st.sampled_from([{}, {"team": "blue"}, {"team": "red", "tags": ["ab", "b"]}, {"tags": ["ab"]}]),
)


def _with_sids(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**s, "Sid": f"S{i}"} for i, s in enumerate(raw)]


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=5), statements(effect="Deny"), contexts)
def test_property_matching_deny_never_leaves_allow(
    base: list[dict[str, Any]], deny: dict[str, Any], context: RequestContext
) -> None:
    deny_matches = decide([deny], context) is X
    combined = decide([*base, deny], context)
    if deny_matches:
        assert combined is X
    else:
        assert combined is decide(base, context)


@settings(max_examples=100, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=5), contexts)
def test_property_adding_always_matching_deny_denies(
    base: list[dict[str, Any]], context: RequestContext
) -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": context.action, "Resource": context.resource}
    assert decide([*base, deny], context) is X
    assert decide([deny, *base], context) is X


@settings(max_examples=150, deadline=None)
@given(st.data(), st.lists(statements(), min_size=1, max_size=6), contexts)
def test_property_statement_order_is_irrelevant(
    data: st.DataObject, raw: list[dict[str, Any]], context: RequestContext
) -> None:
    named = _with_sids(raw)
    shuffled = data.draw(st.permutations(named))
    first = evaluate(named, context)
    second = evaluate(shuffled, context)
    assert first.decision is second.decision
    assert sorted(first.statement_ids) == sorted(second.statement_ids)


_ALPHABET = "".join(c for c in string.printable if c != "[")
_GLOB_ALPHABET = "ab*?/:." + "Aé\n\\]"


@st.composite
def pattern_and_value(draw: st.DrawFn) -> tuple[str, str]:
    value = draw(st.text(alphabet=_ALPHABET, max_size=12))
    if draw(st.booleans()):  # derive the pattern from the value so that matches are common
        chars = list(value)
        for _ in range(draw(st.integers(0, 4))):
            pos = draw(st.integers(0, len(chars)))
            op = draw(st.sampled_from(["star", "qmark", "delete"]))
            if op == "star":
                chars.insert(pos, "*")
            elif chars and pos < len(chars):
                if op == "qmark":
                    chars[pos] = "?"
                else:
                    del chars[pos]
        return "".join(chars), value
    return draw(st.text(alphabet=_GLOB_ALPHABET, max_size=8)), draw(
        st.text(alphabet=_GLOB_ALPHABET, max_size=10)
    )


@settings(max_examples=300, deadline=None)
@given(pattern_and_value())
def test_property_wildcards_agree_with_fnmatchcase(pv: tuple[str, str]) -> None:
    pattern, value = pv
    assert wildcard_match(pattern, value) == fnmatch.fnmatchcase(value, pattern)
    assert wildcard_match(pattern, value, case_sensitive=False) == fnmatch.fnmatchcase(
        value.lower(), pattern.lower()
    )


@settings(max_examples=150, deadline=None)
@given(pattern_and_value())
def test_property_string_like_agrees_with_fnmatchcase(pv: tuple[str, str]) -> None:
    pattern, value = pv
    like = decide([stmt(Condition={"StringLike": {"k": pattern}})], ctx(extra={"k": value})) is A
    not_like = decide([stmt(Condition={"StringNotLike": {"k": pattern}})], ctx(extra={"k": value})) is A
    assert like == fnmatch.fnmatchcase(value, pattern)
    assert not_like != like


def test_wildcard_examples() -> None:
    assert wildcard_match("a*c", "abbbc")
    assert not wildcard_match("a?c", "ac")
    assert wildcard_match("a[b]", "a[b]")  # no character classes
    assert not wildcard_match("a[b]", "ab")
    assert wildcard_match("A*", "abc", case_sensitive=False)
    assert not wildcard_match("A*", "abc")
    assert wildcard_match("*", "")
    assert not wildcard_match("", "a")
