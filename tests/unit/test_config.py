"""The declarative configuration file: validated whole, errors name the field, identifiers are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ssoidc.config.apply import load_file, parse_file, resolve
from ssoidc.errors import ConfigError
from ssoidc.model import GRANT_JWT_BEARER, JwtBearerGrant

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ssoidc.yaml"


def test_documented_example_applies() -> None:
    config = resolve(load_file(EXAMPLE), None, "123456789012")
    apps = {a.name: a for a in config.applications}
    portal = apps["analytics-portal"]
    grant = portal.grants[GRANT_JWT_BEARER]
    assert isinstance(grant, JwtBearerGrant)
    assert grant.authorized_token_issuers[0].trusted_token_issuer_arn == config.trusted_token_issuers[0].arn
    assert portal.access_scopes[1].authorized_targets == (apps["reports-api"].arn,)
    assert {a.principal_type for a in config.assignments} == {"USER", "GROUP"}
    assert portal.arn.startswith(f"arn:aws:sso::123456789012:application/{config.instance.instance_id}/apl-")


def test_reapplying_keeps_identifiers() -> None:
    spec = load_file(EXAMPLE)
    first = resolve(spec, None, "123456789012")
    second = resolve(spec, first, "123456789012")
    assert first == second


def test_unknown_key_is_rejected_with_its_path() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["Applications"][0]["Grantz"] = {}
    with pytest.raises(ConfigError) as info:
        parse_file(yaml.safe_dump(doc))
    assert "Applications[0].Grantz" in info.value.message


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda d: d["Applications"][0]["AccessScopes"].append({"Scope": "bad scope!"}),
            "AccessScopes[2].Scope",
        ),
        (
            lambda d: d["TrustedTokenIssuers"][0]["TrustedTokenIssuerConfiguration"][
                "OidcJwtConfiguration"
            ].update(IssuerUrl="ftp://x"),
            "IssuerUrl",
        ),
        (lambda d: d["Applications"][0].update(Status="MAYBE"), "Applications[0].Status"),
        (lambda d: d["Users"][0].update(UserId="not-an-id"), "Users[0].UserId"),
    ],
)
def test_schema_errors_name_the_field(mutate: object, needle: str) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        parse_file(yaml.safe_dump(doc))
    assert needle in info.value.message


def test_all_reference_errors_are_reported_together() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    grant = doc["Applications"][0]["Grants"][GRANT_JWT_BEARER]["JwtBearer"]
    grant["AuthorizedTokenIssuers"][0]["TrustedTokenIssuerArn"] = "missing-idp"
    doc["Applications"][0]["Assignments"].append({"PrincipalType": "USER", "PrincipalId": "ghost"})
    doc["Groups"][0]["Members"].append("nobody")
    doc["Applications"][0]["AuthenticationMethods"]["IAM"]["Iam"]["ActorPolicy"]["Statement"][0]["Effect"] = (
        "Maybe"
    )
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012")
    msg = info.value.message
    assert "TrustedTokenIssuerArn: no trusted token issuer 'missing-idp'" in msg
    assert "Assignments[2].PrincipalId: no user 'ghost'" in msg
    assert "Groups[0].Members[1]: no user 'nobody'" in msg
    assert "ActorPolicy" in msg


def test_grant_union_must_match_its_key() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["Applications"][1]["Grants"]["urn:ietf:params:oauth:grant-type:token-exchange"] = {"RefreshToken": {}}
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012")
    assert "must set exactly the TokenExchange member" in info.value.message


def test_duplicate_names_are_rejected() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["Users"].append(dict(doc["Users"][0]))
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012")
    assert "Users[2]: duplicate name 'jdoe'" in info.value.message


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(ConfigError):
        parse_file("a: [b")
    with pytest.raises(ConfigError):
        parse_file("- 1\n- 2\n")
