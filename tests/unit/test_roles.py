"""IAM roles in the configuration file (docs/sts.md): schema, documents, ids kept, export round trip, storage."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssoidc.config.apply import parse_file, resolve
from ssoidc.config.export import export_configuration
from ssoidc.errors import ConfigError
from ssoidc.iam.policy import Policy, RequestContext
from ssoidc.iam.roles import session_policy_of

ACCOUNT = "123456789012"
T0 = 1_700_000_000.0
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/app"},
            "Action": "sts:AssumeRole",
        }
    ],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "identitystore:Describe*", "Resource": "*"}],
}


def doc(**role: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"RoleName": "reader", "AssumeRolePolicyDocument": json.dumps(TRUST)}
    return {"Instance": {"Name": "x"}, "Roles": [{**base, **role}]}


def load(d: dict[str, Any]) -> Any:
    return resolve(parse_file(yaml.safe_dump(d)), None, ACCOUNT, now=T0)


def test_a_role_gets_its_arn_id_and_defaults() -> None:
    config = load(doc(Path="/team/", Policies=[{"PolicyName": "read", "PolicyDocument": READ}]))
    (role,) = config.roles
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/team/reader"
    assert role.role_id.startswith("AROA") and len(role.role_id) == 21
    assert role.max_session_duration == 3600
    assert role.trust_policy == TRUST
    assert role.policies == {"read": READ}
    assert role.created_at == T0


def test_reapplying_keeps_the_role_id_and_creation_date() -> None:
    spec = parse_file(yaml.safe_dump(doc()))
    first = resolve(spec, None, ACCOUNT, now=T0)
    second = resolve(spec, first, ACCOUNT, now=T0 + 100)
    assert second.roles == first.roles


def test_export_reapplies_to_the_same_state() -> None:
    config = load(
        doc(
            Path="/a/b/",
            MaxSessionDuration=7200,
            Description="readers",
            Policies=[{"PolicyName": "read", "PolicyDocument": json.dumps(READ)}],
        )
    )
    text = export_configuration(config)
    again = resolve(parse_file(text), None, ACCOUNT, now=T0 + 5)
    assert again == config
    assert export_configuration(again) == text


@pytest.mark.parametrize(
    ("role", "needle"),
    [
        ({"AssumeRolePolicyDocument": '{"Version": "2012-10-17", "Version": "2012-10-17"}'}, "duplicate"),
        ({"AssumeRolePolicyDocument": "{not json"}, "not valid JSON"),
        (
            {"AssumeRolePolicyDocument": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}},
            "Roles[0].AssumeRolePolicyDocument.Statement",
        ),
        ({"MaxSessionDuration": 43201}, "MaxSessionDuration"),
        ({"MaxSessionDuration": 3599}, "MaxSessionDuration"),
        ({"RoleName": "bad name"}, "RoleName"),
        ({"Path": "team"}, "Path"),
        (
            {"Policies": [{"PolicyName": "p", "PolicyDocument": TRUST}]},
            "Roles[0].Policies[0].PolicyDocument.Statement[0].Principal",
        ),
        (
            {
                "Policies": [
                    {"PolicyName": "p", "PolicyDocument": READ},
                    {"PolicyName": "p", "PolicyDocument": READ},
                ]
            },
            "duplicate policy name",
        ),
    ],
)
def test_invalid_roles_are_refused_naming_the_field(role: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(doc(**role))
    assert needle in info.value.message


def test_role_names_are_unique_ignoring_case() -> None:
    d = doc()
    d["Roles"].append({**d["Roles"][0], "RoleName": "READER"})
    with pytest.raises(ConfigError, match="duplicate name"):
        load(d)


def test_session_policy_joins_the_inline_policies_and_denies_all_without_any() -> None:
    config = load(
        doc(
            Policies=[
                {"PolicyName": "read", "PolicyDocument": READ},
                {
                    "PolicyName": "deny",
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Sid": "Read",
                                "Effect": "Deny",
                                "Action": "identitystore:DescribeGroup",
                                "Resource": "*",
                            }
                        ]
                    },
                },
            ]
        )
    )
    joined = Policy.parse(session_policy_of(config.roles[0]), kind="identity")

    def allows(action: str) -> bool:
        ctx = RequestContext(
            principal_arn="arn:aws:sts::123456789012:assumed-role/reader/s", action=action, resource="*"
        )
        return joined.evaluate(ctx).allowed

    assert allows("identitystore:DescribeUser")
    assert not allows("identitystore:DescribeGroup")  # a deny of another policy wins
    assert not allows("sso:CreateApplication")
    bare = Policy.parse(session_policy_of(load(doc()).roles[0]), kind="identity")
    ctx = RequestContext(
        principal_arn="arn:aws:sts::1:assumed-role/r/s", action="sso-oauth:CreateTokenWithIAM", resource="*"
    )
    assert not bare.evaluate(ctx).allowed


@pytest.mark.parametrize("page", ["docs/configuration.md", "docs/sts.md"])
def test_the_documented_role_examples_apply(page: str) -> None:
    text = (Path(__file__).resolve().parents[2] / page).read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "Roles:" in b]
    assert blocks
    for block in blocks:
        config = resolve(parse_file("Instance: {Name: x}\n" + block), None, ACCOUNT, now=T0)
        assert config.roles[0].arn == f"arn:aws:iam::{ACCOUNT}:role/apps/report-reader"
        assert config.roles[0].policies
